using System.Runtime.Intrinsics;
using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Streaming calibration statistics as a value: feed it batches (probabilities, logits, or confidence/correct pairs),
/// merge accumulators filled on other threads, devices or machines, and read the binned calibration errors
/// (ECE, RMS, MCE), the reliability table, accuracy, NLL, Brier score and the overconfidence profile from
/// <see cref="Report"/>. Memory is fixed: a few numbers per bin.
/// </summary>
/// <remarks>
/// <para>Counts are exact 64-bit integers and confidence sums are exact fixed-point integers (units of 2^-40; confidences
/// of at least 2^-17 are represented exactly, smaller ones rounded to the nearest 2^-40), so the binned metrics do not
/// depend on how the data was split into batches, threads or machines, and equal a float64 evaluation of the textbook
/// formulas to float64 rounding at any N (no float32 accumulation, no 2^24 limit per bin).
/// NLL and Brier sums are float64 sums of per-row float32 terms.</para>
/// <para>Bins are equal-width on [0, 1]; <see cref="BinningRule"/> chooses which bin an edge value belongs to.
/// Norms follow torchmetrics: ECE = Σ_b w_b |acc_b − conf_b|, RMS = sqrt(Σ_b w_b (acc_b − conf_b)²),
/// MCE = max over non-empty bins of |acc_b − conf_b|, with w_b = count_b / N.</para>
/// <para>Not thread-safe for concurrent Add calls on one instance (each call itself runs on many threads); use one
/// accumulator per producer and <see cref="Merge"/>.</para>
/// </remarks>
public sealed unsafe class CalibrationAccumulator
{
    /// <summary>2^40: fixed-point units per unit of confidence.</summary>
    private const double FixedOne = 1099511627776.0;

    /// <summary>Rows handed to one per-row kernel call inside a chunk (its outputs stay in L1).</summary>
    private const int Block = 1024;

    private readonly long[] _count;
    private readonly long[] _correct;
    private readonly Int128[] _confidence;
    private readonly long[] _thresholdCount;
    private readonly long[] _thresholdCorrect;
    private readonly float[] _thresholds;
    private long _rows;
    private long _rowsCorrect;
    private Int128 _confidenceTotal;
    private long _scored;
    private double _negLogLikelihood;
    private double _brier;

    /// <summary>Creates an empty accumulator.</summary>
    /// <param name="bins">Number of equal-width bins on [0, 1], at least 1 (10, 15 and 20 are common).</param>
    /// <param name="rule">Which bin an edge value belongs to; torchmetrics' assignment by default.</param>
    /// <param name="thresholds">Confidence thresholds for the overconfidence profile (default 0.8 and 0.95): for each,
    /// the share of predictions with confidence ≥ it and their accuracy.</param>
    public CalibrationAccumulator(int bins = 15, BinningRule rule = BinningRule.TorchMetrics, IEnumerable<float>? thresholds = null)
    {
        if (bins < 1)
            throw new ArgumentOutOfRangeException(nameof(bins), bins, $"CalibrationAccumulator: bins must be at least 1, got {bins}.");
        if (!Enum.IsDefined(rule))
            throw new ArgumentOutOfRangeException(nameof(rule), rule, "CalibrationAccumulator: unknown binning rule.");
        _thresholds = (thresholds ?? [0.8f, 0.95f]).ToArray();
        foreach (float t in _thresholds)
            if (!(t >= 0 && t <= 1))
                throw new ArgumentOutOfRangeException(nameof(thresholds), t, $"CalibrationAccumulator: thresholds must be in [0, 1], got {t}.");
        Bins = bins;
        Rule = rule;
        int slots = Binning.Slots(bins, rule);
        _count = new long[slots];
        _correct = new long[slots];
        _confidence = new Int128[slots];
        _thresholdCount = new long[_thresholds.Length];
        _thresholdCorrect = new long[_thresholds.Length];
    }

    /// <summary>Number of equal-width bins.</summary>
    public int Bins { get; }

    /// <summary>The binning convention.</summary>
    public BinningRule Rule { get; }

    /// <summary>The overconfidence-profile thresholds.</summary>
    public IReadOnlyList<float> Thresholds => _thresholds;

    /// <summary>Predictions seen so far.</summary>
    public long Count => _rows;

