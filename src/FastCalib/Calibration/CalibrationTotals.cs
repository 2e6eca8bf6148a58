namespace FastCalib;

/// <summary>
/// The numbers a calibration accumulator holds, and the report computed from them: per bin slot the count, the
/// correct count and the confidence sum in <see cref="ConfidenceUnits"/>; per threshold the count and correct count
/// at or above it; the totals of rows, correct rows and confidence units; and the exact sums of the scored rows'
/// float32 NLL and Brier terms (<see cref="ExactSum"/>). Everything is an integer and adds exactly, so no sum depends
/// on order: batches, threads, backends and machines give the same totals bit for bit.
/// </summary>
internal sealed class CalibrationTotals
{
    public CalibrationTotals(int slots, int thresholds)
    {
        Count = new long[slots];
        Correct = new long[slots];
        Units = new Int128[slots];
        AboveCount = new long[thresholds];
        AboveCorrect = new long[thresholds];
    }

    public long[] Count { get; }

    public long[] Correct { get; }

    public Int128[] Units { get; }

    public long[] AboveCount { get; }

    public long[] AboveCorrect { get; }

    public long Rows { get; set; }

    public long RowsCorrect { get; set; }

    public Int128 UnitsTotal { get; set; }

    public long Scored { get; set; }

    public ExactSum NegLogLikelihood { get; } = new();

    public ExactSum Brier { get; } = new();

    /// <summary>The bootstrap replicas' totals, when the accumulator keeps them.</summary>
    public ReplicaTotals? Replicas { get; set; }

    /// <summary>Adds everything <paramref name="other"/> holds (exact, in any order).</summary>
    public void Add(CalibrationTotals other)
    {
        for (int b = 0; b < Count.Length; b++)
        {
            Count[b] += other.Count[b];
            Correct[b] += other.Correct[b];
            Units[b] += other.Units[b];
        }
        for (int t = 0; t < AboveCount.Length; t++)
        {
            AboveCount[t] += other.AboveCount[t];
            AboveCorrect[t] += other.AboveCorrect[t];
        }
        Rows += other.Rows;
        RowsCorrect += other.RowsCorrect;
        UnitsTotal += other.UnitsTotal;
        Scored += other.Scored;
        NegLogLikelihood.Add(other.NegLogLikelihood);
        Brier.Add(other.Brier);
        if (other.Replicas is not null) Replicas!.Add(other.Replicas);
    }

    /// <summary>
    /// Σ_b w_b |acc_b − conf_b| (ECE), Σ_b w_b (acc_b − conf_b)² (RMS squared), the largest gap over non-empty bins
    /// (MCE, NaN if all are empty) and Kumar et al.'s correction Σ_b w_b acc_b (1 − acc_b) / (n_b − 1) over bins of
    /// more than one prediction, with w_b = n_b / <paramref name="n"/>; counts may be bootstrap weights.
    /// </summary>
    internal static (double L1, double L2, double Max, double Correction) BinnedErrors(ReadOnlySpan<long> count, ReadOnlySpan<long> correct, ReadOnlySpan<Int128> units, double n)
    {
        double l1 = 0, l2 = 0, correction = 0, max = double.NaN;
        for (int b = 0; b < count.Length; b++)
        {
            if (count[b] == 0) continue;
            double confidence = ConfidenceUnits.ToConfidence(units[b]) / count[b];
            double accuracy = (double)correct[b] / count[b];
            double gap = Math.Abs(accuracy - confidence);
            l1 += count[b] / n * gap;
            l2 += count[b] / n * gap * gap;
            // Kumar et al.'s debiasing term, an unbiased estimate of the variance of the bin's accuracy
            if (count[b] > 1) correction += count[b] / n * accuracy * (1 - accuracy) / (count[b] - 1);
            max = double.IsNaN(max) ? gap : Math.Max(max, gap);
        }
        return (l1, l2, max, correction);
    }

    /// <summary>The metrics and the reliability table (NaN where nothing was added).</summary>
    public CalibrationReport Report(int bins, IReadOnlyList<float> thresholds, float[]? edges = null)
    {
        double n = Rows;
        var table = new ReliabilityBin[Count.Length];
        for (int b = 0; b < table.Length; b++)
        {
            long count = Count[b];
            double confidence = count == 0 ? double.NaN : ConfidenceUnits.ToConfidence(Units[b]) / count;
            double accuracy = count == 0 ? double.NaN : (double)Correct[b] / count;
            double Edge(int k) => edges is null ? Binning.Edge(k, bins) : edges[k];
            double lower = Math.Min(1.0, Edge(b)), upper = b < bins ? Edge(b + 1) : 1.0;
            table[b] = new ReliabilityBin(lower, upper, count, confidence, accuracy);
        }
        var (l1, l2, max, correction) = BinnedErrors(Count, Correct, Units, n);
        var profile = new ConfidenceThreshold[thresholds.Count];
        for (int t = 0; t < profile.Length; t++)
        {
            long count = AboveCount[t];
            profile[t] = new ConfidenceThreshold(thresholds[t], count, count / n, count == 0 ? double.NaN : (double)AboveCorrect[t] / count);
        }
        bool empty = Rows == 0;
        return new CalibrationReport(
            Rows,
            empty ? double.NaN : RowsCorrect / n,
            empty ? double.NaN : ConfidenceUnits.ToConfidence(UnitsTotal) / n,
            empty ? double.NaN : l1,
            empty ? double.NaN : Math.Sqrt(l2),
            max,
            Scored == 0 ? double.NaN : NegLogLikelihood.ToDouble() / Scored,
            Scored == 0 ? double.NaN : Brier.ToDouble() / Scored,
            table,
            profile)
        {
            RmsceDebiased = empty ? double.NaN : Math.Sqrt(Math.Max(0, l2 - correction)),
        };
    }
}
