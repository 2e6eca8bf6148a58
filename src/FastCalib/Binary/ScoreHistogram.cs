using System.Runtime.Intrinsics;
using FastCalib.Kernels.Internals;

namespace FastCalib;

/// <summary>An AUROC estimated from histograms, and how far from the exact value it can be.</summary>
/// <param name="Auroc">The estimate: pairs in different bins ordered by their bins, pairs in one bin counted one half (NaN with one class only).</param>
/// <param name="ErrorBound">
/// The largest possible distance to the exact AUROC of the same scores (ties one half): (1/2) Σ_b pos_b · neg_b / (P · N),
/// half the share of (positive, negative) pairs that share a bin, since only those can be misordered. 0 when no bin
/// holds both classes.
/// </param>
/// <param name="Positives">Positives added.</param>
/// <param name="Negatives">Negatives added.</param>
public sealed record AurocEstimate(double Auroc, double ErrorBound, long Positives, long Negatives);

/// <summary>An average precision estimated from histograms, and how far from the exact value it can be.</summary>
/// <param name="AveragePrecision">
/// The estimate: scikit-learn's average precision of the scores with each bin's taken as tied (at its lower edge); 0
/// without positives, as the exact value is.
/// </param>
/// <param name="ErrorBound">
/// The largest possible distance to the exact average precision of the same scores (their own ties included). With
/// TP₀ positives and N₀ scores in the bins above, a bin of c positives and e negatives adds between
/// (1/P) Σ_{i=1..c} (TP₀ + i)/(N₀ + e + i) (its negatives first, no ties) and (1/P) c (TP₀ + c)/(N₀ + c) (its positives
/// first, tied): a positive's precision rises with the positives before it and falls with the scores before it. The
/// bound adds, per bin, the farther of the two from the estimate's term (1/P) c (TP₀ + c)/(N₀ + c + e).
/// </param>
/// <param name="Positives">Positives added.</param>
/// <param name="Negatives">Negatives added.</param>
public sealed record AveragePrecisionEstimate(double AveragePrecision, double ErrorBound, long Positives, long Negatives);

/// <summary>AURC and E-AURC estimated from histograms of confidence, and how far from the exact values they can be.</summary>
/// <param name="Count">Predictions.</param>
/// <param name="Errors">Wrong predictions among them.</param>
/// <param name="Aurc">The AURC with the predictions of one bin taken as ties (their order's expectation, as <see cref="SelectivePrediction"/> treats equal confidences).</param>
/// <param name="ExcessAurc">E-AURC: <paramref name="Aurc"/> minus the AURC of the oracle ranking (every correct prediction first) for the same counts.</param>
/// <param name="ErrorBound">
/// The largest possible distance of <paramref name="Aurc"/> (and of <paramref name="ExcessAurc"/>) to the exact values of the
/// same confidences: per bin, the farther of the orders that put its errors first or last (the exact order inside a bin
/// is one of those between them).
/// </param>
public sealed record SelectiveEstimate(long Count, long Errors, double Aurc, double ExcessAurc, double ErrorBound);

/// <summary>
/// A fine histogram of each class's scores in [0, 1] (probabilities of the positive class, or confidences with
/// correct as the positive class) for data too large to hold: filled batch by batch in any order and merged across
/// threads, processes or machines (exact integer counts, so any split gives the same result). From it, the AUROC
/// (<see cref="Auroc"/>), the average precision (<see cref="AveragePrecision"/>) and, for confidences, the
/// selective-prediction AURC and E-AURC (<see cref="Selective"/>), each with an error bound computed from the
/// histograms themselves; and the ROC and precision–recall curves and threshold choices at the bins' edges
/// (<see cref="Roc"/>, <see cref="PrecisionRecall"/>, <see cref="Thresholds"/>), which are exact for a threshold k/B
/// (predict positive when a score's bin is k or above). Bins are [k/B, (k + 1)/B), the last closed at 1.
/// </summary>
public sealed class ScoreHistogram
{
    private readonly long[] _positive;
    private readonly long[] _negative;