    /// <summary>
    /// Adds top-label statistics of probability rows [rows, classes] with integer labels: confidence = max p,
    /// correct = (first argmax == label), plus the rows' NLL (−ln p[label]) and Brier score (Σ_j (p_j − [j = label])²).
    /// </summary>
    /// <remarks>Rows need not sum to 1 and are not renormalised. A row whose maximum is NaN or outside [0, 1], or whose
    /// label's probability is negative or NaN, is rejected with an error naming it (nothing is added then).
    /// A zero probability on the label gives NLL +∞ (use <see cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/> to avoid underflow).</remarks>
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default)
    {
        const string op = "CalibrationAccumulator.AddProbabilities";
        long rows = CheckRows(op, nameof(probabilities), probabilities.Length, labels, classes);
        if (rows == 0) return;
        fixed (float* p = probabilities)
        fixed (int* y = labels)
        {
            float* pp = p;
            int* yy = y;
            AddComputed(op, rows, classes, options,
                (range, width, o) => width < 0
                    ? CalibrationKernels.FromProbabilitiesKernel.Scalar(range, classes, pp, yy, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier)
                    : CalibrationKernels.FromProbabilitiesKernel.Simd(range, width, classes, pp, yy, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier),
                gpu =>
                {
                    var dp = gpu.Upload(new ReadOnlySpan<float>(pp, (int)(rows * classes)), nameof(probabilities));
                    var dy = gpu.Upload(new ReadOnlySpan<int>(yy, (int)rows), nameof(labels));
                    return outputs => CalibrationKernels.FromProbabilitiesKernel.Gpu(gpu.Stream, dp, dy, outputs.Confidence, outputs.Correct, outputs.NegLogLikelihood, outputs.Brier, rows, classes);
                });
        }
    }

    /// <summary>
    /// Adds top-label statistics of softmax(logits / temperature) without writing probabilities: the confidence of the
    /// first argmax, its correctness, and the NLL and Brier score from the stable log-sum-exp.
    /// </summary>
    /// <remarks>A row with NaN or +∞ logits gives a NaN confidence and is rejected with an error naming it.</remarks>
    public void AddLogits(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "CalibrationAccumulator.AddLogits";
        long rows = CheckRows(op, nameof(logits), logits.Length, labels, classes);
        float invT = Check.InverseTemperature(op, temperature);
        if (rows == 0) return;
        fixed (float* z = logits)
        fixed (int* y = labels)
        {
            float* zz = z;
            int* yy = y;
            AddComputed(op, rows, classes, options,
                (range, width, o) => width < 0
                    ? CalibrationKernels.FromLogitsKernel.Scalar(range, classes, zz, yy, invT, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier)
                    : CalibrationKernels.FromLogitsKernel.Simd(range, width, classes, zz, yy, invT, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier),
                gpu =>
                {
                    var dz = gpu.Upload(new ReadOnlySpan<float>(zz, (int)(rows * classes)), nameof(logits));
                    var dy = gpu.Upload(new ReadOnlySpan<int>(yy, (int)rows), nameof(labels));
                    return outputs => CalibrationKernels.FromLogitsKernel.Gpu(gpu.Stream, dz, dy, invT, outputs.Confidence, outputs.Correct, outputs.NegLogLikelihood, outputs.Brier, rows, classes);
                });
        }
    }

    /// <summary>Adds precomputed (confidence, correct) pairs; confidences must be in [0, 1]. NLL and Brier are not fed.</summary>
    public void AddConfidences(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct)
    {
        const string op = "CalibrationAccumulator.AddConfidences";
        Check.SameLength(op, nameof(correct), correct.Length, nameof(confidence), confidence.Length);
        var part = Empty();
        float* ok = stackalloc float[Block];
        fixed (float* c = confidence)
        {
            for (int start = 0; start < confidence.Length; start += Block)
            {
                int n = Math.Min(Block, confidence.Length - start);
                for (int i = 0; i < n; i++) ok[i] = correct[start + i] ? 1 : 0;
                int bad = part.AddBlock(c + start, ok, null, null, n);
                if (bad >= 0)
                    throw new ArgumentException($"{op}: confidence[{start + bad}] is {confidence[start + bad]}; confidences must be in [0, 1].", nameof(confidence));
            }
        }
        Merge(part);
    }

    /// <summary>
    /// Adds binary predictions with torchmetrics' binary semantics: the confidence is the probability of the positive
    /// class and "correct" is the 0/1 target; NLL is −[t ln p + (1 − t) ln(1 − p)] and Brier (p − t)².
    /// </summary>
    public void AddBinary(ReadOnlySpan<float> probability, ReadOnlySpan<int> target)
    {
        const string op = "CalibrationAccumulator.AddBinary";
        Check.SameLength(op, nameof(target), target.Length, nameof(probability), probability.Length);
        var part = Empty();
        float* ok = stackalloc float[Block];
        float* nll = stackalloc float[Block];
        float* brier = stackalloc float[Block];
        fixed (float* c = probability)
        {
            for (int start = 0; start < probability.Length; start += Block)
            {
                int n = Math.Min(Block, probability.Length - start);
                for (int i = 0; i < n; i++)
                {
                    float p = probability[start + i];
                    int t = target[start + i];
                    if (t is not (0 or 1))
                        throw new ArgumentException($"{op}: target[{start + i}] is {t}; binary targets must be 0 or 1.", nameof(target));
                    ok[i] = t;
                    nll[i] = -MathF.Log(t == 1 ? p : 1 - p);
                    brier[i] = (p - t) * (p - t);
                }
                int bad = part.AddBlock(c + start, ok, nll, brier, n);
                if (bad >= 0)
                    throw new ArgumentException($"{op}: probability[{start + bad}] is {probability[start + bad]}; probabilities must be in [0, 1].", nameof(probability));
            }
        }
        Merge(part);
    }

    /// <summary>
    /// <see cref="AddProbabilities(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/> for data already on a
    /// device: labels are checked, the per-row kernel runs and its results are binned on <paramref name="stream"/>'s
    /// accelerator, and only per-bin numbers come back (with more than 63 bins or 16 thresholds the per-row results,
    /// 16 bytes a row, are binned on the host). Waits for the stream.
    /// </summary>
    public void AddProbabilities(AcceleratorStream stream, ArrayView<float> probabilities, ArrayView<int> labels, int classes)
    {
        const string op = "CalibrationAccumulator.AddProbabilities";
        long rows = Check.Rows(op, nameof(probabilities), probabilities.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        AddFromDevice(op, stream, rows, classes, labels, o =>
            CalibrationKernels.FromProbabilitiesKernel.Gpu(stream, probabilities, labels, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier, rows, classes));
    }

    /// <summary>
    /// <see cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/> for data already on a
    /// device (per-row kernel and binning on the device, as for probabilities). Waits for the stream.
    /// </summary>
    public void AddLogits(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes, float temperature = 1f)
    {
        const string op = "CalibrationAccumulator.AddLogits";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        float invT = Check.InverseTemperature(op, temperature);
        AddFromDevice(op, stream, rows, classes, labels, o =>
            CalibrationKernels.FromLogitsKernel.Gpu(stream, logits, labels, invT, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier, rows, classes));
    }

    /// <summary>
    /// Adds column <paramref name="column"/> of probability rows as (confidence = p[column], correct = label is column);
    /// the one-class-versus-rest view that classwise calibration bins.
    /// </summary>
    internal void AddColumn(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, int column)
    {
        var part = Empty();
        float* c = stackalloc float[Block];
        float* ok = stackalloc float[Block];
        for (int start = 0; start < labels.Length; start += Block)
        {
            int n = Math.Min(Block, labels.Length - start);
            for (int i = 0; i < n; i++)
            {
                c[i] = probabilities[(start + i) * classes + column];
                ok[i] = labels[start + i] == column ? 1 : 0;
            }
            int bad = part.AddBlock(c, ok, null, null, n);
            if (bad >= 0)
                throw new ArgumentException($"ClasswiseCalibration.AddProbabilities: probabilities[{start + bad}, {column}] is {c[bad]}; probabilities must be in [0, 1].", "probabilities");
        }
        Merge(part);
    }

    /// <summary>Adds everything <paramref name="other"/> holds; both must have the same bins, rule and thresholds.</summary>
    public void Merge(CalibrationAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Bins != Bins || other.Rule != Rule || !other._thresholds.AsSpan().SequenceEqual(_thresholds))
            throw new ArgumentException($"CalibrationAccumulator.Merge: the other accumulator has {other.Bins} bins, rule {other.Rule} and thresholds [{string.Join(", ", other._thresholds)}]; this one has {Bins}, {Rule} and [{string.Join(", ", _thresholds)}].", nameof(other));
        for (int b = 0; b < _count.Length; b++)
        {
            _count[b] += other._count[b];
            _correct[b] += other._correct[b];
            _confidence[b] += other._confidence[b];
        }
        for (int t = 0; t < _thresholds.Length; t++)
        {
            _thresholdCount[t] += other._thresholdCount[t];
            _thresholdCorrect[t] += other._thresholdCorrect[t];
        }
        _rows += other._rows;
        _rowsCorrect += other._rowsCorrect;
        _confidenceTotal += other._confidenceTotal;
        _scored += other._scored;
        _negLogLikelihood += other._negLogLikelihood;
        _brier += other._brier;
    }

    /// <summary>The metrics and the reliability table of everything added so far (NaN where nothing was added).</summary>
    public CalibrationReport Report()
    {
        double n = _rows;
        var bins = new ReliabilityBin[_count.Length];
        double l1 = 0, l2 = 0, max = double.NaN;
        for (int b = 0; b < bins.Length; b++)
        {
            long count = _count[b];
            double confidence = count == 0 ? double.NaN : (double)_confidence[b] / FixedOne / count;
            double accuracy = count == 0 ? double.NaN : (double)_correct[b] / count;
            double lower = Math.Min(1.0, Binning.Edge(b, Bins)), upper = b < Bins ? Binning.Edge(b + 1, Bins) : 1.0;
            bins[b] = new ReliabilityBin(lower, upper, count, confidence, accuracy);
            if (count == 0) continue;
            double gap = Math.Abs(accuracy - confidence);
            l1 += count / n * gap;
            l2 += count / n * gap * gap;
            max = double.IsNaN(max) ? gap : Math.Max(max, gap);
        }
        var profile = new ConfidenceThreshold[_thresholds.Length];
        for (int t = 0; t < profile.Length; t++)
        {
            long count = _thresholdCount[t];
            profile[t] = new ConfidenceThreshold(_thresholds[t], count, count / n, count == 0 ? double.NaN : (double)_thresholdCorrect[t] / count);
        }
        bool empty = _rows == 0;
        return new CalibrationReport(
            _rows,
            empty ? double.NaN : _rowsCorrect / n,
            empty ? double.NaN : (double)_confidenceTotal / FixedOne / n,
            empty ? double.NaN : l1,
            empty ? double.NaN : Math.Sqrt(l2),
            max,
            _scored == 0 ? double.NaN : _negLogLikelihood / _scored,
            _scored == 0 ? double.NaN : _brier / _scored,
            bins,
            profile);
    }

    // ------------------------------------------------------------------ filling

    private CalibrationAccumulator Empty() => new(Bins, Rule, _thresholds);

    /// <summary>
    /// Bins <paramref name="n"/> (at most <see cref="Block"/>) rows of per-row values; <paramref name="nll"/> and
    /// <paramref name="brier"/> may be null (not scored). Returns the first invalid row (confidence NaN or outside
    /// [0, 1], NaN score), or -1; on an invalid row nothing of the block is added.
    /// </summary>
    /// <remarks>
    /// Bin indices, validity, thresholds, totals and scores are computed eight rows at a time and without branches;
    /// the histogram itself is a scalar scatter into four interleaved copies (so rows landing in the same bin do not
    /// wait on each other). Confidence sums of one block are exact in float64 (at most 1024 values of at least 2^-17 need at most 52 significant
    /// bits) and are then added to the accumulator as integers in units of 2^-40.
    /// </remarks>
    private int AddBlock(float* confidence, float* correct, float* nll, float* brier, int n)
    {
        int slots = _count.Length;
        int* bins = stackalloc int[Block];
        int first = FirstInvalid(confidence, nll, brier, n);
        if (first >= 0) return first;
        BinIndices(confidence, bins, n);

        // per-bin histogram: a scalar scatter into four interleaved copies
        const int Copies = 4;
        int* count = stackalloc int[Copies * slots];
        int* right = stackalloc int[Copies * slots];
        double* sum = stackalloc double[Copies * slots];
        new Span<int>(count, Copies * slots).Clear();
        new Span<int>(right, Copies * slots).Clear();
        new Span<double>(sum, Copies * slots).Clear();
        for (int i = 0; i < n; i++)
        {
            int b = bins[i];
            if (b < 0) continue;
            int at = (i & (Copies - 1)) * slots + b;
            count[at]++;
            right[at] += (int)correct[i];
            sum[at] += confidence[i];
        }
        for (int b = 0; b < slots; b++)
        {
            long blockCount = 0, blockRight = 0;
            double blockSum = 0;
            for (int k = 0; k < Copies; k++)
            {
                blockCount += count[k * slots + b];
                blockRight += right[k * slots + b];
                blockSum += sum[k * slots + b];
            }
            _count[b] += blockCount;
            _correct[b] += blockRight;
            _confidence[b] += ToFixed(blockSum);
        }

        // totals, the threshold profile and the scores: branch-free, eight rows at a time
        int thresholds = _thresholds.Length;
        long* aboveCount = stackalloc long[thresholds];
        long* aboveRight = stackalloc long[thresholds];
        new Span<long>(aboveCount, thresholds).Clear();
        new Span<long>(aboveRight, thresholds).Clear();
        double total = 0, nllSum = 0, brierSum = 0;
        long totalRight = 0;
        int i0 = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vTotal = Vector256<double>.Zero;
            var vNll = Vector256<double>.Zero;
            var vBrier = Vector256<double>.Zero;
            var vRight = Vector256<int>.Zero;
            var vAboveCount = stackalloc Vector256<int>[thresholds];
            var vAboveRight = stackalloc Vector256<int>[thresholds];
            for (; i0 + 8 <= n; i0 += 8)
            {
                var c = Vector256.Load(confidence + i0);
                var ok = Vector256.ConvertToInt32(Vector256.Load(correct + i0));
                var (cLow, cHigh) = Vector256.Widen(c);
                vTotal += cLow + cHigh;
                vRight += ok;
                for (int t = 0; t < thresholds; t++)
                {
                    var above = Vector256.GreaterThanOrEqual(c, Vector256.Create(_thresholds[t])).AsInt32();
                    vAboveCount[t] -= above;
                    vAboveRight[t] += above & ok;
                }
                if (nll is not null)
                {
                    var (lLow, lHigh) = Vector256.Widen(Vector256.Load(nll + i0));
                    var (bLow, bHigh) = Vector256.Widen(Vector256.Load(brier + i0));
                    vNll += lLow + lHigh;
                    vBrier += bLow + bHigh;
                }
            }
            total = Vector256.Sum(vTotal);
            nllSum = Vector256.Sum(vNll);
            brierSum = Vector256.Sum(vBrier);
            totalRight = Vector256.Sum(vRight);
            for (int t = 0; t < thresholds; t++)
            {
                aboveCount[t] = Vector256.Sum(vAboveCount[t]);
                aboveRight[t] = Vector256.Sum(vAboveRight[t]);
            }
        }
        for (int i = i0; i < n; i++)
        {
            float c = confidence[i];
            int ok = (int)correct[i];
            total += c;
            totalRight += ok;
            for (int t = 0; t < thresholds; t++)
            {
                int above = c >= _thresholds[t] ? 1 : 0;
                aboveCount[t] += above;
                aboveRight[t] += above & ok;
            }
            if (nll is not null)
            {
                nllSum += nll[i];
                brierSum += brier[i];
            }
        }
        _rows += n;
        _rowsCorrect += totalRight;
        _confidenceTotal += ToFixed(total);
        for (int t = 0; t < thresholds; t++)
        {
            _thresholdCount[t] += aboveCount[t];
            _thresholdCorrect[t] += aboveRight[t];
        }
        if (nll is not null)
        {
            _scored += n;
            _negLogLikelihood += nllSum;
            _brier += brierSum;
        }
        return -1;
    }

    private static Int128 ToFixed(double value) => (Int128)Math.Round(value * FixedOne);

    /// <summary>The first row whose confidence is NaN or outside [0, 1] or whose scores are NaN, or -1.</summary>
    private static int FirstInvalid(float* confidence, float* nll, float* brier, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var zero = Vector256<float>.Zero;
            var one = Vector256<float>.One;
            for (; i + 8 <= n; i += 8)
            {
                var c = Vector256.Load(confidence + i);
                var valid = Vector256.GreaterThanOrEqual(c, zero) & Vector256.LessThanOrEqual(c, one);
                if (nll is not null)
                {
                    var l = Vector256.Load(nll + i);
                    var b = Vector256.Load(brier + i);
                    valid &= Vector256.Equals(l, l) & Vector256.Equals(b, b);
                }
                if (!valid.AsInt32().Equals(Vector256<int>.AllBitsSet)) break;
            }
        }
        for (; i < n; i++)
        {
            float c = confidence[i];
            if (!(c >= 0 && c <= 1) || (nll is not null && (float.IsNaN(nll[i]) || float.IsNaN(brier[i])))) return i;
        }
        return -1;
    }

    /// <summary>Bin indices of valid confidences, eight at a time (same arithmetic as <see cref="Binning.Of"/>).</summary>
    private void BinIndices(float* confidence, int* bins, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var count = Vector256.Create((float)Bins);
            var last = Vector256.Create(Bins);
            var top = Vector256.Create(Bins - 1);
            for (; i + 8 <= n; i += 8)
            {
                var c = Vector256.Load(confidence + i);
                var k = Vector256.Min(Vector256.ConvertToInt32(c * count), last);
                // k / n rounded to float, as Binning.Edge: step down below the lower edge, up at or past the upper one
                var lower = Vector256.ConvertToSingle(k) / count;
                var upper = Vector256.ConvertToSingle(k + Vector256<int>.One) / count;
                k += (Vector256.LessThan(c, lower) & Vector256.GreaterThan(k, Vector256<int>.Zero).AsSingle()).AsInt32();
                k -= (Vector256.GreaterThanOrEqual(c, upper) & Vector256.LessThan(k, last).AsSingle()).AsInt32();
                switch (Rule)
                {
                    case BinningRule.ClosedLastBin:
                        k = Vector256.Min(k, top);
                        break;
                    case BinningRule.RightClosed:
                    case BinningRule.GuoReference:
                    {
                        // an edge value belongs to the bin below it; 0 to bin 0 (sklearn) or to none (Guo)
                        var onEdge = Vector256.Equals(c, Vector256.ConvertToSingle(k) / count).AsInt32();
                        var positive = Vector256.GreaterThan(k, Vector256<int>.Zero);
                        k += onEdge & positive;
                        if (Rule == BinningRule.GuoReference) k |= onEdge & ~positive;   // -1 for c = 0
                        break;
                    }
                }
                k.Store(bins + i);
            }
        }
        for (; i < n; i++) bins[i] = Binning.Of(confidence[i], Bins, Rule);
    }

    private static long CheckRows(string op, string argument, long length, ReadOnlySpan<int> labels, int classes)
    {
        long rows = Check.Rows(op, argument, length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        if (labels.Length > 0)
        {
            int min = System.Numerics.Tensors.TensorPrimitives.Min(labels);
            int max = System.Numerics.Tensors.TensorPrimitives.Max(labels);
            if (min < 0 || max >= classes)
            {
                int bad = labels.IndexOfAnyExceptInRange(0, classes - 1);
                throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {classes}).");
            }
        }
        return rows;
    }

    /// <summary>Per-row kernel outputs for a run of rows: base pointers indexed by absolute row.</summary>
    private readonly struct RowOutputs(float* confidence, float* correct, float* negLogLikelihood, float* brier)
    {
        public float* Confidence { get; } = confidence;
        public float* Correct { get; } = correct;
        public float* NegLogLikelihood { get; } = negLogLikelihood;
        public float* Brier { get; } = brier;
    }

    /// <summary>The device views of the per-row outputs.</summary>
    private readonly record struct DeviceOutputs(ArrayView<float> Confidence, ArrayView<float> Correct, ArrayView<float> NegLogLikelihood, ArrayView<float> Brier);

    /// <summary>
    /// Runs a per-row kernel and bins its outputs. CPU: each chunk of rows (fixed by shape) computes blocks of per-row
    /// outputs into stack buffers and bins them into its own partial accumulator; partials are merged in chunk order
    /// after all succeeded. GPU: the kernel runs on the device and its per-row outputs are binned on the host.
    /// </summary>
    private void AddComputed(string op, long rows, int cols, ComputeOptions options,
        Func<RowRange, int, RowOutputs, double> cpuKernel, Func<GpuHost, Action<DeviceOutputs>> gpuKernel)
    {
        if (options.Backend == Backend.Gpu)
        {
            using var gpu = GpuHost.Open(options, op);
            var launch = gpuKernel(gpu);
            var outputs = new DeviceOutputs(gpu.Allocate<float>(rows, "confidences"), gpu.Allocate<float>(rows, "correctness"),
                gpu.Allocate<float>(rows, "negative log-likelihoods"), gpu.Allocate<float>(rows, "Brier scores"));
            gpu.Guard(() => launch(outputs));
            bool binned = false;
            gpu.Guard(() => binned = TryBinOnDevice(op, gpu.Stream, rows, outputs));
            if (binned) return;
            var confidence = new float[rows];
            var correct = new float[rows];
            var nll = new float[rows];
            var brier = new float[rows];
            gpu.Download(outputs.Confidence, confidence);
            gpu.Download(outputs.Correct, correct);
            gpu.Download(outputs.NegLogLikelihood, nll);
            gpu.Download(outputs.Brier, brier);
            BinOutputs(op, rows, cols, confidence, correct, nll, brier);
            return;
        }
        var parts = new CalibrationAccumulator[CpuRows.Chunks(rows, cols)];
        var failures = new long[parts.Length];
        int width = options.Backend == Backend.Scalar ? -1 : options.ResolveVectorWidth();
        CpuRows.ForEachChunk(rows, cols, options.ResolveThreads(), (c, range) =>
        {
            var part = parts[c] = Empty();
            failures[c] = part.ComputeAndAdd(range, width, cpuKernel);
        });
        MergeParts(op, parts, failures);
    }

    private void AddFromDevice(string op, AcceleratorStream stream, long rows, int classes, ArrayView<int> labels, Action<DeviceOutputs> launch)
    {
        if (rows == 0) return;
        var accelerator = stream.Accelerator;
        try
        {
            CheckLabelsOnDevice(op, stream, labels, classes);
            // one allocation for the four per-row outputs
            using var perRow = accelerator.Allocate1D<float>(4 * rows);
            var v = perRow.View;
            var (c, k, l, b) = (v.SubView(0, rows), v.SubView(rows, rows), v.SubView(2 * rows, rows), v.SubView(3 * rows, rows));
            var outputs = new DeviceOutputs(c, k, l, b);
            launch(outputs);
            if (TryBinOnDevice(op, stream, rows, outputs)) return;
            var confidence = new float[rows];
            var correct = new float[rows];
            var nll = new float[rows];
            var brier = new float[rows];
            c.CopyToCPU(stream, confidence);
            k.CopyToCPU(stream, correct);
            l.CopyToCPU(stream, nll);
            b.CopyToCPU(stream, brier);
            stream.Synchronize();
            BinOutputs(op, rows, classes, confidence, correct, nll, brier);
        }
        catch (Exception e) when (GpuHost.IsDeviceError(e))
        {
            throw new DeviceException($"{op} on {accelerator.Name} for [{rows} x {classes}] failed: {e.Message}", e);
        }
    }

    /// <summary>Throws like the host overloads if a label on the device is outside [0, classes); copies back one number (two on error).</summary>
    private static void CheckLabelsOnDevice(string op, AcceleratorStream stream, ArrayView<int> labels, int classes)
    {
        var accelerator = stream.Accelerator;
        using var first = accelerator.Allocate1D(new[] { long.MaxValue });
        var kernel = GpuRows.Load(accelerator, "FastCalib.DeviceBinning.FirstBadLabel",
            static a => a.LoadKernel<ArrayView<int>, int, ArrayView<long>>(DeviceBinning.FirstBadLabel));
        kernel(stream, GpuRows.ThreadPerRow(accelerator, labels.Length), labels, classes, first.View);
        var bad = new long[1];
        first.View.CopyToCPU(stream, bad);
        stream.Synchronize();
        if (bad[0] == long.MaxValue) return;
        var value = new int[1];
        labels.SubView(bad[0], 1).CopyToCPU(stream, value);
        stream.Synchronize();
        throw new ArgumentOutOfRangeException("labels", value[0], $"{op}: labels[{bad[0]}] is {value[0]}; labels must be in [0, {classes}).");
    }

    /// <summary>
    /// Bins per-row results that are on the device with <see cref="DeviceBinning"/> (in launches of at most 2^22 rows)
    /// and adds them; false (nothing done) if this accumulator's bins or thresholds do not fit its shared memory.
    /// </summary>
    private bool TryBinOnDevice(string op, AcceleratorStream stream, long rows, DeviceOutputs o)
    {
        int slots = _count.Length;
        if (!DeviceBinning.Fits(slots, _thresholds.Length)) return false;
        var accelerator = stream.Accelerator;
        var kernel = GpuRows.Load(accelerator, "FastCalib.DeviceBinning.Bin", static a => a.LoadKernel<ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<long>, ArrayView<double>, ArrayView<int>, int, int, int, int>(DeviceBinning.Bin));
        var part = Empty();
        using var thresholds = accelerator.Allocate1D(_thresholds.Length == 0 ? [0f] : _thresholds);
        using var state = accelerator.Allocate1D<long>(DeviceBinning.StateLength(slots, _thresholds.Length));
        using var scores = accelerator.Allocate1D<double>(2);
        using var invalid = accelerator.Allocate1D<int>(1);
        var thresholdView = thresholds.View.SubView(0, _thresholds.Length);
        var host = new long[state.Length];
        var hostScores = new double[2];
        var hostInvalid = new int[1];
        for (long start = 0; start < rows; start += DeviceBinning.MaxRowsPerLaunch)
        {
            int n = (int)Math.Min(DeviceBinning.MaxRowsPerLaunch, rows - start);
            state.MemSetToZero(stream);
            scores.MemSetToZero(stream);
            invalid.View.CopyFromCPU(stream, [int.MaxValue]);
            kernel(stream, DeviceBinning.Shape(accelerator, n), o.Confidence.SubView(start, n), o.Correct.SubView(start, n),
                o.NegLogLikelihood.SubView(start, n), o.Brier.SubView(start, n), thresholdView, state.View, scores.View, invalid.View,
                n, Bins, (int)Rule, 1);
            state.View.CopyToCPU(stream, host);
            scores.View.CopyToCPU(stream, hostScores);
            invalid.View.CopyToCPU(stream, hostInvalid);
            stream.Synchronize();
            if (hostInvalid[0] != int.MaxValue)
                throw new ArgumentException($"{op}: row {start + hostInvalid[0]} has a confidence or label probability that is NaN or outside [0, 1] (NaN or infinite inputs, or values that are not probabilities).");
            for (int b = 0; b < slots; b++)
            {
                part._count[b] += host[b];
                part._correct[b] += host[slots + b];
                part._confidence[b] += host[2 * slots + b];
            }
            part._rows += n;
            part._rowsCorrect += host[3 * slots];
            part._confidenceTotal += host[3 * slots + 1];
            for (int t = 0; t < _thresholds.Length; t++)
            {
                part._thresholdCount[t] += host[3 * slots + 2 + 2 * t];
                part._thresholdCorrect[t] += host[3 * slots + 3 + 2 * t];
            }
            part._scored += n;
            part._negLogLikelihood += hostScores[0];
            part._brier += hostScores[1];
        }
        Merge(part);
        return true;
    }

    /// <summary>Bins per-row outputs held in host arrays on all cores, in chunks merged in order.</summary>
    private void BinOutputs(string op, long rows, int cols, float[] confidence, float[] correct, float[] nll, float[] brier)
    {
        var parts = new CalibrationAccumulator[CpuRows.Chunks(rows, cols)];
        var failures = new long[parts.Length];
        CpuRows.ForEachChunk(rows, cols, Environment.ProcessorCount, (c, range) =>
        {
            var part = parts[c] = Empty();
            failures[c] = part.AddOutputs(confidence, correct, nll, brier, range);
        });
        MergeParts(op, parts, failures);
    }

    private void MergeParts(string op, CalibrationAccumulator[] parts, long[] failures)
    {
        foreach (long row in failures)
            if (row >= 0)
                throw new ArgumentException($"{op}: row {row} has a confidence or label probability that is NaN or outside [0, 1] (NaN or infinite inputs, or values that are not probabilities).");
        foreach (var part in parts) Merge(part);
    }

    /// <summary>Computes and bins the rows of one chunk block by block; returns the first invalid row, or -1.</summary>
    private long ComputeAndAdd(RowRange range, int width, Func<RowRange, int, RowOutputs, double> kernel)
    {
        float* confidence = stackalloc float[Block];
        float* correct = stackalloc float[Block];
        float* nll = stackalloc float[Block];
        float* brier = stackalloc float[Block];
        for (long start = range.Start; start < range.End; start += Block)
        {
            long end = Math.Min(range.End, start + Block);
            // the kernels index outputs by absolute row: hand them bases that put this block's rows in the buffers
            kernel(new RowRange(start, end), width, new RowOutputs(confidence - start, correct - start, nll - start, brier - start));
            int bad = AddBlock(confidence, correct, nll, brier, (int)(end - start));
            if (bad >= 0) return start + bad;
        }
        return -1;
    }

    /// <summary>Bins rows [range) of per-row outputs held in arrays; returns the first invalid row, or -1.</summary>
    private long AddOutputs(float[] confidence, float[] correct, float[] nll, float[] brier, RowRange range)
    {
        fixed (float* c = confidence, ok = correct, l = nll, b = brier)
        {
            for (long start = range.Start; start < range.End; start += Block)
            {
                int n = (int)Math.Min(Block, range.End - start);
                int bad = AddBlock(c + start, ok + start, l + start, b + start, n);
                if (bad >= 0) return start + bad;
            }
        }
        return -1;
    }
}

