using System.Reflection;
using System.Runtime.InteropServices;
using FastCalib;
using ScottPlot;
using SkiaSharp;

namespace FastCalib.Cli;

/// <summary>
/// The reliability diagram: accuracy per confidence bin as bars against the diagonal of perfect calibration, the gap
/// to each bin's mean confidence shaded (red where overconfident, blue where underconfident) and each bin's count
/// written above it; below, the histogram of confidences. torchmetrics' extra bin of confidences exactly 1.0 (real
/// models put much of their data there) is drawn as a narrow bar of its own just right of 1, labelled "= 1". PNG or
/// SVG by the file's extension.
/// </summary>
public static class ReliabilityDiagram
{
    /// <summary>The largest width or height accepted, in pixels.</summary>
    public const int MaxSide = 10_000;

    /// <summary>Where the bar of confidences exactly 1.0 sits, and its width, on the confidence axis.</summary>
    private const double OnePosition = 1.035, OneWidth = 0.03;

    /// <summary>
    /// Null where diagrams can be drawn; otherwise why not. The tool package ships SkiaSharp's native library only for
    /// the runtimes its project names (DrawingRuntimeIdentifiers, passed in as assembly metadata), so elsewhere every
    /// command works but drawing.
    /// </summary>
    public static string? Unavailable => s_unavailable.Value;

    private static readonly Lazy<string?> s_unavailable = new(() =>
    {
        try
        {
            using var probe = new SKBitmap(1, 1);   // loads the native library
            return null;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            string shipped = typeof(ReliabilityDiagram).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .FirstOrDefault(a => a.Key == "DrawingRuntimeIdentifiers")?.Value?.Replace(";", ", ") ?? "some runtimes";
            return $"drawing needs SkiaSharp's native library, which is not installed for this runtime ({RuntimeInformation.RuntimeIdentifier}); the tool package ships it for {shipped}";
        }
    });

    /// <param name="intervals">Bootstrap intervals: each bin's accuracy gets a whisker, the title the ECE's interval.</param>
    /// <param name="selective">Selective prediction: a third panel draws the risk–coverage curve, its AURC and E-AURC in the title.</param>
    public static void Save(CalibrationReport report, string path, int width, int height, string title, BootstrapReport? intervals = null,
        (SelectiveReport Report, IReadOnlyList<RiskCoveragePoint> Curve)? selective = null)
    {
        Pictures.CheckCanDraw(path);
        var (diagram, histogram) = Panels(report, title, intervals);
        // the diagram over the top 70% of the picture, the histogram below it; with the risk–coverage panel 55/20/25
        var panels = new List<(Plot Plot, float Share)> { (diagram, selective is null ? 0.7f : 0.55f), (histogram, selective is null ? 0.3f : 0.2f) };
        if (selective is { } s)
        {
            var curve = new Plot();
            var line = curve.Add.ScatterLine(s.Curve.Select(p => p.Coverage).ToArray(), s.Curve.Select(p => p.Risk).ToArray());
            line.LineWidth = 2;
            line.Color = Colors.DarkOrange;
            line.MarkerSize = 0;
            curve.Axes.SetLimits(0, 1, 0, Math.Max(0.05, s.Curve.Max(p => p.Risk) * 1.1));
            curve.Title($"Risk–coverage  AURC {s.Report.Aurc:F4}  E-AURC {s.Report.ExcessAurc:F4}  AUROC {s.Report.Auroc:F4}");
            curve.XLabel("coverage (share of predictions kept, most confident first)");
            curve.YLabel("risk (error rate)");
            panels.Add((curve, 0.25f));
        }
        Pictures.Save(path, width, height, panels);
    }

    /// <summary>
    /// Reliability diagrams of several reports side by side (one column each: the diagram over 70% of the height,
    /// the confidence histogram below it), as 'compare' draws the calibrators it compares.
    /// </summary>
    public static void SaveSideBySide(IReadOnlyList<(CalibrationReport Report, string Title)> reports, string path, int width, int height)
    {
        Pictures.CheckCanDraw(path);
        var cells = new List<(Plot Plot, SKRect Rect)>();
        float column = (float)width / reports.Count;
        for (int k = 0; k < reports.Count; k++)
        {
            var (diagram, histogram) = Panels(reports[k].Report, reports[k].Title, null, compact: true);
            cells.Add((diagram, SKRect.Create(k * column, 0, column, height * 0.7f)));
            cells.Add((histogram, SKRect.Create(k * column, height * 0.7f, column, height * 0.3f)));
        }
        Pictures.Save(path, width, height, cells);
    }

