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
        int? bins = a.Has("--histogram") ? a.Int("--histogram", 0, 2, 1 << 24) : null;
        BinaryThresholds t;
        (double Auroc, double AveragePrecision)? bounds = null;
        if (bins is { } b)
        {
            var histogram = Stream(scoresFile, labelsFile, b);
            t = histogram.Thresholds(targetPrecision, targetRecall);
            bounds = (histogram.Auroc().ErrorBound, histogram.AveragePrecision().ErrorBound);
        }
        else
        {
            var (scores, labels) = Calibrate.ReadPairs(scoresFile, labelsFile);
            if (scores.Length == 0) throw new InputException($"{scoresFile}: has no rows; there is nothing to rank.");
            try
            {
                t = BinaryCurves.Thresholds(scores, labels, targetPrecision, targetRecall);
            }
            catch (ArgumentException e)
            {
                throw new InputException($"{(e.ParamName == "labels" ? labelsFile : scoresFile)}: {Commands.Strip(e.Message)}");
            }
        }
        if (a.Has("--json"))
        {
            var json = new Dictionary<string, object?>
            {
                ["n"] = t.Count,
                ["positives"] = t.Positives,
                ["auroc"] = Commands.Finite(t.Auroc),
                ["average_precision"] = Commands.Finite(t.AveragePrecision),
                ["youden"] = Json(t.Youden),
                ["max_f1"] = Json(t.MaxF1),
                ["target_precision"] = Json(t.TargetPrecision),
                ["target_recall"] = Json(t.TargetRecall),
            };
            if (bounds is { } e)
            {
                json["histogram_bins"] = bins;
                json["auroc_bound"] = Commands.Finite(e.Auroc);
                json["average_precision_bound"] = Commands.Finite(e.AveragePrecision);
            }
            output.WriteLine(JsonSerializer.Serialize(json));
            return 0;
        }
        output.WriteLine($"predictions        {t.Count} ({t.Positives} positive)");
        output.WriteLine($"AUROC              {Number(t.Auroc)}{(bounds is { } ba ? $" (within {Number(ba.Auroc)} of the exact value; {bins} bins)" : "")}");
        output.WriteLine($"average precision  {Number(t.AveragePrecision)}{(bounds is { } bp ? $" (within {Number(bp.AveragePrecision)})" : "")}");
        output.WriteLine();
        output.WriteLine("  choice                 threshold  precision     recall        FPR");
        Row(output, "largest Youden's J", t.Youden);
        Row(output, "largest F1", t.MaxF1);
        if (targetPrecision is { } p) Row(output, $"precision >= {p:0.###}", t.TargetPrecision);
        if (targetRecall is { } r) Row(output, $"recall >= {r:0.###}", t.TargetRecall);
        return 0;
    }

    /// <summary>Scores and labels read block by block into a histogram; errors name the file and the row.</summary>
    private static ScoreHistogram Stream(string scoresFile, string labelsFile, int bins)
    {
        using var s = ArraySource.Open(scoresFile);
        using var y = ArraySource.Open(labelsFile);
        Commands.CheckScores(s, y);
        if (s.Rows == 0) throw new InputException($"{s.Name}: has no rows; there is nothing to rank.");
        var histogram = new ScoreHistogram(bins);
        // 2^20 rows a block (fewer where a test lowers the library's block size)
        var scores = new float[(int)Math.Min(s.Rows, Math.Min(1 << 20, TensorRows.RowsPerBlock(1)))];
        var labels = new int[scores.Length];
        for (long start = 0; start < s.Rows; start += scores.Length)
        {
            int n = (int)Math.Min(scores.Length, s.Rows - start);
            s.ReadFloats(scores.AsSpan(0, n));
            y.ReadInts(labels.AsSpan(0, n));
            // checked here, so that the error names the file's row (the library would name the block's index)
            int bad = Check.FirstOutside(scores.AsSpan(0, n), 0f, 1f);
            if (bad >= 0) throw new InputException($"{s.Name}: scores[{start + bad}] is {scores[bad]}; --histogram takes scores in [0, 1] (probabilities of the positive class).");
            bad = labels.AsSpan(0, n).IndexOfAnyExceptInRange(0, 1);
            if (bad >= 0) throw new InputException($"{y.Name}: labels[{start + bad}] is {labels[bad]}; binary labels must be 0 or 1.");
            histogram.Add(scores.AsSpan(0, n), labels.AsSpan(0, n));
        }
        return histogram;
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
