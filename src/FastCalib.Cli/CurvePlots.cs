using FastCalib;
using ScottPlot;

namespace FastCalib.Cli;

/// <summary>
/// The ROC and precision–recall curves of a binary classifier's scores (plot --roc, --pr): the curve, the line of a
/// classifier without skill (the diagonal; the positives' share), and the threshold of largest Youden's J or F1 marked
/// with its value. Curves of many points are thinned to a few thousand for drawing; the numbers come from every point.
/// </summary>
internal static class CurvePlots
{
    private const int MaxPoints = 4000;

    public static void Save(string path, int width, int height, string title, float[] scores, int[] labels, bool roc, bool pr)
    {
        Pictures.CheckCanDraw(path);
        var t = BinaryCurves.Thresholds(scores, labels);
        var panels = new List<(Plot Plot, float Share)>();
        float share = roc && pr ? 0.5f : 1f;
        if (roc)
        {
            var curve = BinaryCurves.Roc(scores, labels);
            panels.Add((Panel(curve.FalsePositiveRate, curve.TruePositiveRate, Colors.SteelBlue, (0, 0, 1, 1), t.Youden, p => (p.FalsePositiveRate, p.Recall),
                "largest Youden's J", $"ROC {title}  AUROC {t.Auroc:F4}  n {t.Count}", "false positive rate", "true positive rate (recall)"), share));
        }
        if (pr)
        {
            var curve = BinaryCurves.PrecisionRecall(scores, labels);
            double positives = t.Count == 0 ? 0 : (double)t.Positives / t.Count;
            panels.Add((Panel(curve.Recall, curve.Precision, Colors.DarkOrange, (0, positives, 1, positives), t.MaxF1, p => (p.Recall, p.Precision),
                "largest F1", $"Precision–recall {title}  AP {t.AveragePrecision:F4}  positives {t.Positives} of {t.Count}", "recall", "precision"), share));
        }
        Pictures.Save(path, width, height, panels);
    }

    /// <summary>One curve on the unit square with the line of no skill (from, to) and one operating point marked.</summary>
    private static Plot Panel(double[] x, double[] y, Color color, (double X1, double Y1, double X2, double Y2) chance, OperatingPoint? point,
        Func<OperatingPoint, (double X, double Y)> at, string what, string title, string xLabel, string yLabel)
    {
        var plot = Curve(x, y, color);
        var line = plot.Add.Line(chance.X1, chance.Y1, chance.X2, chance.Y2);
        line.LineColor = Colors.Gray.WithAlpha(0.7);
        line.LineWidth = 1;
        Mark(plot, point, at, what);
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.Axes.SetLimits(0, 1, 0, 1.02);
        return plot;
    }

    private static Plot Curve(double[] x, double[] y, Color color)
    {
        var plot = new Plot();
        int n = x.Length, step = Math.Max(1, (n + MaxPoints - 1) / MaxPoints);
        // every step-th point and always the last, NaN rates (one class only) left out
        var kept = Enumerable.Range(0, n).Where(i => (i % step == 0 || i == n - 1) && double.IsFinite(x[i]) && double.IsFinite(y[i])).ToArray();
        var line = plot.Add.ScatterLine(kept.Select(i => x[i]).ToArray(), kept.Select(i => y[i]).ToArray());
        line.LineWidth = 2;
        line.MarkerSize = 0;
        line.Color = color;
        return plot;
    }

    private static void Mark(Plot plot, OperatingPoint? point, Func<OperatingPoint, (double X, double Y)> at, string what)
    {
        if (point is not { } p) return;
        var (x, y) = at(p);
        if (!double.IsFinite(x) || !double.IsFinite(y)) return;
        var marker = plot.Add.Marker(x, y);
        marker.MarkerSize = 9;
        marker.Color = Colors.Black;
        var label = plot.Add.Text($"{what}: threshold {p.Threshold:G4}", x, y);
        label.LabelFontSize = 11;
        label.LabelAlignment = Alignment.UpperLeft;
        label.OffsetX = 6;
        label.OffsetY = 4;
    }
}