    /// <summary>The reliability diagram and the confidence histogram of one report (the title short with <paramref name="compact"/>).</summary>
    private static (Plot Diagram, Plot Histogram) Panels(CalibrationReport report, string title, BootstrapReport? intervals, bool compact = false)
    {
        var diagram = new Plot();
        var histogram = new Plot();
        bool hasOne = false;
        for (int i = 0; i < report.Bins.Count; i++)
        {
            var b = report.Bins[i];
            bool one = b.Upper <= b.Lower;   // torchmetrics' extra bin: confidence exactly 1.0
            if (one && b.Count == 0) continue;
            hasOne |= one;
            double center = one ? OnePosition : (b.Lower + b.Upper) / 2, size = one ? OneWidth : (b.Upper - b.Lower) * 0.92;
            histogram.Add.Bar(new Bar { Position = center, Value = b.Count, Size = size, FillColor = (one ? Colors.DimGray : Colors.Gray).WithAlpha(0.7) });
            if (b.Count == 0) continue;
            diagram.Add.Bar(new Bar { Position = center, Value = b.Accuracy, Size = size, FillColor = Colors.SteelBlue.WithAlpha(0.8) });
            bool over = b.MeanConfidence > b.Accuracy;
            diagram.Add.Bar(new Bar
            {
                Position = center, Value = b.MeanConfidence, ValueBase = b.Accuracy, Size = size,
                FillColor = (over ? Colors.Red : Colors.Blue).WithAlpha(0.3), LineColor = (over ? Colors.Red : Colors.Blue).WithAlpha(0.6),
            });
            double top = Math.Max(b.Accuracy, b.MeanConfidence);
            if (intervals?.BinAccuracy[i] is { } whisker && double.IsFinite(whisker.Low) && double.IsFinite(whisker.High))
            {
                // the accuracy's bootstrap interval: a vertical line with caps a third of the bar wide
                double cap = size / 6;
                foreach (var (x1, y1, x2, y2) in new[] { (center, whisker.Low, center, whisker.High), (center - cap, whisker.Low, center + cap, whisker.Low), (center - cap, whisker.High, center + cap, whisker.High) })
                {
                    var line = diagram.Add.Line(x1, y1, x2, y2);
                    line.LineColor = Colors.Black;
                    line.LineWidth = 1.5f;
                }
                top = Math.Max(top, whisker.High);
            }
            var label = diagram.Add.Text(b.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), center, top + 0.02);
            label.LabelFontSize = 10;
            label.LabelAlignment = Alignment.LowerCenter;
            if (one)
            {
                // the bar of confidences exactly 1.0 says so, above its count and above its histogram bar
                var mark = diagram.Add.Text("= 1", center, top + 0.06);
                mark.LabelFontSize = 10;
                mark.LabelAlignment = Alignment.LowerCenter;
                var histogramMark = histogram.Add.Text("= 1", center, b.Count);
                histogramMark.LabelFontSize = 10;
                histogramMark.LabelAlignment = Alignment.LowerCenter;
            }
        }
        var diagonal = diagram.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Black.WithAlpha(0.6);
        diagonal.LinePattern = LinePattern.Dashed;
        diagram.Legend.IsVisible = true;
        diagram.Legend.Alignment = Alignment.UpperLeft;
        diagram.Legend.ManualItems.Add(new LegendItem { LabelText = "accuracy", FillColor = Colors.SteelBlue.WithAlpha(0.8) });
        diagram.Legend.ManualItems.Add(new LegendItem { LabelText = "gap: overconfident", FillColor = Colors.Red.WithAlpha(0.3), OutlineColor = Colors.Red.WithAlpha(0.6) });
        diagram.Legend.ManualItems.Add(new LegendItem { LabelText = "gap: underconfident", FillColor = Colors.Blue.WithAlpha(0.3), OutlineColor = Colors.Blue.WithAlpha(0.6) });
        diagram.Legend.ManualItems.Add(new LegendItem { LabelText = "perfect calibration", LineColor = Colors.Black.WithAlpha(0.6), LinePattern = LinePattern.Dashed, LineWidth = 1 });
        if (intervals is not null)
            diagram.Legend.ManualItems.Add(new LegendItem
            {
                LabelText = $"accuracy, {intervals.Level * 100:0.##}% bootstrap interval ({intervals.Replicas} replicas)", LineColor = Colors.Black, LineWidth = 1.5f,
            });
        double right = hasOne ? OnePosition + OneWidth : 1;
        // confidence ticks stop at 1: the bar right of it is labelled by itself
        foreach (var plot in new[] { diagram, histogram })
        {
            var ticks = new ScottPlot.TickGenerators.NumericManual();
            for (int k = 0; k <= 10; k += compact ? 2 : 1) ticks.AddMajor(k / 10.0, (k / 10.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture));
            plot.Axes.Bottom.TickGenerator = ticks;
        }
        diagram.Axes.SetLimits(0, right, 0, 1.15);
        string eceInterval = intervals is null ? "" : $" [{intervals.Ece.Low:F4}, {intervals.Ece.High:F4}]";
        diagram.Title(compact
            ? $"{title}\nECE {report.Ece:F3}  MCE {report.Mce:F3}  NLL {report.NegativeLogLikelihood:F3}"
            : $"Reliability {title}  ECE {report.Ece:F4}{eceInterval}  MCE {report.Mce:F4}  accuracy {report.Accuracy:F4}  n {report.Count}");
        diagram.YLabel("accuracy");
        histogram.Axes.Margins(bottom: 0, top: 0.2);
        histogram.Axes.SetLimitsX(0, right);
        histogram.XLabel("confidence");
        histogram.YLabel("predictions");
        if (compact) diagram.Legend.IsVisible = false;
        return (diagram, histogram);
    }
}

