using System.Diagnostics;
using System.Globalization;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>Options of the demo.</summary>
public sealed record Options(int Rows = 1_000_000, int Classes = 10, int Seed = 2026, string? OutDir = null)
{
    /// <summary>Most logits the demo generates (1 GB of float32).</summary>
    public const int MaxValues = 1 << 28;

    public static Options From(Arguments a)
    {
        var options = new Options(a.Int("--rows", 1_000_000, 1, MaxValues), a.Int("--classes", 10, 2, 100_000), a.Int("--seed", 2026, 0), a.Get("--out-dir"));
        if ((long)options.Rows * options.Classes > MaxValues)
            throw new UsageException($"--rows x --classes is {(long)options.Rows * options.Classes:N0} logits; the demo holds at most {MaxValues:N0} in memory.");
        return options;
    }
}

/// <summary>
/// The main job on an embedded input: a deterministic synthetic, deliberately overconfident classifier (logits are a
/// class signal plus noise, scaled up the way networks trained to zero loss tend to be). Reports its calibration,
/// fits the temperature, reports again, writes the reliability diagrams before and after, and says which backend
/// ran each step for how long.
/// </summary>
public static class Demo
{
    public static int Run(Options o, TextWriter output)
    {
        var options = GpuDevice.HasCuda ? ComputeOptions.For(Backend.Gpu) : default;
        string backend = GpuDevice.HasCuda ? $"CUDA ({GpuDevice.Default.Name})" : $"SIMD CPU ({Kernels.Internals.SimdWidth.Best}-bit vectors, {Environment.ProcessorCount} cores)";
        var watch = Stopwatch.StartNew();
        var (logits, labels) = Synthesize(o);
        output.WriteLine($"fastcalib demo: synthetic overconfident classifier, {o.Rows:N0} predictions over {o.Classes} classes (seed {o.Seed}), generated in {watch.Elapsed.TotalSeconds:F2} s");
        output.WriteLine($"backend: {backend}");

        watch.Restart();
        var before = new CalibrationAccumulator(15);
        before.AddLogits(logits, labels, o.Classes, 1f, options);
        var reportBefore = before.Report();
        double reportSeconds = watch.Elapsed.TotalSeconds;
        output.WriteLine();
        output.WriteLine($"calibration at temperature 1 ({reportSeconds * 1000:F1} ms):");
        Commands.WriteReport(output, reportBefore, null);

        watch.Restart();
        var fit = TemperatureScaling.Fit(logits, labels, o.Classes, options);
        double fitSeconds = watch.Elapsed.TotalSeconds;
        output.WriteLine();
        output.WriteLine($"fitted temperature: T* = {fit.Temperature:F4} in {fit.Passes} fused passes ({fitSeconds * 1000:F1} ms); NLL {fit.NllBefore:F4} -> {fit.NllAfter:F4}"
            + (fit.AtBoundary ? " (at the edge of the search range)" : ""));

        var after = new CalibrationAccumulator(15);
        after.AddLogits(logits, labels, o.Classes, fit.Temperature, options);
        var reportAfter = after.Report();
        output.WriteLine();
        output.WriteLine($"calibration at temperature {fit.Temperature:F4}:");
        Commands.WriteReport(output, reportAfter, null);

        if (ReliabilityDiagram.Unavailable is { } why)
        {
            output.WriteLine();
            output.WriteLine($"reliability diagrams not drawn: {why}.");
            return 0;
        }
        string dir = o.OutDir ?? Path.Combine(Path.GetTempPath(), "fastcalib-demo");
        Directory.CreateDirectory(dir);
        string beforePath = Path.Combine(dir, "reliability-before.png"), afterPath = Path.Combine(dir, "reliability-after.png");
        watch.Restart();
        ReliabilityDiagram.Save(reportBefore, beforePath, 900, 800, "at T = 1");
        ReliabilityDiagram.Save(reportAfter, afterPath, 900, 800, $"at T* = {fit.Temperature.ToString("F3", CultureInfo.InvariantCulture)}");
        output.WriteLine();
        output.WriteLine($"reliability diagrams ({watch.Elapsed.TotalMilliseconds:F0} ms): {beforePath}, {afterPath}");
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