    /// <param name="bins">Histogram bins over [0, 1], 2 to 2^24 (default 2^16: 1 MB of counts).</param>
    public ScoreHistogram(int bins = 1 << 16)
    {
        if (bins < 2 || bins > 1 << 24)
            throw new ArgumentOutOfRangeException(nameof(bins), bins, $"ScoreHistogram: bins must be from 2 to {1 << 24}, got {bins}.");
        Bins = bins;
        _positive = new long[bins];
        _negative = new long[bins];
    }

    /// <summary>Histogram bins over [0, 1].</summary>
    public int Bins { get; }

    /// <summary>
    /// Adds scores with 0/1 labels (1 positive). Nothing is added if a score is outside [0, 1] (or NaN) or a label is
    /// not 0 or 1.
    /// </summary>
    public void Add(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, ComputeOptions options = default)
    {
        const string op = "ScoreHistogram.Add";
        Check.SameLength(op, nameof(labels), labels.Length, nameof(scores), scores.Length);
        int bad = Check.FirstOutside(scores, 0f, 1f);
        if (bad >= 0) throw new ArgumentException($"{op}: scores[{bad}] is {scores[bad]}; scores must be in [0, 1].", nameof(scores));
        bad = labels.IndexOfAnyExceptInRange(0, 1);
        if (bad >= 0) throw new ArgumentException($"{op}: labels[{bad}] is {labels[bad]}; binary labels must be 0 or 1.", nameof(labels));
        Fill(scores, labels, options);
    }

    /// <summary>Adds confidences with whether each prediction was correct (correct = positive): the AUROC of confidence for telling correct from wrong.</summary>
    public void Add(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct, ComputeOptions options = default)
    {
        var labels = new int[correct.Length];
        for (int i = 0; i < labels.Length; i++) labels[i] = correct[i] ? 1 : 0;
        Add(confidence, labels, options);
    }