/// <summary>Pictures of the tool: plots stacked in bands of a picture, written whole to a PNG or SVG file.</summary>
internal static class Pictures
{
    /// <summary>Checks the output path's extension and that drawing is available here (before any data is read).</summary>
    public static void CheckCanDraw(string path)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".png" or ".svg"))
            throw new UsageException($"--out must end in .png or .svg, got '{path}'.");
        if (ReliabilityDiagram.Unavailable is { } why)
            throw new InputException($"--out {path}: {why}; the numbers behind the picture come from the tool's text and JSON output.");
    }

    /// <summary>Draws <paramref name="panels"/> from the top, each over its share of the height, into <paramref name="path"/>.</summary>
    public static void Save(string path, int width, int height, IReadOnlyList<(Plot Plot, float Share)> panels)
    {
        var cells = new List<(Plot, SKRect)>();
        float top = 0;
        foreach (var (plot, share) in panels)
        {
            cells.Add((plot, SKRect.Create(0, top, width, height * share)));
            top += height * share;
        }
        Save(path, width, height, cells);
    }

    /// <summary>Draws each plot into its rectangle of the picture, into <paramref name="path"/>.</summary>
    public static void Save(string path, int width, int height, IReadOnlyList<(Plot Plot, SKRect Rect)> cells)
    {
        CheckCanDraw(path);
        void Draw(SKCanvas canvas)
        {
            canvas.Clear(SKColors.White);
            // each plot clears its background before drawing: clip it to its own part of the picture
            foreach (var (plot, rect) in cells)
            {
                canvas.Save();
                canvas.ClipRect(rect);
                plot.Render(canvas, new PixelRect(rect.Left, rect.Right, rect.Bottom, rect.Top));
                canvas.Restore();
            }
        }
        using var file = new OutputFile(path, "--out");
        if (Path.GetExtension(path).Equals(".png", StringComparison.OrdinalIgnoreCase))
        {
            using var surface = SKSurface.Create(new SKImageInfo(width, height))
                ?? throw new InputException($"--out {path}: could not create a {width} x {height} drawing surface (not enough memory).");
            Draw(surface.Canvas);
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            file.Guard(() => data.SaveTo(file.Stream));
        }
        else
        {
            file.Guard(() =>
            {
                using var canvas = SKSvgCanvas.Create(SKRect.Create(width, height), file.Stream);
                Draw(canvas);
            });
        }
        file.Commit();
    }
}
