namespace FastCalib;

/// <summary>
/// Bootstrap intervals for an accumulator: <paramref name="Replicas"/> Poisson(1) resamples of the rows (Chamandy et
/// al. 2012, "Estimating uncertainty for massive data streams"), each row weighted in each replica by a count drawn
/// from a counter-based generator keyed by (<paramref name="Seed"/>, the row's index, the replica), so the intervals
/// do not depend on batch sizes, threads, backends or merge order.
/// </summary>
/// <param name="Replicas">Resamples, 1 to 10,000 (100 to 1,000 are common).</param>
/// <param name="Seed">Seed of the weights; the same seed and row indices give the same replicas everywhere.</param>
public sealed record BootstrapOptions(int Replicas = 100, ulong Seed = 0)
{
    /// <summary>The most replicas an accumulator takes.</summary>
    public const int MaxReplicas = 10_000;
}

/// <summary>A two-sided interval; NaN ends where no replica defines the quantity.</summary>
public readonly record struct Interval(double Low, double High);

/// <summary>Percentile bootstrap intervals of a report's numbers (see <see cref="CalibrationAccumulator.BootstrapIntervals"/>).</summary>
/// <param name="Level">Coverage of each interval (0.95: the 2.5% and 97.5% percentiles of the replicas).</param>
/// <param name="Replicas">Resamples.</param>
/// <param name="Ece">ECE.</param>
/// <param name="Mce">MCE.</param>
/// <param name="Rmsce">RMS calibration error.</param>
/// <param name="RmsceDebiased">Debiased RMS calibration error.</param>
/// <param name="Accuracy">Accuracy.</param>
/// <param name="MeanConfidence">Mean confidence.</param>
/// <param name="NegativeLogLikelihood">Mean NLL (NaN if only confidences were added).</param>
/// <param name="Brier">Mean Brier score (NaN if only confidences were added).</param>
/// <param name="BinAccuracy">Per bin slot of the report's table, the accuracy's interval (over the replicas in which the bin is not empty).</param>
/// <param name="ThresholdCoverage">Per threshold of the report's profile (in its order), the interval of the share of predictions at or above it.</param>
/// <param name="ThresholdAccuracy">Per threshold, the interval of the accuracy of the predictions at or above it.</param>
public sealed record BootstrapReport(double Level, int Replicas, Interval Ece, Interval Mce, Interval Rmsce, Interval RmsceDebiased,
    Interval Accuracy, Interval MeanConfidence, Interval NegativeLogLikelihood, Interval Brier, IReadOnlyList<Interval> BinAccuracy,
    IReadOnlyList<Interval> ThresholdCoverage, IReadOnlyList<Interval> ThresholdAccuracy);

/// <summary>
/// The bootstrap weights: w = F⁻¹(u) for Poisson(1), u a 32-bit hash of the row and the replica. The row's 64-bit key
/// is SplitMix64 of seed + (row + 1)·φ (φ = 0x9E3779B97F4A7C15, Steele et al. 2014); each replica has a 32-bit key
/// from SplitMix64 of the seed and its index; u = h((low32(row key) xor replica key) + high32(row key)) with h the
/// "lowbias32" integer hash (shift-xor-multiply: x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b;
/// x ^= x >> 16). F⁻¹ compares the top 31 bits of u with 2^31 · P(X ≤ k) for k = 0..8, so weights run from 0 to 9
/// (the tail beyond, probability 1.1e-7, is folded into 9).
/// </summary>
internal static class PoissonWeights
{
    public const int MaxWeight = 9;

    /// <summary>2^31 · P(X ≤ k) for k = 0..8, rounded: the weight is the number of these u / 2 reaches.</summary>
    public static readonly uint[] Thresholds = MakeThresholds();

    private static uint[] MakeThresholds()
    {
        var t = new uint[MaxWeight];
        double cdf = 0, term = Math.Exp(-1);
        for (int k = 0; k < MaxWeight; k++)
        {
            cdf += term;
            term /= k + 1;
            t[k] = (uint)Math.Min(int.MaxValue, Math.Round(cdf * 2147483648.0));
        }
        return t;
    }

