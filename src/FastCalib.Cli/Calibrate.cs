using System.Text;
using System.Text.Json;

namespace FastCalib.Cli;

/// <summary>
/// 'fit' and 'apply': fit a temperature, vector or matrix scaling, Dirichlet calibration or ensemble temperature
/// scaling on a multiclass model's logits (or probabilities, as logits ln p), or Platt scaling, beta calibration,
/// isotonic regression or histogram binning on binary scores and 0/1 labels, into a JSON file (the library's format,
/// with a "kind" field), and apply a saved calibrator to new logits, probabilities or scores.
/// </summary>
public static class Calibrate
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static int Fit(Arguments a, TextWriter output, TextWriter error)
    {
        string method = a.Required("--method");
        if (method == "temperature" && a.Get("--probs") is null) return FitTemperature(a, output);
        if (MulticlassKinds.Contains(method)) return FitMulticlass(a, output, method);
        if (a.Get("--logits") is not null || a.Get("--probs") is not null)
            throw new UsageException($"--logits and --probs go with the multiclass methods ({string.Join(", ", MulticlassKinds)}); binary calibrators take --scores.");
        foreach (string option in new[] { "--lambda", "--mu" })
            if (a.Get(option) is not null) throw new UsageException($"{option} is for --method matrix or dirichlet only.");
        if (method != "histogram" && a.Get("--bins") is not null) throw new UsageException("--bins is for --method histogram only.");
        int bins = a.Int("--bins", 15, 1, 100_000);
        if (!BinaryKinds.Contains(method))
            throw new UsageException($"--method must be {string.Join(", ", MulticlassKinds)}, {string.Join(", ", BinaryKinds)}, got '{method}'.");
        var (scores, labels) = ReadPairs(a.Required("--scores"), a.Required("--labels"));
        var calibrator = FitBinary(method, scores, labels, bins, a.Required("--scores"), a.Required("--labels"), a.Device());
        string outPath = a.Required("--out");
        Save(calibrator.ToJson(), outPath);
        var calibrated = calibrator.Apply(scores);
        double before = Nll(scores, labels), after = Nll(calibrated, labels);
        if (a.Has("--json"))
            output.WriteLine(JsonSerializer.Serialize(new
            {
                method,
                n = scores.Length,
                nll_before = Commands.Finite(before),
                nll_after = Commands.Finite(after),
                calibrator = JsonDocument.Parse(calibrator.ToJson()).RootElement,
                @out = outPath,
            }, Json));
        else
        {
            output.WriteLine($"{method} calibrator fitted on {scores.Length:N0} scores: mean NLL {before:F4} -> {after:F4}");
            output.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    /// <summary>
    /// fit --method temperature: T* by streaming Newton passes over --logits and --labels (the files are read again
    /// each pass, as fit-temperature reads them), saved as a <see cref="TemperatureCalibrator"/>.
    /// </summary>
    private static int FitTemperature(Arguments a, TextWriter output)
    {
        if (a.Get("--scores") is not null) throw new UsageException("--method temperature takes --logits (a multiclass model's), not --scores.");
        if (a.Get("--bins") is not null) throw new UsageException("--bins is for --method histogram only.");
        foreach (string option in new[] { "--lambda", "--mu" })
            if (a.Get(option) is not null) throw new UsageException($"{option} is for --method matrix or dirichlet only.");
        string logits = a.Required("--logits"), labels = a.Required("--labels"), outPath = a.Required("--out");
        using (var z = ArraySource.Open(logits))
        using (var y = ArraySource.Open(labels))
        {
            CheckFittable(z, y, "a temperature");
        }
        var options = a.Device();
        var fit = TemperatureScaling.Fit(beta => Commands.StreamingPass(logits, labels, beta, options), Commands.RowsOf(logits));
        var calibrator = new TemperatureCalibrator(fit.Temperature);
        Save(calibrator.ToJson(), outPath);
        if (a.Has("--json"))
            output.WriteLine(JsonSerializer.Serialize(new
            {
                method = "temperature",
                n = Commands.RowsOf(logits),
                nll_before = Commands.Finite(fit.NllBefore),
                nll_after = Commands.Finite(fit.NllAfter),
                passes = fit.Passes,
                calibrator = JsonDocument.Parse(calibrator.ToJson()).RootElement,
                @out = outPath,
            }, Json));
        else
        {
            output.WriteLine($"temperature calibrator fitted: T* = {fit.Temperature.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)} ({fit.Passes} passes), mean NLL {fit.NllBefore:F4} -> {fit.NllAfter:F4}");
            output.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    /// <summary>The binary calibrators, as --method names them.</summary>
    internal static readonly string[] BinaryKinds = ["platt", "beta", "isotonic", "histogram"];

    /// <summary>One binary method's fit; the library's argument errors name the file they are about.</summary>
    internal static BinaryCalibrator FitBinary(string method, float[] scores, int[] labels, int bins, string scoresName, string labelsName, ComputeOptions options)
    {
        try
        {
            return method switch
            {
                "platt" => PlattCalibrator.Fit(scores, labels, true, options),
                "beta" => BetaCalibrator.Fit(scores, labels, options: options),
                "isotonic" => IsotonicCalibrator.Fit(scores, labels),
                _ => HistogramCalibrator.Fit(scores, labels, bins),
            };
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{(e.ParamName == "targets" ? labelsName : scoresName)}: {Program.WithoutParameter(e)}");
        }
    }

    /// <summary>The "kind" of each multiclass calibrator, as --method names it.</summary>
    internal static readonly string[] MulticlassKinds = ["temperature", "vector", "matrix", "dirichlet", "ets"];

    /// <summary>
    /// fit --method vector|matrix|dirichlet|ets (or temperature on --probs): the library's fit (<see cref="FitInput"/>),
    /// the calibrator saved.
    /// </summary>
    private static int FitMulticlass(Arguments a, TextWriter output, string method)
    {
        if (a.Get("--scores") is not null) throw new UsageException($"--method {method} takes a multiclass model's --logits or --probs, not --scores.");
        if (a.Get("--bins") is not null) throw new UsageException("--bins is for --method histogram only.");
        if (method is not ("matrix" or "dirichlet"))
            foreach (string option in new[] { "--lambda", "--mu" })
                if (a.Get(option) is not null) throw new UsageException($"{option} is for --method matrix or dirichlet only.");
        var penalty = new OdirPenalty(a.Penalty("--lambda"), a.Penalty("--mu"));
        string outPath = a.Required("--out");
        var input = FitInput.Open(a, "--logits", "--probs", "--labels", a.Device());
        var (fit, n, width) = (input.Fit(method, penalty), input.Rows, input.Classes);
        Save(fit.Calibrator.ToJson(), outPath);
        if (a.Has("--json"))
            output.WriteLine(JsonSerializer.Serialize(new
            {
                method,
                n,
                nll_before = Commands.Finite(fit.NllBefore),
                nll_after = Commands.Finite(fit.NllAfter),
                passes = fit.Passes,
                iterations = fit.Iterations,
                converged = fit.Converged,
                calibrator = JsonDocument.Parse(fit.Calibrator.ToJson()).RootElement,
                @out = outPath,
            }, Json));
        else
        {
            output.WriteLine($"{method} calibrator fitted on {n:N0} rows of {width} classes ({fit.Passes} passes{(fit.Converged ? "" : ", stopped before converging: see the documentation of MulticlassFit.Converged")}): mean NLL {fit.NllBefore:F4} -> {fit.NllAfter:F4}");
            output.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    /// <summary>One multiclass method's fit; the library's argument errors name the file they are about.</summary>
    internal static MulticlassFit<MulticlassCalibrator> FitOne(string method, float[] logits, int[] labels, int classes, OdirPenalty penalty, ComputeOptions options, string name, string labelsName)
    {
        try
        {
            return method switch
            {
                "vector" => Widened(VectorScalingCalibrator.Fit(logits, labels, classes, options)),
                "matrix" => Widened(MatrixScalingCalibrator.Fit(logits, labels, classes, penalty, options)),
                "dirichlet" => Widened(DirichletCalibrator.Fit(logits, labels, classes, penalty, options)),
                "ets" => Widened(EnsembleTemperatureCalibrator.Fit(logits, labels, classes, options)),
                _ => Temperature(TemperatureScaling.Fit(logits, labels, classes, options)),
            };
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{(e.ParamName == "labels" ? labelsName : name)}: {Program.WithoutParameter(e)}");
        }
    }

    internal static MulticlassFit<MulticlassCalibrator> Widened<T>(MulticlassFit<T> f) where T : MulticlassCalibrator =>
        new(f.Calibrator, f.NllBefore, f.NllAfter, f.Passes, f.Iterations, f.Converged, f.Tolerance);

    internal static MulticlassFit<MulticlassCalibrator> Temperature(TemperatureFit f) =>
        new(new TemperatureCalibrator(f.Temperature), f.NllBefore, f.NllAfter, f.Passes, 0, !f.AtBoundary, 1e-8);

    /// <summary>Logits (or probabilities) and labels a multiclass fit can use: labels per row, some rows, 2 classes or more.</summary>
    internal static void CheckFittable(ArraySource z, ArraySource y, string what)
    {
        Commands.CheckPair(z, y);
        if (z.Rows == 0) throw new InputException($"{z.Name}: has no rows; there is nothing to fit {what} on.");
        if (z.Cols < 2) throw new InputException($"{z.Name}: rows of {z.Cols} value; {what} needs at least 2 classes.");
    }

    /// <summary>Smallest probability whose logarithm --probs gives a calibrator (ln 0 has none).</summary>
    private const float SmallestProbability = 1e-30f;

    /// <summary>Logits, or probabilities as logits ln max(p, 1e-30), and labels, read whole (the options' names given).</summary>
    internal static (float[] Logits, int[] Labels, int Classes, string Name, string LabelsName) ReadMulticlass(Arguments a, string logitsOption, string probsOption, string labelsOption)
    {
        string? logits = a.Get(logitsOption), probs = a.Get(probsOption);
        if ((logits is null) == (probs is null)) throw new UsageException($"give one of {logitsOption} and {probsOption}.");
        using var z = ArraySource.Open(logits ?? probs!);
        using var y = ArraySource.Open(a.Required(labelsOption));
        CheckFittable(z, y, "a multiclass calibrator");
        if (z.Rows * z.Cols > Array.MaxLength) throw new InputException($"{z.Name}: {z.Rows:N0} x {z.Cols} values are more than this method reads into memory; use --method temperature, which streams.");
        var values = new float[z.Rows * z.Cols];
        var labels = new int[y.Rows];
        z.ReadFloats(values);
        y.ReadInts(labels);
        if (probs is not null) ToLogits(values, z.Cols, z.Name);
        return (values, labels, z.Cols, z.Name, y.Name);
    }

    /// <summary>Checks probability rows (in [0, 1], summing to 1 within 1e-3) and replaces them by ln max(p, 1e-30).</summary>
    internal static void ToLogits(float[] values, int cols, string name, long firstRow = 0)
    {
        int bad = Check.FirstOutside(values, 0, 1);
        if (bad >= 0) throw new InputException($"{name}: row {firstRow + bad / cols} holds {values[bad]}; probabilities must be in [0, 1].");
        for (int row = 0; row < values.Length / cols; row++)
        {
            var p = values.AsSpan(row * cols, cols);
            double sum = 0;
            foreach (float v in p) sum += v;
            if (Math.Abs(sum - 1) > 1e-3) throw new InputException($"{name}: row {firstRow + row} sums to {sum:G6}; probability rows must sum to 1.");
            for (int j = 0; j < cols; j++) p[j] = MathF.Log(MathF.Max(p[j], SmallestProbability));
        }
    }

    private static void Save(string json, string outPath)
    {
        using var file = new OutputFile(outPath, "--out");
        file.Guard(() => file.Stream.Write(Encoding.UTF8.GetBytes(json)));
        file.Commit();
    }

    /// <summary>The saved calibrator's "kind" field, or null when the file is not a JSON object with one.</summary>
    private static string? KindOf(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String
                ? kind.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static int Apply(Arguments a, TextWriter output, TextWriter error)
    {
        string path = a.Required("--calibrator");
        if (!File.Exists(path)) throw new InputException($"{path}: no such file.");
        string text = File.ReadAllText(path);
        if (KindOf(text) is { } kind && MulticlassKinds.Contains(kind)) return ApplyMulticlass(a, output, path, text);
        if (a.Get("--logits") is not null || a.Get("--probs") is not null) throw new InputException($"{path}: a binary calibrator; it applies to --scores, not --logits or --probs.");
        BinaryCalibrator calibrator;
        try
        {
            calibrator = BinaryCalibrator.FromJson(text);
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{path}: {Program.WithoutParameter(e)}");
        }
        using var source = ArraySource.Open(a.Required("--scores"));
        if (source.Cols != 1) throw new InputException($"{source.Name}: scores must be one value per row, got rows of {source.Cols}.");
        var scores = new float[source.Rows];
        source.ReadFloats(scores);
        var probabilities = calibrator.Apply(scores);
        string outPath = a.Required("--out");
        using var writer = new NpyWriter(outPath, probabilities.Length, 1, a.Has("--float64"));
        writer.Write(probabilities);
        writer.Commit();
        output.WriteLine($"wrote {outPath} ([{probabilities.Length}] calibrated probabilities of the positive class)");
        return 0;
    }

    /// <summary>apply with a multiclass calibrator: --logits [N, C] to calibrated probabilities [N, C], row block by row block.</summary>
    private static int ApplyMulticlass(Arguments a, TextWriter output, string path, string text)
    {
        MulticlassCalibrator calibrator;
        try
        {
            calibrator = MulticlassCalibrator.FromJson(text);
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{path}: {Program.WithoutParameter(e)}");
        }
        if (a.Get("--scores") is not null) throw new InputException($"{path}: a multiclass calibrator; it applies to --logits or --probs, not --scores.");
        string? logits = a.Get("--logits"), probs = a.Get("--probs");
        if ((logits is null) == (probs is null)) throw new UsageException("give one of --logits and --probs.");
        string outPath = a.Required("--out");
        // only the temperature has a device path; the others apply on the CPU
        var options = calibrator is TemperatureCalibrator or EnsembleTemperatureCalibrator ? a.Device() : default;
        using var source = ArraySource.Open(logits ?? probs!);
        if (source.IsInteger) throw new InputException($"{source.Name}: holds integers; logits and probabilities must be floating point.");
        if (source.Rows == 0) throw new InputException($"{source.Name}: has no rows; there is nothing to calibrate.");
        int cols = source.Cols;
        using var writer = new NpyWriter(outPath, source.Rows, cols, a.Has("--float64"));
        int chunk = Math.Max(1, (1 << 22) / cols);
        for (long start = 0; start < source.Rows;)
        {
            int n = (int)Math.Min(chunk, source.Rows - start);
            var values = new float[n * cols];
            source.ReadFloats(values);
            if (probs is not null) ToLogits(values, cols, source.Name, start);
            int bad = Check.FirstNonFinite(values);
            if (bad >= 0) throw new InputException($"{source.Name}: row {start + bad / cols} has a NaN or infinite logit, which has no calibrated probability.");
            try
            {
                calibrator.Apply(values, values, cols, options);
            }
            catch (ArgumentException e)
            {
                throw new InputException($"{path}: {Program.WithoutParameter(e)} ({source.Name} has rows of {cols})");
            }
            writer.Write(values);
            start += n;
        }
        writer.Commit();
        output.WriteLine($"wrote {outPath} ([{source.Rows} x {cols}] calibrated probabilities)");
        return 0;
    }

    /// <summary>Scores (one per row) and 0/1 labels, read whole (calibrators fit in memory).</summary>
    internal static (float[] Scores, int[] Labels) ReadPairs(string scoresSpec, string labelsSpec)
    {
        using var s = ArraySource.Open(scoresSpec);
        using var y = ArraySource.Open(labelsSpec);
        Commands.CheckScores(s, y);
        if (s.Rows > Array.MaxLength) throw new InputException($"{s.Name}: {s.Rows:N0} scores are more than one array holds.");
        var scores = new float[s.Rows];
        var labels = new int[y.Rows];
        s.ReadFloats(scores);
        y.ReadInts(labels);
        return (scores, labels);
    }

    /// <summary>Mean binary NLL of probabilities of the positive class (scores outside [0, 1] give NaN).</summary>
    private static double Nll(float[] p, int[] y)
    {
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double q = y[i] == 1 ? p[i] : 1 - p[i];
            sum += q < 0 || q > 1 || double.IsNaN(q) ? double.NaN : -Math.Log(q);
        }
        return sum / p.Length;
    }
}

/// <summary>
/// Logits (or ln max(p, 1e-30) of probability rows) and labels read from two files block by block, again on every
/// visit, each block checked as it is read (finite logits, probability rows, labels in range; errors name the file
/// and the row): the input of the streaming fits and of compare's held-out evaluation.
/// </summary>
internal sealed class CheckedBlocks
{
    private readonly string _values, _labels;
    private readonly bool _probabilities;

    private CheckedBlocks(string values, string labels, bool probabilities, long rows, int classes, string name, string labelsName)
    {
        (_values, _labels, _probabilities, Rows, Classes, Name, LabelsName) = (values, labels, probabilities, rows, classes, name, labelsName);
    }

    public long Rows { get; }

    public int Classes { get; }

    /// <summary>The values' file as messages name it.</summary>
    public string Name { get; }

    /// <summary>The labels' file as messages name it.</summary>
    public string LabelsName { get; }

    /// <summary>The files of one of the two options (logits or probabilities) and of the labels, checked to be a usable pair.</summary>
    public static CheckedBlocks Open(Arguments a, string logitsOption, string probsOption, string labelsOption)
    {
        string? logits = a.Get(logitsOption), probs = a.Get(probsOption);
        if ((logits is null) == (probs is null)) throw new UsageException($"give one of {logitsOption} and {probsOption}.");
        string values = logits ?? probs!, labels = a.Required(labelsOption);
        using var z = ArraySource.Open(values);
        using var y = ArraySource.Open(labels);
        Calibrate.CheckFittable(z, y, "a multiclass calibrator");
        return new CheckedBlocks(values, labels, probs is not null, z.Rows, z.Cols, z.Name, y.Name);
    }

    public void ForEachBlock(SpanFitBlock visit)
    {
        using var z = ArraySource.Open(_values);
        using var y = ArraySource.Open(_labels);
        // 2^22 values a block (fewer where a test lowers the library's block size)
        int chunk = (int)Math.Min(Math.Max(1, (1 << 22) / Classes), TensorRows.RowsPerBlock(Classes));
        for (long start = 0; start < Rows;)
        {
            int n = (int)Math.Min(chunk, Rows - start);
            var values = new float[n * Classes];
            var labels = new int[n];
            z.ReadFloats(values);
            y.ReadInts(labels);
            if (_probabilities) Calibrate.ToLogits(values, Classes, Name, start);
            int bad = Check.FirstNonFinite(values);
            if (bad >= 0) throw new InputException($"{Name}: row {start + bad / Classes} has a NaN or infinite logit; fitting needs finite logits.");
            bad = labels.AsSpan().IndexOfAnyExceptInRange(0, Classes - 1);
            if (bad >= 0) throw new InputException($"{LabelsName}: label {start + bad} is {labels[bad]}; labels must be in [0, {Classes}).");
            visit(values, labels, start);
            start += n;
        }
    }
}

/// <summary>
/// The fitting files of multiclass fits: on the CPU every fit streams them block by block on every pass (a full
/// matrix keeps a sample of 4096 rows, ETS two float64 numbers a row), each block checked as it is read; on a device
/// they are read whole once, here, and each fit uploads them.
/// </summary>
internal sealed class FitInput
{
    private readonly CheckedBlocks? _blocks;
    private readonly (float[] Logits, int[] Labels, string LabelsName)? _whole;
    private readonly ComputeOptions _options;

    private FitInput(CheckedBlocks? blocks, (float[], int[], string)? whole, long rows, int classes, string name, ComputeOptions options) =>
        (_blocks, _whole, Rows, Classes, Name, _options) = (blocks, whole, rows, classes, name, options);

    public long Rows { get; }

    public int Classes { get; }

    /// <summary>The values' file as messages name it.</summary>
    public string Name { get; }

    public static FitInput Open(Arguments a, string logitsOption, string probsOption, string labelsOption, ComputeOptions options)
    {
        if (options.Backend == Backend.Gpu)
        {
            var (logits, labels, c, name, labelsName) = Calibrate.ReadMulticlass(a, logitsOption, probsOption, labelsOption);
            return new FitInput(null, (logits, labels, labelsName), labels.Length, c, name, options);
        }
        var blocks = CheckedBlocks.Open(a, logitsOption, probsOption, labelsOption);
        return new FitInput(blocks, null, blocks.Rows, blocks.Classes, blocks.Name, options);
    }

    /// <summary>One method's fit; the library's argument errors name the file they are about.</summary>
    public MulticlassFit<MulticlassCalibrator> Fit(string method, OdirPenalty penalty)
    {
        if (_whole is var (logits, labels, labelsName))
            return Calibrate.FitOne(method, logits, labels, Classes, penalty, _options, Name, labelsName);
        var blocks = _blocks!;
        long rows = Rows;
        int classes = Classes;
        string op = $"fit --method {method}";
        try
        {
            return method switch
            {
                "vector" => Calibrate.Widened(AffineScaling.Fit(op, rows, blocks.ForEachBlock, classes, full: false, logSoftmax: false, default, _options,
                    t => VectorScalingCalibrator.From(t, classes))),
                "matrix" => Calibrate.Widened(AffineScaling.Fit(op, rows, blocks.ForEachBlock, classes, full: true, logSoftmax: false, penalty, _options,
                    t => MatrixScalingCalibrator.From(t, classes))),
                "dirichlet" => Calibrate.Widened(AffineScaling.Fit(op, rows, blocks.ForEachBlock, classes, full: true, logSoftmax: true, penalty, _options,
                    t => DirichletCalibrator.From(t, classes))),
                "ets" => Calibrate.Widened(EnsembleTemperature.Fit(rows, blocks.ForEachBlock, classes, _options)),
                _ => Calibrate.Temperature(TemperatureScaling.Fit(rows, blocks.ForEachBlock, classes, _options)),
            };
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{Name}: {Program.WithoutParameter(e)}");
        }
    }
}
