using System.Globalization;
using System.Text.Json;

namespace FastCalib.Cli;

/// <summary>
/// 'compare': fit each named multiclass calibrator on one labelled set and report the calibration metrics of each,
/// and of the uncalibrated model, on a held-out set: a table (or JSON) of NLL, ECE, MCE, Brier and accuracy, and
/// with --out one picture of their reliability diagrams side by side.
/// </summary>
public static class Compare
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static int Run(Arguments a, TextWriter output, TextWriter error)
    {
        var methods = (a.Get("--methods") ?? string.Join(",", Calibrate.MulticlassKinds)).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (string method in methods)
            if (!Calibrate.MulticlassKinds.Contains(method))
                throw new UsageException($"--methods takes a comma-separated list of {string.Join(", ", Calibrate.MulticlassKinds)}; got '{method}'.");
        if (methods.Length == 0) throw new UsageException("--methods names no method.");
        if (methods.Distinct().Count() != methods.Length) throw new UsageException("--methods names a method twice.");
        int bins = a.Int("--bins", 15, 1, CalibrationAccumulator.MaxBins);
        string? picture = a.Get("--out");
        if (picture is not null) Pictures.CheckCanDraw(picture);
        var penalty = new OdirPenalty(a.Penalty("--lambda"), a.Penalty("--mu"));
        var (fitLogits, fitLabels, classes, fitName, fitLabelsName) = Calibrate.ReadMulticlass(a, "--fit-logits", "--fit-probs", "--fit-labels");
        var (evalLogits, evalLabels, evalClasses, evalName, _) = Calibrate.ReadMulticlass(a, "--eval-logits", "--eval-probs", "--eval-labels");
        if (evalClasses != classes) throw new InputException($"{evalName}: rows of {evalClasses} classes; {fitName} has {classes}.");
        int bad = evalLabels.AsSpan().IndexOfAnyExceptInRange(0, classes - 1);
        if (bad >= 0) throw new InputException($"{a.Get("--eval-labels")}: label {bad} is {evalLabels[bad]}; labels must be in [0, {classes}).");

        // only the temperature (and ETS's temperature) fit on a device; everything else on the CPU
        var device = a.Device();
        var rows = new List<(string Method, CalibrationReport Report, MulticlassFit<MulticlassCalibrator>? Fit)>();
        var before = CalibrationEvaluation.Multiclass(new TemperatureCalibrator(1f), evalLogits, evalLabels, classes, bins).Before!;
        rows.Add(("uncalibrated", before, null));
        foreach (string method in methods)
        {
            var options = method is "temperature" or "ets" ? device : default;
            var fit = Calibrate.FitOne(method, fitLogits, fitLabels, classes, penalty, options, fitName, fitLabelsName);
            rows.Add((method, CalibrationEvaluation.Multiclass(fit.Calibrator, evalLogits, evalLabels, classes, bins).After, fit));
        }

        if (picture is not null)
        {
            int width = a.Int("--width", 360 * rows.Count, 100, ReliabilityDiagram.MaxSide), height = a.Int("--height", 420, 100, ReliabilityDiagram.MaxSide);
            ReliabilityDiagram.SaveSideBySide([.. rows.Select(r => (r.Report, r.Method))], picture, width, height);
        }
        if (a.Has("--json"))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                n_fit = fitLabels.Length,
                n_eval = evalLabels.Length,
                classes,
                bins,
                results = rows.Select(r => new
                {
                    method = r.Method,
                    nll = Commands.Finite(r.Report.NegativeLogLikelihood),
                    ece = Commands.Finite(r.Report.Ece),
                    mce = Commands.Finite(r.Report.Mce),
                    brier = Commands.Finite(r.Report.Brier),
                    accuracy = Commands.Finite(r.Report.Accuracy),
                    fit_nll = r.Fit is null ? null : Commands.Finite(r.Fit.NllAfter),
                    passes = r.Fit?.Passes,
                    converged = r.Fit?.Converged,
                    calibrator = r.Fit is null ? (JsonElement?)null : JsonDocument.Parse(r.Fit.Calibrator.ToJson()).RootElement,
                }),
                @out = picture,
            }, Json));
        }
        else
        {
            output.WriteLine($"fitted on {fitLabels.Length:N0} rows of {fitName}, evaluated on {evalLabels.Length:N0} held-out rows of {evalName} ({classes} classes, {bins} bins)");
            output.WriteLine();
            output.WriteLine($"{"method",-14} {"NLL",9} {"ECE",9} {"MCE",9} {"Brier",9} {"accuracy",9} {"passes",7}");
            foreach (var (method, report, fit) in rows)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{method,-14} {report.NegativeLogLikelihood,9:F4} {report.Ece,9:F4} {report.Mce,9:F4} {report.Brier,9:F4} {report.Accuracy,9:F4} {(fit is null ? "" : fit.Passes + (fit.Converged ? "" : "*")),7}"));
            if (rows.Any(r => r.Fit is { Converged: false })) output.WriteLine("* stopped before converging (see MulticlassFit.Converged)");
            if (picture is not null) output.WriteLine($"wrote {picture}");
        }
        return 0;
    }
}