/// <summary>One bin of the reliability table.</summary>
/// <param name="Lower">Lower edge (for torchmetrics' extra bin of confidence 1.0, both edges are 1).</param>
/// <param name="Upper">Upper edge.</param>
/// <param name="Count">Predictions in the bin.</param>
/// <param name="MeanConfidence">Their mean confidence (NaN if empty).</param>
/// <param name="Accuracy">Their accuracy (NaN if empty).</param>
public readonly record struct ReliabilityBin(double Lower, double Upper, long Count, double MeanConfidence, double Accuracy)
{
    /// <summary>Mean confidence minus accuracy: positive means overconfident.</summary>
    public double Gap => MeanConfidence - Accuracy;
}

/// <summary>The predictions at or above a confidence threshold ("auto-accept above x").</summary>
/// <param name="Threshold">The threshold.</param>
/// <param name="Count">Predictions with confidence ≥ threshold.</param>
/// <param name="Coverage">Their share of all predictions.</param>
/// <param name="Accuracy">Their accuracy (NaN if none).</param>
public readonly record struct ConfidenceThreshold(float Threshold, long Count, double Coverage, double Accuracy);

/// <summary>Calibration metrics of everything an accumulator holds.</summary>
/// <param name="Count">Predictions.</param>
/// <param name="Accuracy">Share of correct predictions.</param>
/// <param name="MeanConfidence">Mean top-label confidence.</param>
/// <param name="Ece">Expected calibration error (l1 norm).</param>
/// <param name="Rmsce">Root-mean-square calibration error (l2 norm).</param>
/// <param name="Mce">Maximum calibration error (max norm over non-empty bins).</param>
/// <param name="NegativeLogLikelihood">Mean NLL of the true label (NaN if only confidences were added).</param>
/// <param name="Brier">Mean Brier score, summed over classes (NaN if only confidences were added).</param>
/// <param name="Bins">The reliability table.</param>
/// <param name="Thresholds">The overconfidence profile.</param>
public sealed record CalibrationReport(
    long Count,
    double Accuracy,
    double MeanConfidence,
    double Ece,
    double Rmsce,
    double Mce,
    double NegativeLogLikelihood,
    double Brier,
    IReadOnlyList<ReliabilityBin> Bins,
    IReadOnlyList<ConfidenceThreshold> Thresholds);
