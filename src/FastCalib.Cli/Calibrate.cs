using System.Text;
using System.Text.Json;

namespace FastCalib.Cli;

/// <summary>
/// 'fit' and 'apply' for binary calibrators: fit Platt scaling, beta calibration, isotonic regression or histogram
/// binning on scores and 0/1 labels into a JSON file (the library's format, with a "kind" field), and apply a saved
/// calibrator to new scores.
/// </summary>
public static class Calibrate
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static int Fit(Arguments a, TextWriter output, TextWriter error)
    {
        string method = a.Required("--method");
        if (method != "histogram" && a.Get("--bins") is not null) throw new UsageException("--bins is for --method histogram only.");
        int bins = a.Int("--bins", 15, 1, 100_000);
        var (scores, labels) = ReadPairs(a.Required("--scores"), a.Required("--labels"));
        BinaryCalibrator calibrator;
        try
        {
            calibrator = method switch
            {
                "platt" => PlattCalibrator.Fit(scores, labels),
                "beta" => BetaCalibrator.Fit(scores, labels),
                "isotonic" => IsotonicCalibrator.Fit(scores, labels),
                "histogram" => HistogramCalibrator.Fit(scores, labels, bins),
                _ => throw new UsageException($"--method must be platt, beta, isotonic or histogram, got '{method}'."),
            };
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{(e.ParamName == "targets" ? a.Required("--labels") : a.Required("--scores"))}: {Program.WithoutParameter(e)}");
        }
        string outPath = a.Required("--out");
        using (var file = new OutputFile(outPath, "--out"))
        {
            file.Guard(() => file.Stream.Write(Encoding.UTF8.GetBytes(calibrator.ToJson())));
            file.Commit();
        }
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

    public static int Apply(Arguments a, TextWriter output, TextWriter error)
    {
        string path = a.Required("--calibrator");
        if (!File.Exists(path)) throw new InputException($"{path}: no such file.");
        BinaryCalibrator calibrator;
        try
        {
            calibrator = BinaryCalibrator.FromJson(File.ReadAllText(path));
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

    /// <summary>Scores (one per row) and 0/1 labels, read whole (calibrators fit in memory).</summary>
    internal static (float[] Scores, int[] Labels) ReadPairs(string scoresSpec, string labelsSpec)
    {
        using var s = ArraySource.Open(scoresSpec);
        using var y = ArraySource.Open(labelsSpec);
        if (s.Cols != 1) throw new InputException($"{s.Name}: scores must be one value per row, got rows of {s.Cols}.");
        if (y.Cols != 1) throw new InputException($"{y.Name}: labels must be one value per row, got rows of {y.Cols}.");
        if (y.Rows != s.Rows) throw new InputException($"{y.Name}: {y.Rows} labels for {s.Rows} scores in {s.Name}.");
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
