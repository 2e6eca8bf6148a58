using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>A progress bar on stderr for long runs, shown only on a terminal.</summary>
/// <summary>A progress bar on stderr for long runs, shown only on a terminal: share done, rows a second, time left.</summary>
public sealed class Progress(TextWriter error, string what, long total)
{
    private readonly bool _show = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected && total > 2_000_000;
    private readonly Stopwatch _watch = Stopwatch.StartNew();
    private int _shown = -1;

    public void Report(long done)
    {
        if (!_show) return;
        int percent = (int)(100 * done / Math.Max(1, total));
        if (percent == _shown) return;
        _shown = percent;
        double seconds = Math.Max(_watch.Elapsed.TotalSeconds, 1e-3), rate = done / seconds;
        string left = done >= total || rate <= 0 ? "done" : $"{TimeSpan.FromSeconds((total - done) / rate):mm\\:ss} left";
        error.Write($"\r{what} [{new string('#', percent / 4),-25}] {percent,3}%  {rate / 1e6:F1} M rows/s  {left}   ");
        if (done >= total) error.WriteLine();
    }
}

/// <summary>The file commands: report, fit-temperature, plot, softmax, entropy, fft-magnitude.</summary>
public static class Commands
{
    /// <summary>Rows per chunk read from a file: about 16 million values.</summary>
    private static int ChunkRows(int cols) => Math.Max(1, (1 << 24) / cols);

    internal static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static int Report(Arguments a, TextWriter output, TextWriter error)
    {
        int bins = a.Bins();
        var options = a.Device();
        bool selective = a.Has("--risk-coverage");
        var bootstrap = a.Bootstrap();
        double level = a.Level();
        if (bootstrap is not null && a.Get("--save-state") is not null)
            throw new UsageException("--save-state and --bootstrap do not go together: a state does not carry bootstrap replicas.");
        if (a.Edges() is not null && a.Get("--save-state") is not null)
            throw new UsageException("--save-state and --edges do not go together: a state holds equal-width bins only.");
        var (calibration, pairs, _) = Accumulate(a, bins, a.Binning(), a.Temperature(), options, error, collectConfidences: a.Has("--adaptive") || selective, bootstrap);
        var report = calibration.Report();
        var intervals = bootstrap is null ? null : calibration.BootstrapIntervals(level);
        var adaptiveReport = pairs is null || !a.Has("--adaptive") ? null : AdaptiveCalibration.Compute(pairs.Value.Confidence, pairs.Value.Correct, bins);
        var (selectiveReport, curve) = pairs is null || !selective
            ? (null, null)
            : SelectivePrediction.WithCurve(pairs.Value.Confidence, pairs.Value.Correct, 200);
        if (a.Get("--save-state") is { } state) StateFiles.Save(calibration, state, "--save-state");
        if (a.Has("--json")) output.WriteLine(JsonSerializer.Serialize(ToJson(report, adaptiveReport, selectiveReport, intervals, curve), Json));
        else WriteReport(output, report, adaptiveReport, a.Binning(), selectiveReport, intervals);
        return 0;
    }

    /// <summary>Merges saved states (each may itself be a sum of states) and reports on everything they hold.</summary>
    public static int Merge(Arguments a, TextWriter output, TextWriter error)
    {
        var files = a.Files;
        if (files.Length == 0) throw new UsageException("give one or more state files.");
        var merged = StateFiles.Load(files[0]);
        foreach (string file in files.Skip(1))
        {
            var part = StateFiles.Load(file);
            if (part.Bins != merged.Bins || part.Rule != merged.Rule || !part.Thresholds.SequenceEqual(merged.Thresholds))
                throw new InputException($"{file}: a state of {StateFiles.Shape(part)}; {files[0]} has {StateFiles.Shape(merged)}. Only states of one shape merge.");
            merged.Merge(part);
        }
        if (merged.Count == 0) throw new InputException($"{string.Join(", ", files)}: the states hold no predictions; there is nothing to report on.");
        if (a.Get("--save-state") is { } state) StateFiles.Save(merged, state, "--save-state");
        var report = merged.Report();
        if (a.Has("--json")) output.WriteLine(JsonSerializer.Serialize(ToJson(report, null), Json));
        else WriteReport(output, report, null, merged.Rule);
        return 0;
    }

