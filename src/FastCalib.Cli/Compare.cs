using System.Globalization;
using System.Text.Json;

namespace FastCalib.Cli;

/// <summary>
/// 'compare': fit each named calibrator (multiclass on logits or probabilities, or binary on --fit-scores) on one
/// labelled set and report the calibration metrics of each, and of the uncalibrated model, on a held-out set: a
/// table (or JSON) of NLL, ECE, MCE, Brier and accuracy, and with --out one picture of their reliability diagrams
/// side by side. For binary scores the metrics are torchmetrics' binary ones, and the uncalibrated row appears
/// only when the scores are probabilities.
/// </summary>
public static class Compare
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static int Run(Arguments a, TextWriter output, TextWriter error)
    {
        bool binary = a.Get("--fit-scores") is not null;
        string[] kinds = binary ? Calibrate.BinaryKinds : Calibrate.MulticlassKinds;
        var methods = (a.Get("--methods") ?? string.Join(",", kinds)).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        foreach (string method in methods)
            if (!kinds.Contains(method))
                throw new UsageException($"--methods takes a comma-separated list of {string.Join(", ", kinds)}{(binary ? " with --fit-scores" : "")}; got '{method}'.");
        if (methods.Length == 0) throw new UsageException("--methods names no method.");
        if (methods.Distinct().Count() != methods.Length) throw new UsageException("--methods names a method twice.");
        int bins = a.Int("--bins", 15, 1, CalibrationAccumulator.MaxBins);
        var rule = a.Binning();
        string? picture = a.Get("--out");
        if (picture is not null) Pictures.CheckCanDraw(picture);
        var rows = binary ? Binary(a, methods, bins, rule, out var fitN, out var evalN, out var fitName, out var evalName, out int classes)
            : Multiclass(a, methods, bins, rule, out fitN, out evalN, out fitName, out evalName, out classes);

        if (picture is not null)
        {
            int width = a.Int("--width", 360 * rows.Count, 100, ReliabilityDiagram.MaxSide), height = a.Int("--height", 420, 100, ReliabilityDiagram.MaxSide);
            ReliabilityDiagram.SaveSideBySide([.. rows.Select(r => (r.Report, r.Method))], picture, width, height);
        }
        if (a.Has("--json"))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                n_fit = fitN,
                n_eval = evalN,
                classes,
                bins,
                binning = a.Get("--binning") ?? "torchmetrics",
                results = rows.Select(r => new
                {
                    method = r.Method,
                    nll = Commands.Finite(r.Report.NegativeLogLikelihood),
                    ece = Commands.Finite(r.Report.Ece),
                    mce = Commands.Finite(r.Report.Mce),
                    brier = Commands.Finite(r.Report.Brier),
                    accuracy = Commands.Finite(r.Report.Accuracy),
                    passes = r.Passes,
                    converged = r.Converged,
                    calibrator = r.Calibrator is null ? (JsonElement?)null : JsonDocument.Parse(r.Calibrator).RootElement,
                }),
                @out = picture,
            }, Json));
        }
        else
        {
            output.WriteLine($"fitted on {fitN:N0} rows of {fitName}, evaluated on {evalN:N0} held-out rows of {evalName} ({(binary ? "binary scores" : $"{classes} classes")}, {bins} bins{(a.Get("--binning") is { } name ? $", --binning {name}" : "")})");
            output.WriteLine();
            output.WriteLine($"{"method",-14} {"NLL",9} {"ECE",9} {"MCE",9} {"Brier",9} {"accuracy",9} {"passes",7}");
            foreach (var (method, report, passes, converged, _) in rows)
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{method,-14} {report.NegativeLogLikelihood,9:F4} {report.Ece,9:F4} {report.Mce,9:F4} {report.Brier,9:F4} {report.Accuracy,9:F4} {(passes is null ? "" : passes + (converged == false ? "*" : "")),7}"));
            if (rows.Any(r => r.Converged == false)) output.WriteLine("* stopped before converging (see MulticlassFit.Converged)");
            if (picture is not null) output.WriteLine($"wrote {picture}");
        }
        return 0;
    }

    private static List<(string Method, CalibrationReport Report, int? Passes, bool? Converged, string? Calibrator)> Multiclass(Arguments a, string[] methods, int bins, BinningRule rule,
        out long fitN, out long evalN, out string fitName, out string evalName, out int classes)
    {
        foreach (string option in new[] { "--eval-scores" })
            if (a.Get(option) is not null) throw new UsageException($"{option} goes with --fit-scores (binary calibrators).");
        if ((a.Get("--eval-logits") is null) == (a.Get("--eval-probs") is null)) throw new UsageException("give one of --eval-logits and --eval-probs.");
        var penalty = new OdirPenalty(a.Penalty("--lambda"), a.Penalty("--mu"));
        var device = a.Device();
        var held = CheckedBlocks.Open(a, "--eval-logits", "--eval-probs", "--eval-labels");
        var input = FitInput.Open(a, "--fit-logits", "--fit-probs", "--fit-labels", device);
        int c = input.Classes;
        if (held.Classes != c) throw new InputException($"{held.Name}: rows of {held.Classes} classes; {input.Name} has {c}.");
        (fitN, evalN, fitName, evalName, classes) = (input.Rows, held.Rows, input.Name, held.Name, c);
        var fits = methods.Select(method => (Method: method, Result: input.Fit(method, penalty))).ToArray();
        // the held-out rows stream by: one visit adds each block to the raw model's accumulator and to every method's
        var raw = new CalibrationAccumulator(bins, rule);
        var calibrated = fits.Select(_ => new CalibrationAccumulator(bins, rule)).ToArray();
        held.ForEachBlock((z, y, _) =>
        {
            for (int k = 0; k < fits.Length; k++)
                CalibrationEvaluation.AddMulticlass(fits[k].Result.Calibrator, k == 0 ? raw : null, calibrated[k], z, y, c, default);
        });
        var rows = new List<(string, CalibrationReport, int?, bool?, string?)> { ("uncalibrated", raw.Report(), null, null, null) };
        for (int k = 0; k < fits.Length; k++)
        {
            var fit = fits[k].Result;
            rows.Add((fits[k].Method, calibrated[k].Report(), fit.Passes, fit.Converged, fit.Calibrator.ToJson()));
        }
        return rows;
    }

    /// <summary>Binary: --fit-scores/--fit-labels and --eval-scores/--eval-labels, the raw scores' row only if they are probabilities.</summary>
    private static List<(string Method, CalibrationReport Report, int? Passes, bool? Converged, string? Calibrator)> Binary(Arguments a, string[] methods, int bins, BinningRule rule,
        out long fitN, out long evalN, out string fitName, out string evalName, out int classes)
    {
        foreach (string option in new[] { "--fit-logits", "--fit-probs", "--eval-logits", "--eval-probs", "--lambda", "--mu" })
            if (a.Get(option) is not null) throw new UsageException($"{option} does not go with --fit-scores (binary calibrators).");
        string fitScores = a.Required("--fit-scores"), fitLabels = a.Required("--fit-labels"), evalScores = a.Required("--eval-scores");
        var (scores, labels) = Calibrate.ReadPairs(fitScores, fitLabels);
        var (heldOut, heldOutLabels) = Calibrate.ReadPairs(evalScores, a.Required("--eval-labels"));
        int bad = heldOutLabels.AsSpan().IndexOfAnyExceptInRange(0, 1);
        if (bad >= 0) throw new InputException($"{a.Get("--eval-labels")}: label {bad} is {heldOutLabels[bad]}; binary labels must be 0 or 1.");
        bad = Check.FirstNonFinite(heldOut);
        if (bad >= 0) throw new InputException($"{evalScores}: score {bad} is {heldOut[bad]}; scores must be finite.");
        (fitN, evalN, fitName, evalName, classes) = (scores.Length, heldOut.Length, fitScores, evalScores, 2);
        var rows = new List<(string, CalibrationReport, int?, bool?, string?)>();
        var fitted = methods.Select(m => (m, Calibrate.FitBinary(m, scores, labels, a.Int("--bins", 15, 1, 100_000), fitScores, fitLabels, a.Device()))).ToArray();
        var first = CalibrationEvaluation.Binary(fitted[0].Item2, heldOut, heldOutLabels, bins, rule);
        if (first.Before is { } raw) rows.Add(("uncalibrated", raw, null, null, null));
        foreach (var (method, calibrator) in fitted)
            rows.Add((method, CalibrationEvaluation.Binary(calibrator, heldOut, heldOutLabels, bins, rule).After, null, null, calibrator.ToJson()));
        return rows;
    }
}
