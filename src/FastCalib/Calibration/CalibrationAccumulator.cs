namespace FastCalib;

/// <summary>
/// Streaming calibration statistics as a value: feed it batches (probabilities, logits, or confidence/correct pairs),
/// merge accumulators filled on other threads, devices or machines, and read the binned calibration errors
/// (ECE, RMS, MCE), the reliability table, accuracy, NLL, Brier score and the overconfidence profile from
/// <see cref="Report"/>. Memory is fixed: a few numbers per bin.
/// </summary>
/// <remarks>
/// <para>Counts are exact 64-bit integers and confidence sums are exact fixed-point integers (every confidence rounded
/// to the nearest 2^-40, which leaves confidences of at least 2^-17 exact), so the binned metrics do not depend on how
/// the data was split into batches, threads, backends or machines, and equal a float64 evaluation of the textbook
/// formulas to float64 rounding at any N (no float32 accumulation, no 2^24 limit per bin). The NLL and Brier sums are
/// the exact sums of the rows' float32 terms, rounded once when the report is read. So every number of the report is
/// the same bit for bit however the rows were split, and <see cref="ToState"/> carries it between processes.</para>
/// <para>Bins are equal-width on [0, 1]; <see cref="BinningRule"/> chooses which bin an edge value belongs to.
/// Norms follow torchmetrics: ECE = Σ_b w_b |acc_b − conf_b|, RMS = sqrt(Σ_b w_b (acc_b − conf_b)²),
/// MCE = max over non-empty bins of |acc_b − conf_b|, with w_b = count_b / N.</para>
/// <para>Not thread-safe for concurrent Add calls on one instance (each call itself runs on many threads); use one
/// accumulator per producer and <see cref="Merge"/>.</para>
/// </remarks>
public sealed unsafe partial class CalibrationAccumulator
{
    /// <summary>The most bins an accumulator takes (1,000,000): each costs a few dozen bytes, per thread while adding.</summary>
    public const int MaxBins = Binning.MaxBins;

    private readonly float[] _thresholds;
    private readonly CalibrationTotals _totals;