    public static int FitTemperature(Arguments a, TextWriter output, TextWriter error)
    {
        int bins = a.Bins();
        var options = a.Device();
        string logits = a.Required("--logits"), labels = a.Required("--labels");
        using (var z = ArraySource.Open(logits))
        using (var y = ArraySource.Open(labels))
        {
            CheckPair(z, y);
            if (z.Rows == 0) throw new InputException($"{z.Name}: has no rows; there is nothing to fit a temperature on.");
            if (z.Cols < 2) throw new InputException($"{z.Name}: rows of {z.Cols} value; a temperature needs at least 2 classes.");
        }
        // every Newton pass streams the files again, so they never need to fit in memory
        var watch = Stopwatch.StartNew();
        var fit = TemperatureScaling.Fit(beta => StreamingPass(logits, labels, beta, options), RowsOf(logits));
        double seconds = watch.Elapsed.TotalSeconds;
        var before = Accumulate(Reopen(logits, labels), bins, a.Binning(), 1f, options, error, false).Calibration.Report();
        var after = Accumulate(Reopen(logits, labels), bins, a.Binning(), fit.Temperature, options, error, false).Calibration.Report();
        if (a.Has("--json"))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                temperature = fit.Temperature,
                nll_before = Finite(fit.NllBefore),
                nll_after = Finite(fit.NllAfter),
                ece_before = Finite(before.Ece),
                ece_after = Finite(after.Ece),
                passes = fit.Passes,
                at_boundary = fit.AtBoundary,
                before = ToJson(before, null),
                after = ToJson(after, null),
            }, Json));
        }
        else
        {
            output.WriteLine($"temperature T* = {fit.Temperature.ToString("G6", CultureInfo.InvariantCulture)} ({fit.Passes} fused passes, {seconds:F2} s){(fit.AtBoundary ? " — at the edge of the search range [0.01, 100]" : "")}");
            output.WriteLine($"NLL {fit.NllBefore:F4} -> {fit.NllAfter:F4}, ECE {before.Ece:F4} -> {after.Ece:F4}, MCE {before.Mce:F4} -> {after.Mce:F4}");
            output.WriteLine();
            output.WriteLine("after temperature scaling:");
            WriteReport(output, after, null, a.Binning());
        }
        return 0;
    }

    public static int Plot(Arguments a, TextWriter output, TextWriter error)
    {
        string path = a.Required("--out");
        int width = a.Int("--width", 900, 100, ReliabilityDiagram.MaxSide), height = a.Int("--height", 800, 100, ReliabilityDiagram.MaxSide);
        var bootstrap = a.Bootstrap();
        double level = a.Level();
        bool riskCoverage = a.Has("--risk-coverage");
        if (a.Has("--roc") || a.Has("--pr"))
        {
            foreach (string other in new[] { "--probs", "--logits", "--votes", "--temperature", "--unnormalized", "--bootstrap", "--risk-coverage", "--edges", "--bins" })
                if (a.Has(other)) throw new UsageException($"{other} does not go with --roc or --pr (they draw binary --scores and --labels).");
            string scoresFile = a.Required("--scores"), labelsFile = a.Required("--labels");
            var (scores, labels) = Calibrate.ReadPairs(scoresFile, labelsFile);
            if (scores.Length == 0) throw new InputException($"{scoresFile}: has no rows; there is nothing to draw.");
            try
            {
                CurvePlots.Save(path, width, height, Path.GetFileName(scoresFile), scores, labels, a.Has("--roc"), a.Has("--pr"));
            }
            catch (ArgumentException e)
            {
                throw new InputException($"{(e.ParamName == "labels" ? labelsFile : scoresFile)}: {Strip(e.Message)}");
            }
            output.WriteLine($"wrote {path} ({width} x {height})");
            return 0;
        }
        var (calibration, pairs, _) = Accumulate(a, a.Bins(), a.Binning(), a.Temperature(), a.Device(), error, riskCoverage, bootstrap);
        var selective = pairs is { } v ? SelectivePrediction.WithCurve(v.Confidence, v.Correct, 500) : ((SelectiveReport, IReadOnlyList<RiskCoveragePoint>)?)null;
        ReliabilityDiagram.Save(calibration.Report(), path, width, height, Path.GetFileName(a.Get("--probs") ?? a.Get("--logits") ?? a.Get("--votes") ?? a.Get("--scores")) ?? "",
            bootstrap is null ? null : calibration.BootstrapIntervals(level), selective);
        output.WriteLine($"wrote {path} ({width} x {height})");
        return 0;
    }

    public static int Softmax(Arguments a, TextWriter output, TextWriter error) =>
        FromLogits(a, output, error, "softmax", FastCalib.Softmax.Forward);

    public static int LogSoftmax(Arguments a, TextWriter output, TextWriter error) =>
        FromLogits(a, output, error, "log-softmax", FastCalib.Softmax.LogForward);

    private delegate void RowwiseLogits(ReadOnlySpan<float> logits, Span<float> result, int classes, float temperature, ComputeOptions options);

    /// <summary>softmax or log-softmax of --logits at --temperature, row block by row block, into --out.</summary>
    private static int FromLogits(Arguments a, TextWriter output, TextWriter error, string what, RowwiseLogits kernel)
    {
        float temperature = a.Temperature();
        var options = a.Device();
        return Map(a.Required("--logits"), a.Required("--out"), a.Has("--float64"), error, what, source => source.Cols,
            (input, result, cols) => kernel(input, result, cols, temperature, options),
            "has NaN or +∞ logits (or only −∞), which have no softmax", output);
    }

    public static int Entropy(Arguments a, TextWriter output, TextWriter error)
    {
        var options = a.Device();
        return Map(a.Required("--probs"), a.Required("--out"), a.Has("--float64"), error, "entropy", _ => 1,
            (input, result, cols) => FastCalib.Entropy.FromProbabilities(input, result, cols, EntropyUnit.Nats, options),
            "is not a probability distribution", output);
    }

    public static int FftMagnitude(Arguments a, TextWriter output, TextWriter error)
    {
        var options = new FourierFeatureOptions
        {
            Shift = a.Has("--shift"),
            Log1p = a.Has("--log1p"),
            Standardize = a.Has("--standardize"),
            Clip = a.Has("--clip") ? a.Float("--clip", 0f) : 0f,
            HalfSpectrum = a.Has("--half"),
        };
        if (a.Has("--clip") && !(options.Clip > 0)) throw new UsageException("--clip must be greater than 0.");
        var compute = a.Device();
        string outPath = a.Required("--out");
        using var source = ArraySource.Open(a.Required("--images"));
        if (source.IsInteger) throw new InputException($"{source.Name}: holds integers; fft-magnitude needs floating-point images.");
        var shape = source.Shape;
        if (shape.Length < 2)
            throw new InputException($"{source.Name}: shape ({string.Join(", ", shape)}) is not images; give [H, W], [N, H, W] or [N, C, H, W].");
        if (shape[^1] > int.MaxValue || shape[^2] > int.MaxValue)
            throw new InputException($"{source.Name}: images of {shape[^2]} x {shape[^1]} are too large.");
        int height = (int)shape[^2], width = (int)shape[^1];
        long images = 1;
        foreach (long d in shape[..^2]) images = checked(images * d);
        long pixels = (long)height * width, outputs = FourierFeatures.OutputLength(1, height, width, options.HalfSpectrum);
        var outShape = shape.ToArray();
        outShape[^1] = outputs / height;
        using var writer = new NpyWriter(outPath, outShape, a.Has("--float64") ? "<f8" : "<f4");
        var progress = new Progress(error, "fft-magnitude", images);
        long perChunk = Math.Max(1, (1L << 24) / pixels);
        for (long done = 0; done < images;)
        {
            int n = (int)Math.Min(perChunk, images - done);
            var x = new float[n * pixels];
            var y = new float[n * outputs];
            source.ReadFloats(x);
            FourierFeatures.Magnitude(x, y, height, width, options, compute);
            int bad = Check.FirstNonFinite(y);
            if (bad >= 0) throw new InputException($"{source.Name}: image {done + bad / outputs} has NaN or infinite pixels (or a spectrum beyond float range).");
            writer.Write(y);
            done += n;
            progress.Report(done);
        }
        writer.Commit();
        output.WriteLine($"wrote {outPath} ([{string.Join(" x ", outShape)}] {(a.Has("--float64") ? "float64" : "float32")})");
        return 0;
    }

    /// <summary>
    /// Streams a [rows, cols] file through a row kernel into a .npy of [rows, outCols]; a non-finite result is an
    /// error naming its row (<paramref name="nonFinite"/> says why), and the output file appears only when complete.
    /// </summary>
    private static int Map(string input, string outPath, bool float64, TextWriter error, string what, Func<ArraySource, int> outCols,
        Action<float[], float[], int> kernel, string nonFinite, TextWriter output)
    {
        using var source = ArraySource.Open(input);
        if (source.IsInteger) throw new InputException($"{source.Name}: holds integers; {what} needs floating-point values.");
        int cols = source.Cols, resultCols = outCols(source);
        using var writer = new NpyWriter(outPath, source.Rows, resultCols, float64);
        var progress = new Progress(error, what, source.Rows);
        for (long start = 0; start < source.Rows;)
        {
            int n = (int)Math.Min(ChunkRows(cols), source.Rows - start);
            var values = new float[n * cols];
            var result = new float[n * resultCols];
            source.ReadFloats(values);
            try
            {
                kernel(values, result, cols);
            }
            catch (ArgumentException e)
            {
                throw new InputException($"{source.Name}: {Strip(e.Message)}{(start > 0 ? $" (row numbers counted from row {start})" : "")}");
            }
            int bad = Check.FirstNonFinite(result);
            if (bad >= 0) throw new InputException($"{source.Name}: row {start + bad / resultCols} {nonFinite}.");
            writer.Write(result);
            start += n;
            progress.Report(start);
        }
        writer.Commit();
        output.WriteLine($"wrote {outPath} ([{source.Rows} x {resultCols}] {(float64 ? "float64" : "float32")})");
        return 0;
    }

    /// <summary>Reads --probs or --logits with --labels chunk by chunk into an accumulator (and, if asked, all confidences).</summary>
    private static (CalibrationAccumulator Calibration, (float[] Confidence, bool[] Correct)? Adaptive, long Rows) Accumulate(
        Arguments a, int bins, BinningRule rule, float temperature, ComputeOptions options, TextWriter error, bool collectConfidences, BootstrapOptions? bootstrap = null)
    {
        if (a.Has("--binary")) return AccumulateBinary(a, bins, rule, error, collectConfidences, bootstrap);
        if (a.Get("--scores") is not null) throw new UsageException("--scores goes with --binary (or use --probs, --logits or --votes).");
        string? probs = a.Get("--probs"), logits = a.Get("--logits"), votes = a.Get("--votes");
        if ((probs is null ? 0 : 1) + (logits is null ? 0 : 1) + (votes is null ? 0 : 1) != 1)
            throw new UsageException("give exactly one of --probs, --logits and --votes.");
        if (logits is null && a.Has("--temperature")) throw new UsageException("--temperature applies to --logits.");
        if (probs is null && a.Has("--unnormalized")) throw new UsageException("--unnormalized applies to --probs.");
        if (votes is not null)
            return AccumulateVotes(votes, a.Required("--labels"), bins, rule, options, error, collectConfidences, bootstrap, a.Edges());
        return Accumulate((probs ?? logits!, a.Required("--labels"), logits is not null), bins, rule, temperature, options, error, collectConfidences, a.Has("--unnormalized"), bootstrap, a.Edges());
    }

    private static (string Values, string Labels, bool Logits) Reopen(string logits, string labels) => (logits, labels, true);

    private static (CalibrationAccumulator Calibration, (float[] Confidence, bool[] Correct)? Adaptive, long Rows) Accumulate(
        (string Values, string Labels, bool Logits) files, int bins, BinningRule rule, float temperature, ComputeOptions options, TextWriter error, bool collectConfidences,
        bool unnormalized = false, BootstrapOptions? bootstrap = null, float[]? edges = null)
    {
        using var values = ArraySource.Open(files.Values);
        using var labels = ArraySource.Open(files.Labels);
        CheckPair(values, labels);
        int cols = values.Cols;
        var calibration = NewAccumulator(bins, rule, bootstrap, edges);
        return ReadInChunks(values, labels, calibration, error, n =>
        {
            var x = new float[n * cols];
            var y = new int[n];
            values.ReadFloats(x);
            labels.ReadInts(y);
            if (files.Logits) calibration.AddLogits(x, y, cols, temperature, options);
            else calibration.AddProbabilities(x, y, cols, options, unnormalized);
            if (!collectConfidences) return null;
            var confidence = new float[n];
            var predicted = new int[n];
            if (files.Logits) FastCalib.Softmax.Top1(x, confidence, predicted, cols, temperature, options);
            else
                for (int r = 0; r < n; r++)
                {
                    predicted[r] = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(x.AsSpan(r * cols, cols));
                    confidence[r] = x[r * cols + predicted[r]];
                }
            return (confidence, predicted.Select((k, r) => k == y[r]).ToArray());
        });
    }

    /// <summary>Reads binary --scores (probability of the positive class) and 0/1 --labels chunk by chunk (<see cref="CalibrationAccumulator.AddBinary(ReadOnlySpan{float}, ReadOnlySpan{int})"/>).</summary>
    private static (CalibrationAccumulator Calibration, (float[] Confidence, bool[] Correct)? Adaptive, long Rows) AccumulateBinary(
        Arguments a, int bins, BinningRule rule, TextWriter error, bool collectConfidences, BootstrapOptions? bootstrap)
    {
        foreach (string other in new[] { "--probs", "--logits", "--votes", "--temperature", "--unnormalized", "--risk-coverage" })
            if (a.Has(other)) throw new UsageException($"{other} does not go with --binary.");
        using var scores = ArraySource.Open(a.Required("--scores"));
        using var labels = ArraySource.Open(a.Required("--labels"));
        CheckScores(scores, labels);
        var calibration = NewAccumulator(bins, rule, bootstrap, a.Edges());
        return ReadInChunks(scores, labels, calibration, error, n =>
        {
            var p = new float[n];
            var y = new int[n];
            scores.ReadFloats(p);
            labels.ReadInts(y);
            calibration.AddBinary(p, y);
            return collectConfidences ? (p, y.Select(v => v == 1).ToArray()) : null;
        });
    }

    /// <summary>
    /// Reads sampled answers [N, S] (class ids, -1 outside the classes) with --labels chunk by chunk: the majority
    /// class is the prediction and its share of the S answers the confidence (<see cref="CalibrationAccumulator.AddVotes"/>).
    /// </summary>
    private static (CalibrationAccumulator Calibration, (float[] Confidence, bool[] Correct)? Adaptive, long Rows) AccumulateVotes(
        string votesFile, string labelsFile, int bins, BinningRule rule, ComputeOptions options, TextWriter error, bool collectConfidences,
        BootstrapOptions? bootstrap, float[]? edges)
    {
        using var votes = ArraySource.Open(votesFile);
        using var labels = ArraySource.Open(labelsFile);
        CheckLabels(votes, labels);
        int samples = votes.Cols;
        var calibration = NewAccumulator(bins, rule, bootstrap, edges);
        return ReadInChunks(votes, labels, calibration, error, n =>
        {
            var answers = new int[n * samples];
            var y = new int[n];
            votes.ReadInts(answers);
            labels.ReadInts(y);
            if (!collectConfidences)
            {
                calibration.AddVotes(answers, y, samples, options);
                return null;
            }
            var confidence = new List<float>(n);
            var correct = new List<bool>(n);
            calibration.AddVotes(answers, y, samples, options, (c, ok) =>
            {
                foreach (float v in c) confidence.Add(v);
                foreach (bool v in ok) correct.Add(v);
            });
            return (confidence.ToArray(), correct.ToArray());
        });
    }

    /// <summary>
    /// The chunk loop of the metric commands: <paramref name="addChunk"/> reads and adds the next n rows of both files
    /// and returns their (confidence, correct) pairs when they are collected (null otherwise); a library error becomes
    /// one line naming the labels file (for a label) or the values file, with row numbers of the chunk.
    /// </summary>
    private static (CalibrationAccumulator Calibration, (float[] Confidence, bool[] Correct)? Adaptive, long Rows) ReadInChunks(
        ArraySource values, ArraySource labels, CalibrationAccumulator calibration, TextWriter error, Func<int, (float[] Confidence, bool[] Correct)?> addChunk)
    {
        if (values.Rows == 0) throw new InputException($"{values.Name}: has no rows; there is nothing to report on.");
        List<float>? confidences = null;
        List<bool>? correct = null;
        var progress = new Progress(error, "reading", values.Rows);
        for (long start = 0; start < values.Rows;)
        {
            int n = (int)Math.Min(ChunkRows(values.Cols), values.Rows - start);
            (float[] Confidence, bool[] Correct)? pairs;
            try
            {
                pairs = addChunk(n);
            }
            catch (ArgumentException e)
            {
                // a label's problem is the labels file's; the rest is the values file's
                string file = e.ParamName is "labels" or "target" ? labels.Name : values.Name;
                throw new InputException($"{file}: {Strip(e.Message)}{(start > 0 ? $" (row numbers counted from row {start})" : "")}");
            }
            if (pairs is { } p)
            {
                (confidences ??= []).AddRange(p.Confidence);
                (correct ??= []).AddRange(p.Correct);
            }
            start += n;
            progress.Report(start);
        }
        return (calibration, confidences is null ? null : (confidences.ToArray(), correct!.ToArray()), values.Rows);
    }

    /// <summary>The accumulator a metric command fills: equal-width bins, or the custom edges when given.</summary>
    private static CalibrationAccumulator NewAccumulator(int bins, BinningRule rule, BootstrapOptions? bootstrap, float[]? edges) =>
        edges is null
            ? new CalibrationAccumulator(bins, rule) { Bootstrap = bootstrap }
            : new CalibrationAccumulator(edges, rule) { Bootstrap = bootstrap };

    internal static string Strip(string message)
    {
        int colon = message.IndexOf(": ", StringComparison.Ordinal);
        string text = colon > 0 && colon < 50 ? message[(colon + 2)..] : message;
        int parameter = text.IndexOf(" (Parameter", StringComparison.Ordinal);
        return parameter > 0 ? text[..parameter] : text;
    }

    internal static void CheckPair(ArraySource values, ArraySource labels)
    {
        if (values.IsInteger) throw new InputException($"{values.Name}: holds integers; probabilities and logits must be floating point.");
        CheckLabels(values, labels);
    }

    /// <summary>Labels one value per row, as many as the values' rows.</summary>
    internal static void CheckLabels(ArraySource values, ArraySource labels, string rows = "rows")
    {
        if (labels.Cols != 1) throw new InputException($"{labels.Name}: labels must be one value per row, got rows of {labels.Cols}.");
        if (labels.Rows != values.Rows)
            throw new InputException($"{labels.Name}: {labels.Rows} labels for {values.Rows} {rows} in {values.Name}.");
    }

    /// <summary>Binary scores one value per row, with their labels.</summary>
    internal static void CheckScores(ArraySource scores, ArraySource labels)
    {
        if (scores.Cols != 1) throw new InputException($"{scores.Name}: scores must be one value per row, got rows of {scores.Cols}.");
        CheckLabels(scores, labels, "scores");
    }

    internal static long RowsOf(string logits)
    {
        using var z = ArraySource.Open(logits);
        return z.Rows;
    }

    /// <summary>One Newton pass over the files: sums of the per-row NLL and its derivatives in 1/T.</summary>
    internal static (double, double, double) StreamingPass(string logits, string labels, double beta, ComputeOptions options)
    {
        using var z = ArraySource.Open(logits);
        using var y = ArraySource.Open(labels);
        double f = 0, g = 0, h = 0;
        for (long start = 0; start < z.Rows;)
        {
            int n = (int)Math.Min(ChunkRows(z.Cols), z.Rows - start);
            var x = new float[n * z.Cols];
            var l = new int[n];
            z.ReadFloats(x);
            y.ReadInts(l);
            try
            {
                var (mf, mg, mh) = TemperatureScaling.Evaluate(x, l, z.Cols, beta, options);
                f += mf * n;
                g += mg * n;
                h += mh * n;
            }
            catch (ArgumentException e)
            {
                throw new InputException($"{(e.ParamName == "labels" ? y.Name : z.Name)}: {Strip(e.Message)}{(start > 0 ? $" (row numbers counted from row {start})" : "")}");
            }
            start += n;
        }
        return (f, g, h);
    }

    /// <summary>
    /// The report as JSON values: every number is finite or null (JSON has no NaN or infinity). Null means NaN (a bin
    /// nothing fell in) or, for nll, +∞ (a row gave its label probability 0); nll_infinite says which.
    /// </summary>
    internal static object ToJson(CalibrationReport r, CalibrationReport? adaptive, SelectiveReport? selective = null, BootstrapReport? ci = null,
        IReadOnlyList<RiskCoveragePoint>? curve = null) => new
    {
        n = r.Count,
        bin_count = r.Bins.Count,
        accuracy = Finite(r.Accuracy),
        ece = Finite(r.Ece),
        mce = Finite(r.Mce),
        rmsce = Finite(r.Rmsce),
        rmsce_debiased = Finite(r.RmsceDebiased),
        nll = Finite(r.NegativeLogLikelihood),
        nll_infinite = double.IsPositiveInfinity(r.NegativeLogLikelihood),
        brier = Finite(r.Brier),
        mean_confidence = Finite(r.MeanConfidence),
        bins = r.Bins.Select((b, i) => new { lower = b.Lower, upper = b.Upper, count = b.Count, confidence = Finite(b.MeanConfidence), accuracy = Finite(b.Accuracy), accuracy_ci = Pair(ci?.BinAccuracy[i]) }),
        overconfidence = r.Thresholds.Select((t, i) => new
        {
            threshold = t.Threshold, coverage = Finite(t.Coverage), accuracy = Finite(t.Accuracy),
            coverage_ci = Pair(ci?.ThresholdCoverage[i]), accuracy_ci = Pair(ci?.ThresholdAccuracy[i]),
        }),
        adaptive_ece = adaptive is null ? null : Finite(adaptive.Ece),
        adaptive_mce = adaptive is null ? null : Finite(adaptive.Mce),
        bootstrap_replicas = ci?.Replicas,
        ci_level = ci?.Level,
        ece_ci = Pair(ci?.Ece),
        mce_ci = Pair(ci?.Mce),
        rmsce_ci = Pair(ci?.Rmsce),
        rmsce_debiased_ci = Pair(ci?.RmsceDebiased),
        accuracy_ci = Pair(ci?.Accuracy),
        mean_confidence_ci = Pair(ci?.MeanConfidence),
        nll_ci = Pair(ci?.NegativeLogLikelihood),
        brier_ci = Pair(ci?.Brier),
        aurc = selective is null ? null : Finite(selective.Aurc),
        eaurc = selective is null ? null : Finite(selective.ExcessAurc),
        auroc = selective is null ? null : Finite(selective.Auroc),
        risk_coverage = curve?.Select(p => new { threshold = p.Threshold, coverage = p.Coverage, risk = p.Risk }),
    };

    internal static double? Finite(double v) => double.IsFinite(v) ? v : null;

    /// <summary>An interval as a JSON pair [low, high], or null when there is none (either end not finite).</summary>
    private static double[]? Pair(Interval? i) => i is { } v && double.IsFinite(v.Low) && double.IsFinite(v.High) ? [v.Low, v.High] : null;

    /// <summary>A bin as an interval in the notation of its rule: [lo, hi) left-closed, (lo, hi] right-closed, closed ends where the rule closes them.</summary>
    private static string Interval(ReliabilityBin b, BinningRule rule)
    {
        if (b.Upper <= b.Lower) return $"exactly {b.Lower:F3}";   // torchmetrics' bin of confidence 1.0
        bool first = b.Lower == 0, last = b.Upper >= 1;
        return rule switch
        {
            BinningRule.ClosedLastBin => $"[{b.Lower:F3}, {b.Upper:F3}{(last ? "]" : ")")}",
            BinningRule.RightClosed => $"{(first ? "[" : "(")}{b.Lower:F3}, {b.Upper:F3}]",
            BinningRule.GuoReference => $"({b.Lower:F3}, {b.Upper:F3}]",
            _ => $"[{b.Lower:F3}, {b.Upper:F3})",
        };
    }

    internal static void WriteReport(TextWriter o, CalibrationReport r, CalibrationReport? adaptive, BinningRule rule = BinningRule.TorchMetrics,
        SelectiveReport? selective = null, BootstrapReport? ci = null)
    {
        // "  [low, high]" after a number when bootstrap intervals were asked for
        string In(Interval? i) => i is { } v ? $"   [{v.Low:F4}, {v.High:F4}]" : "";
        o.WriteLine($"predictions      {r.Count}");
        if (ci is not null) o.WriteLine($"intervals        {ci.Level * 100:0.##}% percentile bootstrap over {ci.Replicas} Poisson replicas");
        o.WriteLine($"accuracy         {r.Accuracy:F4}{In(ci?.Accuracy)}");
        o.WriteLine($"mean confidence  {r.MeanConfidence:F4}   (confidence - accuracy {r.MeanConfidence - r.Accuracy:+0.0000;-0.0000})");
        o.WriteLine($"ECE              {r.Ece:F4}{In(ci?.Ece)}");
        o.WriteLine($"MCE              {r.Mce:F4}{In(ci?.Mce)}");
        o.WriteLine($"RMS CE           {r.Rmsce:F4}{In(ci?.Rmsce)}   (debiased {r.RmsceDebiased:F4}{In(ci?.RmsceDebiased)})");
        if (double.IsNaN(r.NegativeLogLikelihood) && double.IsNaN(r.Brier))
            o.WriteLine("NLL, Brier       - (confidences without probabilities)");
        else
        {
            o.WriteLine($"NLL              {r.NegativeLogLikelihood:F4}{In(ci?.NegativeLogLikelihood)}");
            o.WriteLine($"Brier            {r.Brier:F4}{In(ci?.Brier)}");
        }
        if (adaptive is not null) o.WriteLine($"adaptive ECE     {adaptive.Ece:F4} (equal-mass bins), adaptive MCE {adaptive.Mce:F4}");
        if (selective is not null)
            o.WriteLine($"AURC             {selective.Aurc:F4}   (E-AURC {selective.ExcessAurc:F4}, AUROC of confidence {selective.Auroc:F4})");
        for (int i = 0; i < r.Thresholds.Count; i++)
        {
            var t = r.Thresholds[i];
            string coverage = ci is null ? "" : $" [{ci.ThresholdCoverage[i].Low:P1}, {ci.ThresholdCoverage[i].High:P1}]";
            o.WriteLine($"confidence >= {t.Threshold:F2}: {t.Coverage:P1}{coverage} of predictions, accuracy {t.Accuracy:F4}{In(ci?.ThresholdAccuracy[i])}");
        }
        o.WriteLine();
        o.WriteLine("  bin               count  confidence  accuracy      gap");
        foreach (var b in r.Bins.Where(b => b.Count > 0))
            o.WriteLine($"  {Interval(b, rule),-14}  {b.Count,10}  {b.MeanConfidence,10:F4}  {b.Accuracy,8:F4}  {b.Gap,+7:+0.0000;-0.0000}");
    }
}
