using System.Text.Json;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>fastcalib thresholds: AUROC, average precision and decision thresholds of a binary classifier's scores.</summary>
public static class Thresholds
{
    public static int Run(Arguments a, TextWriter output, TextWriter error)
    {
        double? targetPrecision = a.Share("--target-precision"), targetRecall = a.Share("--target-recall");
        string scoresFile = a.Required("--scores"), labelsFile = a.Required("--labels");
        var (scores, labels) = Calibrate.ReadPairs(scoresFile, labelsFile);
        if (scores.Length == 0) throw new InputException($"{scoresFile}: has no rows; there is nothing to rank.");
        BinaryThresholds t;
        try
        {
            t = BinaryCurves.Thresholds(scores, labels, targetPrecision, targetRecall);
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{(e.ParamName == "labels" ? labelsFile : scoresFile)}: {Commands.Strip(e.Message)}");
        }
        if (a.Has("--json"))
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                n = t.Count,
                positives = t.Positives,
                auroc = Commands.Finite(t.Auroc),
                average_precision = Commands.Finite(t.AveragePrecision),
                youden = Json(t.Youden),
                max_f1 = Json(t.MaxF1),
                target_precision = Json(t.TargetPrecision),
                target_recall = Json(t.TargetRecall),
            }));
            return 0;
        }
        output.WriteLine($"predictions        {t.Count} ({t.Positives} positive)");
        output.WriteLine($"AUROC              {Number(t.Auroc)}");
        output.WriteLine($"average precision  {Number(t.AveragePrecision)}");
        output.WriteLine();
        output.WriteLine("  choice                 threshold  precision     recall        FPR");
        Row(output, "largest Youden's J", t.Youden);
        Row(output, "largest F1", t.MaxF1);
        if (targetPrecision is { } p) Row(output, $"precision >= {p:0.###}", t.TargetPrecision);
        if (targetRecall is { } r) Row(output, $"recall >= {r:0.###}", t.TargetRecall);
        return 0;
    }

    private static object? Json(OperatingPoint? point) => point is { } p
        ? new { threshold = (float)p.Threshold, precision = Commands.Finite(p.Precision), recall = Commands.Finite(p.Recall), fpr = Commands.Finite(p.FalsePositiveRate) }
        : null;

    private static string Number(double v) => double.IsFinite(v) ? v.ToString("F4", System.Globalization.CultureInfo.InvariantCulture) : "-";

    private static void Row(TextWriter o, string name, OperatingPoint? point)
    {
        if (point is not { } p)
        {
            o.WriteLine($"  {name,-20}  {"none",10}");
            return;
        }
        o.WriteLine($"  {name,-20}  {p.Threshold,10:G6}  {Number(p.Precision),9}  {Number(p.Recall),9}  {Number(p.FalsePositiveRate),9}");
    }
}
