using System.Diagnostics;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// Scores a synthetic, deliberately overconfident classifier: logits are a class signal plus noise, scaled up,
/// the way networks trained to zero loss tend to be. Shows the calibration report per temperature (fused from
/// logits), the reliability table, and checks that the softmax backends agree.
/// </summary>
public static class Demo
{
    public static int Run(Options o, TextWriter output)
    {
        var (logits, labels) = Synthesize(o);
        output.WriteLine($"fastcalib demo: synthetic batch of {o.Rows} predictions over {o.Classes} classes (seed {o.Seed})");
        output.WriteLine($"GPU backend: {GpuDevice.Default.Name} ({(GpuDevice.HasCuda ? "CUDA" : "ILGPU CPU accelerator; no CUDA device")})");
        output.WriteLine();
        output.WriteLine("temperature  accuracy  mean confidence     ECE     MCE     NLL   Brier");
        CalibrationReport? atOne = null;
        foreach (float t in new[] { 0.5f, 1f, 1.5f, 2f, 3f })
        {
            var calibration = new CalibrationAccumulator(bins: 15);
            calibration.AddLogits(logits, labels, o.Classes, t);
            var r = calibration.Report();
            if (t == 1f) atOne = r;
            output.WriteLine($"{t,11:F2}  {r.Accuracy,8:F4}  {r.MeanConfidence,15:F4}  {r.Ece,6:F4}  {r.Mce,6:F4}  {r.NegativeLogLikelihood,6:F4}  {r.Brier,6:F4}");
        }

        output.WriteLine();
        output.WriteLine("reliability at temperature 1 (15 bins, torchmetrics' assignment):");
        output.WriteLine("  bin            count  confidence  accuracy     gap");
        foreach (var bin in atOne!.Bins.Where(b => b.Count > 0))
            output.WriteLine($"  [{bin.Lower:F3}, {bin.Upper:F3})  {bin.Count,8}  {bin.MeanConfidence,10:F4}  {bin.Accuracy,8:F4}  {bin.Gap,+7:+0.0000;-0.0000}");
        foreach (var threshold in atOne.Thresholds)
            output.WriteLine($"  confidence >= {threshold.Threshold:F2}: {threshold.Coverage:P1} of predictions, accuracy {threshold.Accuracy:F4}");

        var fit = TemperatureScaling.Fit(logits, labels, o.Classes);
        output.WriteLine();
        output.WriteLine($"fitted temperature: T* = {fit.Temperature:F4} in {fit.Passes} fused passes; NLL {fit.NllBefore:F4} -> {fit.NllAfter:F4}"
            + (fit.AtBoundary ? " (at the edge of the search range)" : ""));

        output.WriteLine();
        output.WriteLine("softmax(logits / 1.5), per backend:");
        var reference = new float[logits.Length];
        Softmax.Forward(logits, reference, o.Classes, 1.5f, ComputeOptions.For(Backend.Scalar));
        foreach (var (name, options) in new[]
                 {
                     ("scalar", ComputeOptions.For(Backend.Scalar)),
                     ("simd", ComputeOptions.For(Backend.Simd)),
                     ("gpu", ComputeOptions.For(Backend.Gpu)),
                 })
        {
            var p = new float[logits.Length];
            Softmax.Forward(logits, p, o.Classes, 1.5f, options);   // first call compiles GPU kernels
            var times = new double[5];
            for (int run = 0; run < times.Length; run++)
            {
                var watch = Stopwatch.StartNew();
                Softmax.Forward(logits, p, o.Classes, 1.5f, options);
                times[run] = watch.Elapsed.TotalMilliseconds;
            }
            Array.Sort(times);
            double ms = times[times.Length / 2];
            double worst = 0;
            for (long i = 0; i < p.Length; i++) worst = Math.Max(worst, Math.Abs(p[i] - reference[i]) / Math.Max(reference[i], 1e-30f));
            output.WriteLine($"  {name,-7} {ms,9:F2} ms (median of 5)   max relative difference from scalar {worst:E1}");
            if (worst > 1e-3)
            {
                output.WriteLine($"fastcalib: the {name} backend disagrees with the scalar path.");
                return 1;
            }
        }
        return 0;
    }

    /// <summary>Logits: class signal 2.2 on the true class (a confusable neighbour gets 1.2) plus N(0, 1) noise, times 3.</summary>
    public static (float[] Logits, int[] Labels) Synthesize(Options o)
    {
        var random = new Random(o.Seed);
        var logits = new float[(long)o.Rows * o.Classes];
        var labels = new int[o.Rows];
        for (int i = 0; i < o.Rows; i++)
        {
            int label = random.Next(o.Classes);
            labels[i] = label;
            for (int j = 0; j < o.Classes; j++)
            {
                double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
                double noise = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                double signal = j == label ? 2.2 : j == (label + 1) % o.Classes ? 1.2 : 0;
                logits[(long)i * o.Classes + j] = (float)(3 * (signal + noise));
            }
        }
        return (logits, labels);
    }
}