    public static ulong SplitMix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static uint Hash32(uint x)
    {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        return x ^ (x >> 16);
    }

    public static ulong RowKey(ulong seed, long row) => SplitMix64(seed + (ulong)(row + 1) * 0x9E3779B97F4A7C15UL);

    public static uint ReplicaKey(ulong seed, int replica) => (uint)SplitMix64((seed ^ 0xD1B54A32D192ED03UL) + (ulong)(replica + 1) * 0x9E3779B97F4A7C15UL);

    /// <summary>The weight of a row (by its key) in a replica (by its key).</summary>
    public static int Of(ulong rowKey, uint replicaKey)
    {
        uint u = Hash32(((uint)rowKey ^ replicaKey) + (uint)(rowKey >> 32));
        int w = 0;
        foreach (uint t in Thresholds) w += u >> 1 >= t ? 1 : 0;
        return w;
    }
}

/// <summary>
/// Per replica, the weighted totals an accumulator keeps (as <see cref="CalibrationTotals"/> keeps them for the
/// rows themselves): per bin slot, and one more slot for rows in no bin, the weight, correct weight and confidence
/// units; per threshold tier (how many of the sorted thresholds a confidence reaches) the weight and correct weight,
/// from which the profile's coverage and accuracy follow; the weight of scored rows and the exact weighted NLL and
/// Brier sums. Integers throughout, so replicas merge exactly. Laid out slot-major with the replicas of a slot side by
/// side (<see cref="Stride"/> of them, padded).
/// </summary>
internal sealed class ReplicaTotals
{
    public ReplicaTotals(int slots, BootstrapOptions options, int stride, int thresholds = 0)
    {
        Tiers = thresholds + 1;
        TierCount = new long[Tiers * stride];
        TierCorrect = new long[Tiers * stride];
        Options = options;
        Slots = slots;
        Stride = stride;
        Count = new long[(slots + 1) * stride];
        Correct = new long[(slots + 1) * stride];
        Units = new Int128[(slots + 1) * stride];
        ScoredWeight = new long[stride];
        NegLogLikelihood = Enumerable.Range(0, options.Replicas).Select(_ => new ExactSum()).ToArray();
        Brier = Enumerable.Range(0, options.Replicas).Select(_ => new ExactSum()).ToArray();
    }

    public BootstrapOptions Options { get; }

    /// <summary>Bin slots (the no-bin slot comes after them).</summary>
    public int Slots { get; }

    public int Stride { get; }

    public long[] Count { get; }

    public long[] Correct { get; }

    public Int128[] Units { get; }

    public long[] ScoredWeight { get; }

    /// <summary>Threshold tiers: 0 below every threshold, k at or above the k smallest.</summary>
    public int Tiers { get; }

    public long[] TierCount { get; }

    public long[] TierCorrect { get; }

    public ExactSum[] NegLogLikelihood { get; }

    public ExactSum[] Brier { get; }

    public void Add(ReplicaTotals other)
    {
        for (int i = 0; i < Count.Length; i++)
        {
            Count[i] += other.Count[i];
            Correct[i] += other.Correct[i];
            Units[i] += other.Units[i];
        }
        for (int r = 0; r < Stride; r++) ScoredWeight[r] += other.ScoredWeight[r];
        for (int i = 0; i < TierCount.Length; i++)
        {
            TierCount[i] += other.TierCount[i];
            TierCorrect[i] += other.TierCorrect[i];
        }
        for (int r = 0; r < Options.Replicas; r++)
        {
            NegLogLikelihood[r].Add(other.NegLogLikelihood[r]);
            Brier[r].Add(other.Brier[r]);
        }
    }

