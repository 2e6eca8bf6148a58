using FastCalib;
using ScottPlot;
using SkiaSharp;

namespace FastCalib.Cli;

/// <summary>
/// The reliability diagram: accuracy per confidence bin as bars against the diagonal of perfect calibration, the gap
/// to each bin's mean confidence shaded (red where overconfident, blue where underconfident) and each bin's count
/// written above it; below, the histogram of confidences. PNG or SVG by the file's extension.
/// </summary>
public static class ReliabilityDiagram
{
    public static void Save(CalibrationReport report, string path, int width, int height, string title)
    {
        string extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension is not (".png" or ".svg"))
            throw new UsageException($"--out must end in .png or .svg, got '{path}'.");
        var diagram = new Plot();
        var histogram = new Plot();

        var bins = report.Bins.Where(b => b.Upper > b.Lower).ToList();   // torchmetrics' extra bin for 1.0 has no width
        foreach (var b in bins)
        {
            double center = (b.Lower + b.Upper) / 2, size = (b.Upper - b.Lower) * 0.92;
            histogram.Add.Bar(new Bar { Position = center, Value = b.Count, Size = size, FillColor = Colors.Gray.WithAlpha(0.7) });
            if (b.Count == 0) continue;
            diagram.Add.Bar(new Bar { Position = center, Value = b.Accuracy, Size = size, FillColor = Colors.SteelBlue.WithAlpha(0.8) });
            bool over = b.MeanConfidence > b.Accuracy;
            diagram.Add.Bar(new Bar
            {
                Position = center, Value = b.MeanConfidence, ValueBase = b.Accuracy, Size = size,
                FillColor = (over ? Colors.Red : Colors.Blue).WithAlpha(0.3), LineColor = (over ? Colors.Red : Colors.Blue).WithAlpha(0.6),
            });
            var label = diagram.Add.Text(b.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), center, Math.Max(b.Accuracy, b.MeanConfidence) + 0.02);
            label.LabelFontSize = 10;
            label.LabelAlignment = Alignment.LowerCenter;
        }
        var diagonal = diagram.Add.Line(0, 0, 1, 1);
        diagonal.LineColor = Colors.Black.WithAlpha(0.6);
        diagonal.LinePattern = LinePattern.Dashed;
        diagram.Axes.SetLimits(0, 1, 0, 1.1);
        diagram.Title($"Reliability {title}  ECE {report.Ece:F4}  MCE {report.Mce:F4}  accuracy {report.Accuracy:F4}  n {report.Count}");
        diagram.YLabel("accuracy");
        histogram.Axes.Margins(bottom: 0);
        histogram.Axes.SetLimitsX(0, 1);
        histogram.XLabel("confidence");
        histogram.YLabel("predictions");
        // the diagram over the top 70% of the picture, the histogram below it
        float split = height * 0.7f;
        void Draw(SKCanvas canvas)
        {
            canvas.Clear(SKColors.White);
            // each plot clears its background before drawing: clip it to its own part of the picture
            foreach (var (plot, rect) in new[] { (diagram, SKRect.Create(0, 0, width, split)), (histogram, SKRect.Create(0, split, width, height - split)) })
            {
                canvas.Save();
                canvas.ClipRect(rect);
                plot.Render(canvas, new PixelRect(rect.Left, rect.Right, rect.Bottom, rect.Top));
                canvas.Restore();
            }
        }
        if (extension == ".png")
        {
            using var surface = SKSurface.Create(new SKImageInfo(width, height));
            Draw(surface.Canvas);
            using var image = surface.Snapshot();
            using var data = image.Encode(SKEncodedImageFormat.Png, 100);
            using var file = File.Create(path);
            data.SaveTo(file);
        }
        else
        {
            using var file = File.Create(path);
            using (var canvas = SKSvgCanvas.Create(SKRect.Create(width, height), file)) Draw(canvas);
        }
    }
}