    /// <summary>Creates an empty accumulator.</summary>
    /// <param name="bins">Number of equal-width bins on [0, 1], from 1 to 1,000,000 (10, 15 and 20 are common).</param>
    /// <param name="rule">Which bin an edge value belongs to; torchmetrics' assignment by default.</param>
    /// <param name="thresholds">Confidence thresholds for the overconfidence profile (default 0.8 and 0.95): for each,
    /// the share of predictions with confidence ≥ it and their accuracy.</param>
    public CalibrationAccumulator(int bins = 15, BinningRule rule = BinningRule.TorchMetrics, IEnumerable<float>? thresholds = null)
    {
        if (bins < 1 || bins > Binning.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), bins, $"CalibrationAccumulator: bins must be from 1 to {Binning.MaxBins:N0}, got {bins}.");
        if (!Enum.IsDefined(rule))
            throw new ArgumentOutOfRangeException(nameof(rule), rule, "CalibrationAccumulator: unknown binning rule.");
        _thresholds = (thresholds ?? [0.8f, 0.95f]).ToArray();
        foreach (float t in _thresholds)
            if (!(t >= 0 && t <= 1))
                throw new ArgumentOutOfRangeException(nameof(thresholds), t, $"CalibrationAccumulator: thresholds must be in [0, 1], got {t}.");
        Bins = bins;
        Rule = rule;
        _totals = new CalibrationTotals(Binning.Slots(bins, rule), _thresholds.Length);
    }

    /// <summary>
    /// Creates an empty accumulator on custom bin edges, such as decision buckets 0, 0.5, 0.8, 0.9, 0.95, 0.99, 1:
    /// the same metrics and rules, with bin k = [e_k, e_{k+1}) (or (e_k, e_{k+1}] under the right-closed rules).
    /// </summary>
    /// <param name="edges">From exactly 0 to exactly 1, strictly increasing, at most 1,000,001 of them.</param>
    /// <param name="rule">Which bin an edge value belongs to; torchmetrics' assignment by default.</param>
    /// <param name="thresholds">Confidence thresholds for the overconfidence profile (default: the inner edges).</param>
    /// <remarks>Custom edges are binned on the CPU on every backend, and their states are not written by <see cref="ToState"/>.</remarks>
    public CalibrationAccumulator(IReadOnlyList<float> edges, BinningRule rule = BinningRule.TorchMetrics, IEnumerable<float>? thresholds = null)
        : this(Binning.CheckEdges(edges ?? throw new ArgumentNullException(nameof(edges)), "CalibrationAccumulator").Length - 1, rule,
            thresholds ?? edges.Skip(1).Take(edges.Count - 2))
    {
        _edges = edges.ToArray();
    }

    private readonly float[]? _edges;

    /// <summary>The bin edges e_0 = 0 … e_bins = 1 (k / bins unless custom edges were given).</summary>
    public IReadOnlyList<float> Edges => _edges ?? Enumerable.Range(0, Bins + 1).Select(k => Binning.Edge(k, Bins)).ToArray();

    /// <summary>Whether the edges are custom (not equal-width).</summary>
    public bool HasCustomEdges => _edges is not null;

    /// <summary>Number of bins (equal-width unless custom edges were given).</summary>
    public int Bins { get; }

    /// <summary>The binning convention.</summary>
    public BinningRule Rule { get; }

    /// <summary>The overconfidence-profile thresholds.</summary>
    public IReadOnlyList<float> Thresholds => _thresholds;

    /// <summary>Predictions seen so far.</summary>
    public long Count => _totals.Rows;

    /// <summary>
    /// Keeps Poisson bootstrap replicas of every total as rows are added (null: none, the default), for
    /// <see cref="BootstrapIntervals"/>. Set it when creating the accumulator: <c>new CalibrationAccumulator(15) {
    /// Bootstrap = new(Replicas: 200, Seed: 7) }</c>. The replicas are binned on the CPU on every backend.
    /// </summary>
    public BootstrapOptions? Bootstrap
    {
        get => _bootstrap;
        init
        {
            if (value is not null && (value.Replicas < 1 || value.Replicas > BootstrapOptions.MaxReplicas))
                throw new ArgumentOutOfRangeException(nameof(Bootstrap), value.Replicas, $"CalibrationAccumulator: bootstrap replicas must be from 1 to {BootstrapOptions.MaxReplicas:N0}, got {value.Replicas}.");
            _bootstrap = value;
            _totals.Replicas = value is null ? null : new ReplicaTotals(_totals.Count.Length, value, ReplicaBinner.Stride(value), _thresholds.Length);
        }
    }

    private readonly BootstrapOptions? _bootstrap;

    /// <summary>
    /// The index, in the whole data set, that the next added row has: it keys the row's bootstrap weights. It starts
    /// at 0 and every call advances it by its rows, so batches added in order are numbered in order. An accumulator
    /// that scores one shard of a data set sets it to the shard's first row; merged shards then hold exactly the
    /// replicas of one accumulator fed the whole set.
    /// </summary>
    public long NextRow { get; set; }

    /// <summary>Percentile intervals at <paramref name="level"/> (e.g. 0.95) of the report's numbers over the bootstrap replicas.</summary>
    /// <exception cref="InvalidOperationException">The accumulator keeps no replicas (<see cref="Bootstrap"/> is null).</exception>
    public BootstrapReport BootstrapIntervals(double level = 0.95)
    {
        if (_totals.Replicas is null)
            throw new InvalidOperationException("CalibrationAccumulator.BootstrapIntervals: the accumulator keeps no bootstrap replicas; create it with Bootstrap = new BootstrapOptions(...).");
        if (!(level > 0 && level < 1))
            throw new ArgumentOutOfRangeException(nameof(level), level, $"CalibrationAccumulator.BootstrapIntervals: level must be in (0, 1), got {level}.");
        return _totals.Replicas.Intervals(level, Bins, _thresholds);
    }

    /// <summary>
    /// Adds top-label statistics of probability rows [rows, classes] with integer labels: confidence = max p,
    /// correct = (first argmax == label), plus the rows' NLL (−ln p[label]) and Brier score (Σ_j (p_j − [j = label])²).
    /// </summary>
    /// <remarks>Rows are validated as <see cref="Entropy.FromProbabilities(ReadOnlySpan{float}, Span{float}, int, EntropyUnit, ComputeOptions)"/>
    /// validates them, not renormalised: a row with a negative or NaN entry, or whose sum is off 1 by more than
    /// 1e-3 + C · 2.4e-7, is rejected with an error naming it, and nothing of the call is added. Scores that are not
    /// meant to sum to 1 (the sigmoid outputs of a multi-label model, say) pass with
    /// <paramref name="unnormalized"/> = true; they still may not be negative or NaN, and their maximum must be at most 1.
    /// A zero probability on the label gives NLL +∞ (use <see cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/> to avoid underflow).</remarks>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default, bool unnormalized = false)
    {
        const string op = "CalibrationAccumulator.AddProbabilities";
        long rows = CheckRows(op, nameof(probabilities), probabilities.Length, labels, classes);
        if (rows == 0) return;
        float tolerance = unnormalized ? float.PositiveInfinity : Entropy.Tolerance(classes);
        var invalid = InvalidProbabilities(unnormalized);
        if (options.Backend == Backend.Gpu)
        {
            GpuHost.OnDevice(options, op, GpuHost.Shape(rows, classes), probabilities, nameof(probabilities), labels, nameof(labels),
                (stream, p, y) => AddOnDevice(op, stream, rows, classes, y, invalid, o => CalibrationKernels.FromProbabilitiesKernel.Gpu(stream, p, y, tolerance, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier, rows, classes)));
            return;
        }
        fixed (float* p = probabilities)
        fixed (int* y = labels)
        {
            float* pp = p;
            int* yy = y;
            AddOnCpu(op, rows, classes, options, invalid, (range, width, o) =>
            {
                CalibrationKernels.FromProbabilitiesKernel.OnRows(range, width, classes, pp, yy, tolerance, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier);
            });
        }
    }

    /// <summary>
    /// Adds top-label statistics of softmax(logits / temperature) without writing probabilities: the confidence of the
    /// first argmax, its correctness, and the NLL and Brier score from the stable log-sum-exp.
    /// </summary>
    /// <remarks>A row with NaN or +∞ logits gives a NaN confidence and is rejected with an error naming it.</remarks>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public void AddLogits(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "CalibrationAccumulator.AddLogits";
        long rows = CheckRows(op, nameof(logits), logits.Length, labels, classes);
        float invT = Check.InverseTemperature(op, temperature);
        if (rows == 0) return;
        if (options.Backend == Backend.Gpu)
        {
            GpuHost.OnDevice(options, op, GpuHost.Shape(rows, classes), logits, nameof(logits), labels, nameof(labels),
                (stream, z, y) => AddOnDevice(op, stream, rows, classes, y, InvalidLogits, o => CalibrationKernels.FromLogitsKernel.Gpu(stream, z, y, invT, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier, rows, classes)));
            return;
        }
        fixed (float* z = logits)
        fixed (int* y = labels)
        {
            float* zz = z;
            int* yy = y;
            AddOnCpu(op, rows, classes, options, InvalidLogits, (range, width, o) =>
            {
                CalibrationKernels.FromLogitsKernel.OnRows(range, width, classes, zz, yy, invT, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier);
            });
        }
    }

    /// <summary>
    /// Adds rows of <paramref name="samples"/> sampled answers, row-major [rows, samples] (class ids, or −1 for an
    /// answer outside the classes), with one label per row: the prediction is the majority class and the confidence
    /// its share of the answers, as <see cref="SampledAnswers.Summarize(ReadOnlySpan{int}, int, Span{int}, Span{float}, Span{float}, ComputeOptions)"/> defines them; correct = (majority = label).
    /// NLL and Brier are not fed (there are no probabilities). Nothing is added if an answer or a label is invalid.
    /// </summary>
    public void AddVotes(ReadOnlySpan<int> answers, ReadOnlySpan<int> labels, int samples, ComputeOptions options = default) =>
        AddVotes(answers, labels, samples, options, null);

    /// <summary><see cref="AddVotes(ReadOnlySpan{int}, ReadOnlySpan{int}, int, ComputeOptions)"/>, handing each block's (confidence, correct) pairs to <paramref name="observe"/> (the tool keeps them for adaptive bins and selective prediction).</summary>
    internal void AddVotes(ReadOnlySpan<int> answers, ReadOnlySpan<int> labels, int samples, ComputeOptions options, ConfidenceObserver? observe)
    {
        const string op = "CalibrationAccumulator.AddVotes";
        long rows = SampledAnswers.Validate(op, answers, samples);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        int bad = labels.IndexOfAnyInRange(int.MinValue, -1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be class ids (0 or more).");
        const int Block = 1 << 16;
        var majority = new int[(int)Math.Min(rows, Block)];
        var confidence = new float[majority.Length];
        var correct = new bool[majority.Length];
        for (long start = 0; start < rows; start += Block)
        {
            int n = (int)Math.Min(Block, rows - start);
            SampledAnswers.Run(answers.Slice((int)(start * samples), n * samples), samples, majority, confidence, default, options);
            for (int r = 0; r < n; r++) correct[r] = majority[r] == labels[(int)start + r];
            AddConfidences(confidence.AsSpan(0, n), correct.AsSpan(0, n));
            observe?.Invoke(confidence.AsSpan(0, n), correct.AsSpan(0, n));
        }
    }

    /// <summary>Receives a block's (confidence, correct) pairs.</summary>
    internal delegate void ConfidenceObserver(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct);

    /// <summary>Adds precomputed (confidence, correct) pairs; confidences must be in [0, 1]. NLL and Brier are not fed.</summary>
    public void AddConfidences(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct)
    {
        const string op = "CalibrationAccumulator.AddConfidences";
        Check.SameLength(op, nameof(correct), correct.Length, nameof(confidence), confidence.Length);
        var (part, binner) = Part(SimdWidth.Best);
        float* ok = stackalloc float[BlockBinner.Block];
        fixed (float* c = confidence)
        {
            for (int start = 0; start < confidence.Length; start += BlockBinner.Block)
            {
                int n = Math.Min(BlockBinner.Block, confidence.Length - start);
                for (int i = 0; i < n; i++) ok[i] = correct[start + i] ? 1 : 0;
                int bad = binner.Add(part, c + start, ok, null, null, n, NextRow + start);
                if (bad >= 0)
                    throw new ArgumentException($"{op}: confidence[{start + bad}] is {confidence[start + bad]}; confidences must be in [0, 1].", nameof(confidence));
            }
        }
        binner.Flush(part);
        _totals.Add(part);
        NextRow += part.Rows;
    }

    /// <summary>
    /// Adds binary predictions with torchmetrics' binary semantics: the confidence is the probability of the positive
    /// class and "correct" is the 0/1 target; NLL is −[t ln p + (1 − t) ln(1 − p)] and Brier (p − t)².
    /// </summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public void AddBinary(ReadOnlySpan<float> probability, ReadOnlySpan<int> target)
    {
        const string op = "CalibrationAccumulator.AddBinary";
        Check.SameLength(op, nameof(target), target.Length, nameof(probability), probability.Length);
        var (part, binner) = Part(SimdWidth.Best);
        float* ok = stackalloc float[BlockBinner.Block];
        float* nll = stackalloc float[BlockBinner.Block];
        float* brier = stackalloc float[BlockBinner.Block];
        fixed (float* c = probability)
        {
            for (int start = 0; start < probability.Length; start += BlockBinner.Block)
            {
                int n = Math.Min(BlockBinner.Block, probability.Length - start);
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
                int bad = binner.Add(part, c + start, ok, nll, brier, n, NextRow + start);
                if (bad >= 0)
                    throw new ArgumentException($"{op}: probability[{start + bad}] is {probability[start + bad]}; probabilities must be in [0, 1].", nameof(probability));
            }
        }
        binner.Flush(part);
        _totals.Add(part);
        NextRow += part.Rows;
    }

    /// <summary>
    /// Adds column <paramref name="column"/> of probability rows as (confidence = p[column], correct = label is column);
    /// the one-class-versus-rest view that classwise calibration bins.
    /// </summary>
    internal void AddColumn(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, int column)
    {
        var (part, binner) = Part(SimdWidth.Best);
        float* c = stackalloc float[BlockBinner.Block];
        float* ok = stackalloc float[BlockBinner.Block];
        for (int start = 0; start < labels.Length; start += BlockBinner.Block)
        {
            int n = Math.Min(BlockBinner.Block, labels.Length - start);
            for (int i = 0; i < n; i++)
            {
                c[i] = probabilities[(start + i) * classes + column];
                ok[i] = labels[start + i] == column ? 1 : 0;
            }
            int bad = binner.Add(part, c, ok, null, null, n, NextRow + start);
            if (bad >= 0)
                throw new ArgumentException($"ClasswiseCalibration.AddProbabilities: probabilities[{start + bad}, {column}] is {c[bad]}; probabilities must be in [0, 1].", "probabilities");
        }
        binner.Flush(part);
        _totals.Add(part);
        NextRow += part.Rows;
    }

    /// <summary>Adds everything <paramref name="other"/> holds; both must have the same bins, rule and thresholds.</summary>
    public void Merge(CalibrationAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Bins != Bins || other.Rule != Rule || !other._thresholds.AsSpan().SequenceEqual(_thresholds))
            throw new ArgumentException($"CalibrationAccumulator.Merge: the other accumulator has {other.Bins} bins, rule {other.Rule} and thresholds [{string.Join(", ", other._thresholds)}]; this one has {Bins}, {Rule} and [{string.Join(", ", _thresholds)}].", nameof(other));
        if (!(other._edges ?? []).AsSpan().SequenceEqual(_edges ?? []))
            throw new ArgumentException($"CalibrationAccumulator.Merge: the other accumulator's bin edges are [{string.Join(", ", other.Edges)}]; this one's [{string.Join(", ", Edges)}].", nameof(other));
        if (other.Bootstrap != Bootstrap)
            throw new ArgumentException($"CalibrationAccumulator.Merge: the other accumulator keeps bootstrap replicas {other.Bootstrap?.ToString() ?? "(none)"}; this one {Bootstrap?.ToString() ?? "(none)"}. Only accumulators with the same replicas and seed merge.", nameof(other));
        _totals.Add(other._totals);
    }

    /// <summary>The metrics and the reliability table of everything added so far (NaN where nothing was added).</summary>
    public CalibrationReport Report() => _totals.Report(Bins, _thresholds, _edges);

    /// <summary>An empty accumulator of this one's shape, edges, bootstrap and next row.</summary>
    private CalibrationAccumulator EmptyLike()
    {
        var empty = _edges is null
            ? new CalibrationAccumulator(Bins, Rule, _thresholds) { Bootstrap = Bootstrap }
            : new CalibrationAccumulator(_edges, Rule, _thresholds) { Bootstrap = Bootstrap };
        empty.NextRow = NextRow;
        return empty;
    }

    /// <summary>Empty totals of this accumulator's shape and a binner for them.</summary>
    private (CalibrationTotals Totals, BlockBinner Binner) Part(int vectorWidth) =>
        (NewTotals(), new BlockBinner(Bins, Rule, _thresholds, vectorWidth, Bootstrap, _edges));

    /// <summary>Empty totals of this accumulator's shape, with bootstrap replicas if it keeps them.</summary>
    private CalibrationTotals NewTotals() => new(_totals.Count.Length, _thresholds.Length)
    {
        Replicas = Bootstrap is null ? null : new ReplicaTotals(_totals.Count.Length, Bootstrap, ReplicaBinner.Stride(Bootstrap), _thresholds.Length),
    };

    private static long CheckRows(string op, string argument, long length, ReadOnlySpan<int> labels, int classes)
    {
        long rows = Check.Rows(op, argument, length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        // one vectorised pass (half the time of a minimum and a maximum)
        int bad = labels.IndexOfAnyExceptInRange(0, classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {classes}).");
        return rows;
    }

    /// <summary>What makes a row invalid, for the error that names the row: the argument and the rule.</summary>
    private readonly record struct RowRule(string Argument, string Broken);

    private static RowRule InvalidProbabilities(bool unnormalized) => new("probabilities", unnormalized
        ? "has a negative or NaN entry, or a maximum above 1"
        : "is not a probability distribution (a negative or NaN entry, or a sum off 1 by more than 1e-3 + C · 2.4e-7); rows are validated, not renormalised (pass unnormalized: true for scores that are not meant to sum to 1)");

    private static readonly RowRule InvalidLogits = new("logits", "has NaN or +∞ logits");

    private static ArgumentException InvalidRow(string op, long row, RowRule rule) => new($"{op}: row {row} {rule.Broken}.", rule.Argument);
}
