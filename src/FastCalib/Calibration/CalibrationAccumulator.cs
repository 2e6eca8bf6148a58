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
    /// A zero probability on the label gives NLL +∞ (use <see cref="AddLogits"/> to avoid underflow).</remarks>
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
        for (int i = 0; i < confidence.Length; i++)
        {
            if (!part.AddRow(confidence[i], correct[i]))
                throw new ArgumentException($"{op}: confidence[{i}] is {confidence[i]}; confidences must be in [0, 1].", nameof(confidence));
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
        for (int i = 0; i < probability.Length; i++)
        {
            float p = probability[i];
            int t = target[i];
            if (t is not (0 or 1))
                throw new ArgumentException($"{op}: target[{i}] is {t}; binary targets must be 0 or 1.", nameof(target));
            if (!part.AddRow(p, t == 1))
                throw new ArgumentException($"{op}: probability[{i}] is {p}; probabilities must be in [0, 1].", nameof(probability));
            part.AddScore(-(t == 1 ? Math.Log(p) : Math.Log(1.0 - p)), (p - t) * (double)(p - t));
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

    /// <summary>Adds one (confidence, correct) pair; false if the confidence is NaN or outside [0, 1].</summary>
    private bool AddRow(float confidence, bool correct)
    {
        if (!(confidence >= 0 && confidence <= 1)) return false;
        long units = (long)Math.Round(confidence * FixedOne);
        int ok = correct ? 1 : 0;
        _rows++;
        _rowsCorrect += ok;
        _confidenceTotal += units;
        int b = Binning.Of(confidence, Bins, Rule);
        if (b >= 0)
        {
            _count[b]++;
            _correct[b] += ok;
            _confidence[b] += units;
        }
        for (int t = 0; t < _thresholds.Length; t++)
        {
            if (confidence >= _thresholds[t])
            {
                _thresholdCount[t]++;
                _thresholdCorrect[t] += ok;
            }
        }
        return true;
    }

    private void AddScore(double negLogLikelihood, double brier)
    {
        _scored++;
        _negLogLikelihood += negLogLikelihood;
        _brier += brier;
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
        var parts = new CalibrationAccumulator[CpuRows.Chunks(rows, cols)];
        var failures = new long[parts.Length];
        if (options.Backend == Backend.Gpu)
        {
            var confidence = new float[rows];
            var correct = new float[rows];
            var nll = new float[rows];
            var brier = new float[rows];
            using (var gpu = GpuHost.Open(options, op))
            {
                var launch = gpuKernel(gpu);
                var outputs = new DeviceOutputs(gpu.Allocate<float>(rows, "confidences"), gpu.Allocate<float>(rows, "correctness"),
                    gpu.Allocate<float>(rows, "negative log-likelihoods"), gpu.Allocate<float>(rows, "Brier scores"));
                gpu.Guard(() => launch(outputs));
                gpu.Download(outputs.Confidence, confidence);
                gpu.Download(outputs.Correct, correct);
                gpu.Download(outputs.NegLogLikelihood, nll);
                gpu.Download(outputs.Brier, brier);
            }
            CpuRows.ForEachChunk(rows, cols, Environment.ProcessorCount, (c, range) =>
            {
                var part = parts[c] = Empty();
                failures[c] = part.AddOutputs(confidence, correct, nll, brier, range);
            });
        }
        else
        {
            int width = options.Backend == Backend.Scalar ? -1 : options.ResolveVectorWidth();
            CpuRows.ForEachChunk(rows, cols, options.ResolveThreads(), (c, range) =>
            {
                var part = parts[c] = Empty();
                failures[c] = part.ComputeAndAdd(range, width, cpuKernel);
            });
        }
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
            int n = (int)(end - start);
            long bad = AddOutputs(new ReadOnlySpan<float>(confidence, n), new ReadOnlySpan<float>(correct, n),
                new ReadOnlySpan<float>(nll, n), new ReadOnlySpan<float>(brier, n), new RowRange(0, n));
            if (bad >= 0) return start + bad;
        }
        return -1;
    }

    /// <summary>Bins rows [range) of per-row outputs; returns the first invalid row (relative to the spans), or -1.</summary>
    private long AddOutputs(ReadOnlySpan<float> confidence, ReadOnlySpan<float> correct, ReadOnlySpan<float> nll, ReadOnlySpan<float> brier, RowRange range)
    {
        for (long i = range.Start; i < range.End; i++)
        {
            // NaN NLL means a negative or NaN probability at the label; NaN Brier a NaN elsewhere in the row
            if (float.IsNaN(nll[(int)i]) || float.IsNaN(brier[(int)i]) || !AddRow(confidence[(int)i], correct[(int)i] != 0))
                return i;
            AddScore(nll[(int)i], brier[(int)i]);
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