    /// <summary>Adds the counts of <paramref name="other"/> (same bins).</summary>
    public void Merge(ScoreHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Bins != Bins)
            throw new ArgumentException($"ScoreHistogram.Merge: the other histogram has {other.Bins} bins, this one {Bins}.", nameof(other));
        for (int b = 0; b < Bins; b++)
        {
            _positive[b] += other._positive[b];
            _negative[b] += other._negative[b];
        }
    }

    /// <summary>The AUROC estimate and its bound from everything added so far.</summary>
    public AurocEstimate Auroc()
    {
        // walking up the bins: a positive in bin b outranks every negative below b and ties those in b
        double ordered = 0, tied = 0;
        long positives = 0, negativesBelow = 0;
        for (int b = 0; b < Bins; b++)
        {
            ordered += (double)_positive[b] * negativesBelow;
            tied += (double)_positive[b] * _negative[b];
            negativesBelow += _negative[b];
            positives += _positive[b];
        }
        long negatives = negativesBelow;
        double pairs = (double)positives * negatives;
        return pairs == 0
            ? new AurocEstimate(double.NaN, double.NaN, positives, negatives)
            : new AurocEstimate((ordered + tied / 2) / pairs, tied / 2 / pairs, positives, negatives);
    }

    /// <summary>The average precision estimate and its bound from everything added so far.</summary>
    public AveragePrecisionEstimate AveragePrecision()
    {
        long positives = 0, negatives = 0;
        for (int b = 0; b < Bins; b++)
        {
            positives += _positive[b];
            negatives += _negative[b];
        }
        if (positives == 0) return new AveragePrecisionEstimate(0, 0, 0, negatives);
        double estimate = 0, bound = 0;
        long truePositivesAbove = 0, above = 0;
        for (int b = Bins - 1; b >= 0; b--)
        {
            long c = _positive[b], e = _negative[b];
            if (c > 0)
            {
                double term = (double)c * (truePositivesAbove + c) / (above + c + e);
                double highest = (double)c * (truePositivesAbove + c) / (above + c);
                // Σ_{i=1..c} (TP₀ + i)/(N₀ + e + i) = c − (N₀ + e − TP₀) Σ_{i=1..c} 1/(N₀ + e + i)
                double lowest = c - (above + e - truePositivesAbove) * Reciprocals(above + e, 1, c);
                estimate += term;
                bound += Math.Max(highest - term, term - lowest);
            }
            truePositivesAbove += c;
            above += c + e;
        }
        return new AveragePrecisionEstimate(estimate / positives, Math.Max(0, bound) / positives, positives, negatives);
    }

    /// <summary>The ROC curve at the bins' lower edges k/B (scikit-learn's roc_curve of the scores each moved down to its bin's edge).</summary>
    public RocCurve Roc(bool dropIntermediate = true) => BinaryCurves.Roc(EdgeCounts(), dropIntermediate);

    /// <summary>The precision–recall curve at the bins' lower edges (as <see cref="Roc"/>).</summary>
    public PrecisionRecallCurve PrecisionRecall() => BinaryCurves.PrecisionRecall(EdgeCounts());

    /// <summary>
    /// <see cref="BinaryCurves.Thresholds(ReadOnlySpan{float}, ReadOnlySpan{int}, double?, double?)"/> at the bins' lower edges: each operating point is exact for its threshold
    /// k/B, the choices are the best among the edges, and the AUROC and average precision are the estimates of
    /// <see cref="Auroc"/> and <see cref="AveragePrecision"/> (whose bounds say how far the exact values can be).
    /// </summary>
    public BinaryThresholds Thresholds(double? targetPrecision = null, double? targetRecall = null)
    {
        BinaryCurves.CheckTargets("ScoreHistogram.Thresholds", targetPrecision, targetRecall);
        var counts = EdgeCounts();
        return BinaryCurves.Thresholds(counts, counts.Positives + counts.Negatives, targetPrecision, targetRecall);
    }

    /// <summary>TP and FP at the lower edge of every non-empty bin, highest first.</summary>
    private BinaryCurves.Counts EdgeCounts()
    {
        var thresholds = new List<double>();
        var tp = new List<long>();
        var fp = new List<long>();
        long truePositives = 0, falsePositives = 0;
        for (int b = Bins - 1; b >= 0; b--)
        {
            if (_positive[b] + _negative[b] == 0) continue;
            truePositives += _positive[b];
            falsePositives += _negative[b];
            thresholds.Add((double)b / Bins);
            tp.Add(truePositives);
            fp.Add(falsePositives);
        }
        return new BinaryCurves.Counts(thresholds.ToArray(), tp.ToArray(), fp.ToArray());
    }

    /// <summary>
    /// The AURC and E-AURC of confidences added with <see cref="Add(ReadOnlySpan{float}, ReadOnlySpan{bool}, ComputeOptions)"/>
    /// (positives are the correct predictions), most confident bin first, and their bound. All NaN for no predictions.
    /// </summary>
    public SelectiveEstimate Selective()
    {
        long right = 0, errors = 0;
        for (int b = 0; b < Bins; b++)
        {
            right += _positive[b];
            errors += _negative[b];
        }
        long n = right + errors;
        if (n == 0) return new SelectiveEstimate(0, 0, double.NaN, double.NaN, double.NaN);
        // Σ_k risk(k): the bin's t-th prediction (t = 1..m) has risk (E + errors among the bin's first t) / (K + t), with K
        // kept and E errors above the bin; the estimate takes t·e/m errors, the bounds min(t, e) and max(0, t − c)
        double estimate = 0, bound = 0;
        long kept = 0, wrongAbove = 0;
        for (int b = Bins - 1; b >= 0; b--)
        {
            long c = _positive[b], e = _negative[b], m = c + e;
            if (m == 0) continue;
            double all = Reciprocals(kept, 1, m);
            double expected = wrongAbove * all + (double)e / m * Weighted(kept, 1, m);
            double errorsFirst = wrongAbove * all + Weighted(kept, 1, e) + e * Reciprocals(kept, e + 1, m);
            double errorsLast = wrongAbove * all + Weighted(kept, c + 1, m) - c * Reciprocals(kept, c + 1, m);
            estimate += expected;
            bound += Math.Max(errorsFirst - expected, expected - errorsLast);
            kept += m;
            wrongAbove += e;
        }
        // the oracle ranks every correct prediction first: Σ_{k > right} (k − right) / k
        double oracle = (n - right) - right * Reciprocals(0, right + 1, n);
        double aurc = estimate / n;
        return new SelectiveEstimate(n, errors, aurc, aurc - oracle / n, Math.Max(0, bound) / n);
    }

    /// <summary>Σ_{t=a..b} 1/(K + t) (0 when a > b), from harmonic numbers.</summary>
    private static double Reciprocals(long k, long a, long b) => a > b ? 0 : Harmonic(k + b) - Harmonic(k + a - 1);

    /// <summary>Σ_{t=a..b} t/(K + t) = (b − a + 1) − K Σ 1/(K + t).</summary>
    private static double Weighted(long k, long a, long b) => a > b ? 0 : (b - a + 1) - k * Reciprocals(k, a, b);

    /// <summary>H(n) = Σ_{i=1..n} 1/i: summed below 64, else ln n + γ + 1/(2n) − 1/(12n²) + 1/(120n⁴) (error below 1/(252 n⁶)).</summary>
    private static double Harmonic(long n)
    {
        if (n < 64)
        {
            double h = 0;
            for (long i = n; i >= 1; i--) h += 1.0 / i;
            return h;
        }
        double x = n, inverse = 1 / (x * x);
        return Math.Log(x) + 0.57721566490153286 + 1 / (2 * x) - inverse * (1.0 / 12 - inverse / 120);
    }

    /// <summary>
    /// The bin of a score in [0, 1]: floor(s · B) with 1 in the last bin. Monotone in s (a correctly rounded product
    /// by a positive constant, then the floor), which is all the error bounds need; the vector form in
    /// <see cref="Count"/> computes the same.
    /// </summary>
    private static int BinOf(float score, int bins) => Math.Min((int)(score * bins), bins - 1);

    /// <summary>Counts scores [range) into a table of both classes: slots computed 8 at a time in vector code, then incremented.</summary>
    private static unsafe void Count(float* scores, int* labels, RowRange range, int bins, int[] counts)
    {
        int* slots = stackalloc int[8];
        var scale = Vector256.Create((float)bins);
        var last = Vector256.Create(bins - 1);
        var width = Vector256.Create(bins);
        long i = range.Start;
        fixed (int* c = counts)
        {
            for (; i + 8 <= range.End; i += 8)
            {
                var bin = Vector256.Min(Vector256.ConvertToInt32(Vector256.Load(scores + i) * scale), last);
                (bin + Vector256.Load(labels + i) * width).Store(slots);
                c[slots[0]]++; c[slots[1]]++; c[slots[2]]++; c[slots[3]]++;
                c[slots[4]]++; c[slots[5]]++; c[slots[6]]++; c[slots[7]]++;
            }
            for (; i < range.End; i++) c[labels[i] * bins + BinOf(scores[i], bins)]++;
        }
    }

    private unsafe void Fill(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, ComputeOptions options)
    {
        int bins = Bins;
        int threads = options.ResolveThreads();
        if (scores.Length < 4L * bins)
        {
            // a small batch (a training step's): straight into the totals, no per-thread tables to clear and merge
            for (int i = 0; i < scores.Length; i++)
            {
                int bin = BinOf(scores[i], bins);
                if (labels[i] == 1) _positive[bin]++;
                else _negative[bin]++;
            }
            return;
        }
        fixed (float* s = scores)
        fixed (int* y = labels)
        {
            float* ps = s;
            int* py = y;
            // per thread one table of both classes side by side (label · bins + bin), merged in any order (integer
            // counts); int32 counts, half the cache of long ones, cannot overflow within one call (a span holds fewer
            // than 2^31 scores)
            CpuRows.ForEachChunk(scores.Length, 1, threads, () => new int[2 * bins],
                (_, range, counts) => Count(ps, py, range, bins, counts),
                counts =>
                {
                    lock (_positive)
                        for (int b = 0; b < bins; b++)
                        {
                            _negative[b] += counts[b];
                            _positive[b] += counts[bins + b];
                        }
                });
        }
    }
}