    /// <summary>Percentile intervals at <paramref name="level"/> of every number the replicas define.</summary>
    /// <remarks><paramref name="thresholds"/> are the profile's, in the accumulator's order (tiers count them sorted);
    /// <paramref name="bins"/> is the accumulator's bin count.</remarks>
    public BootstrapReport Intervals(double level, int bins, float[] thresholds)
    {
        int b = Options.Replicas;
        var ece = new double[b];
        var mce = new double[b];
        var rms = new double[b];
        var debiased = new double[b];
        var accuracy = new double[b];
        var confidence = new double[b];
        var nll = new double[b];
        var brier = new double[b];
        var binAccuracy = new double[Slots][];
        for (int s = 0; s < Slots; s++) binAccuracy[s] = new double[b];
        var count = new long[Slots];
        var correct = new long[Slots];
        var units = new Int128[Slots];
        for (int r = 0; r < b; r++)
        {
            long weight = Count[Slots * Stride + r], right = Correct[Slots * Stride + r];
            Int128 unitsTotal = Units[Slots * Stride + r];
            for (int s = 0; s < Slots; s++)
            {
                count[s] = Count[s * Stride + r];
                correct[s] = Correct[s * Stride + r];
                units[s] = Units[s * Stride + r];
                weight += count[s];
                right += correct[s];
                unitsTotal += units[s];
                binAccuracy[s][r] = count[s] == 0 ? double.NaN : (double)correct[s] / count[s];
            }
            var e = CalibrationTotals.BinnedErrors(count, correct, units, weight);
            bool empty = weight == 0;
            ece[r] = empty ? double.NaN : e.L1;
            mce[r] = e.Max;
            rms[r] = empty ? double.NaN : Math.Sqrt(e.L2);
            debiased[r] = empty ? double.NaN : Math.Sqrt(Math.Max(0, e.L2 - e.Correction));
            accuracy[r] = empty ? double.NaN : (double)right / weight;
            confidence[r] = empty ? double.NaN : ConfidenceUnits.ToConfidence(unitsTotal) / weight;
            nll[r] = ScoredWeight[r] == 0 ? double.NaN : NegLogLikelihood[r].ToDouble() / ScoredWeight[r];
            brier[r] = ScoredWeight[r] == 0 ? double.NaN : Brier[r].ToDouble() / ScoredWeight[r];
        }
        // threshold t_j (in sorted position p): the rows of tiers above p
        var sorted = thresholds.Order().ToArray();
        var coverage = new double[thresholds.Length][];
        var aboveAccuracy = new double[thresholds.Length][];
        for (int j = 0; j < thresholds.Length; j++)
        {
            int position = Array.IndexOf(sorted, thresholds[j]);
            coverage[j] = new double[b];
            aboveAccuracy[j] = new double[b];
            for (int r = 0; r < b; r++)
            {
                long all = 0, above = 0, right = 0;
                for (int t = 0; t < Tiers; t++)
                {
                    all += TierCount[t * Stride + r];
                    if (t <= position) continue;
                    above += TierCount[t * Stride + r];
                    right += TierCorrect[t * Stride + r];
                }
                coverage[j][r] = all == 0 ? double.NaN : (double)above / all;
                aboveAccuracy[j][r] = above == 0 ? double.NaN : (double)right / above;
            }
        }
        Interval Of(double[] values) => Percentiles(values, level);
        return new BootstrapReport(level, b, Of(ece), Of(mce), Of(rms), Of(debiased), Of(accuracy), Of(confidence), Of(nll), Of(brier),
            binAccuracy.Select(Of).ToArray(), coverage.Select(Of).ToArray(), aboveAccuracy.Select(Of).ToArray());
    }

    /// <summary>The (1 − level)/2 and (1 + level)/2 quantiles of the defined values, linearly interpolated (NumPy's default).</summary>
    internal static Interval Percentiles(double[] values, double level)
    {
        var defined = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (defined.Length == 0) return new Interval(double.NaN, double.NaN);
        double Quantile(double q)
        {
            double at = q * (defined.Length - 1);
            int low = (int)Math.Floor(at);
            int high = Math.Min(low + 1, defined.Length - 1);
            return defined[low] + (at - low) * (defined[high] - defined[low]);
        }
        return new Interval(Quantile((1 - level) / 2), Quantile((1 + level) / 2));
    }
}
