using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Top-label binned calibration (15 bins) over [10,000,000 x 10] probabilities plus int labels: the plain loop a
/// C# user would write (argmax, bin, count; no NLL or Brier), and FastCalib's accumulator, which also computes NLL,
/// Brier and the overconfidence profile. GB/s counts the input read once (44 bytes a row); nothing large is written.
/// </summary>
[Config(typeof(KernelConfig))]
public class CalibrationBenchmarks : IMovesBytes
{
    private const int Rows = 10_000_000;
    private const int Classes = 10;
    private float[] _probabilities = [];
    private int[] _labels = [];

    public double BytesMoved(string shape) => 44.0 * Rows;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        _probabilities = new float[(long)Rows * Classes];
        _labels = new int[Rows];
        for (int r = 0; r < Rows; r++)
        {
            float sum = 0;
            for (int j = 0; j < Classes; j++) sum += _probabilities[r * Classes + j] = (float)Math.Exp(3 * random.NextDouble());
            for (int j = 0; j < Classes; j++) _probabilities[r * Classes + j] /= sum;
            _labels[r] = random.Next(Classes);
        }
    }

    [Benchmark(Baseline = true, Description = "plain C# loop, 1 thread")]
    public double PlainLoop()
    {
        var count = new long[16];
        var correct = new long[16];
        var confidence = new double[16];
        for (int r = 0; r < Rows; r++)
        {
            int offset = r * Classes, arg = 0;
            float max = _probabilities[offset];
            for (int j = 1; j < Classes; j++)
            {
                if (_probabilities[offset + j] > max)
                {
                    max = _probabilities[offset + j];
                    arg = j;
                }
            }
            int bin = Math.Min((int)(max * 15), 15);
            count[bin]++;
            correct[bin] += arg == _labels[r] ? 1 : 0;
            confidence[bin] += max;
        }
        double ece = 0;
        for (int b = 0; b < 16; b++)
            if (count[b] > 0) ece += Math.Abs((double)correct[b] / count[b] - confidence[b] / count[b]) * count[b] / Rows;
        return ece;
    }

    [Benchmark(Description = "FastCalib scalar, 1 thread")]
    public double Scalar() => Run(new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, 1 thread")]
    public double SimdOneThread() => Run(new ComputeOptions { MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, all cores")]
    public double SimdAllCores() => Run(default);

    [Benchmark(Description = "FastCalib from logits (T = 1.5), all cores")]
    public double LogitsAllCores()
    {
        var accumulator = new CalibrationAccumulator(15);
        accumulator.AddLogits(_probabilities, _labels, Classes, 1.5f);
        return accumulator.Report().Ece;
    }

    [Benchmark(Description = "FastCalib SIMD + bootstrap, 100 replicas, all cores")]
    public double BootstrapAllCores()
    {
        var accumulator = new CalibrationAccumulator(15) { Bootstrap = new BootstrapOptions(100, 7) };
        accumulator.AddProbabilities(_probabilities, _labels, Classes);
        return accumulator.BootstrapIntervals().Ece.High;
    }

    [Benchmark(Description = "selective prediction (AURC, E-AURC, AUROC; one sort), 1 thread")]
    public double Selective()
    {
        var confidence = new float[Rows];
        var correct = new bool[Rows];
        for (int r = 0; r < Rows; r++)
        {
            int arg = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(_probabilities.AsSpan(r * Classes, Classes));
            confidence[r] = _probabilities[r * Classes + arg];
            correct[r] = arg == _labels[r];
        }
        return SelectivePrediction.Compute(confidence, correct).Aurc;
    }

    private double Run(ComputeOptions options)
    {
        var accumulator = new CalibrationAccumulator(15);
        accumulator.AddProbabilities(_probabilities, _labels, Classes, options);
        return accumulator.Report().Ece;
    }
}
