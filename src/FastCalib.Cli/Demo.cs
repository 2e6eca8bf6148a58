using System.Diagnostics;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// Scores a synthetic, deliberately overconfident classifier: logits are a class signal plus noise, scaled up,
/// the way networks trained to zero loss tend to be. Shows the per-temperature summary and checks that the
/// backends agree.
/// </summary>
public static class Demo
{
    public static int Run(Options o, TextWriter output)
    {
        var (logits, labels) = Synthesize(o);
        output.WriteLine($"fastcalib demo: synthetic batch of {o.Rows} predictions over {o.Classes} classes (seed {o.Seed})");
        output.WriteLine($"GPU backend: {GpuDevice.Default.Name} ({(GpuDevice.HasCuda ? "CUDA" : "ILGPU CPU accelerator; no CUDA device")})");
        output.WriteLine();
        output.WriteLine("temperature  accuracy  mean confidence  gap (conf - acc)      NLL");
        var confidence = new float[o.Rows];
        var predicted = new int[o.Rows];
        var logp = new float[logits.Length];
        foreach (float t in new[] { 0.5f, 1f, 1.5f, 2f, 3f })
        {
            Softmax.Top1(logits, confidence, predicted, o.Classes, t);
            Softmax.LogForward(logits, logp, o.Classes, t);
            double correct = 0, meanConfidence = 0, nll = 0;
            for (int i = 0; i < o.Rows; i++)
            {
                correct += predicted[i] == labels[i] ? 1 : 0;
                meanConfidence += confidence[i];
                nll -= logp[(long)i * o.Classes + labels[i]];
            }
            double accuracy = correct / o.Rows;
            meanConfidence /= o.Rows;
            output.WriteLine($"{t,11:F2}  {accuracy,8:F4}  {meanConfidence,15:F4}  {meanConfidence - accuracy,16:+0.0000;-0.0000}  {nll / o.Rows,7:F4}");
        }

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
