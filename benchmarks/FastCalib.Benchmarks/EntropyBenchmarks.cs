using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Per-row entropy of [1,000,000 x 100] probabilities: TensorPrimitives as a .NET user would call it (per row: Log
/// into a scratch row, then -Dot with the row), and FastCalib (which also validates each row: non-negative, sums to 1).
/// GB/s counts the probabilities read once and the entropies written once.
/// </summary>
[Config(typeof(KernelConfig))]
public class EntropyBenchmarks : IMovesBytes
{
    private const int Rows = 1_000_000;
    private const int Classes = 100;
    private float[] _probabilities = [];
    private float[] _entropy = [];
    private float[] _scratch = [];

    public double BytesMoved(string shape) => 4.0 * Rows * Classes + 4.0 * Rows;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        _probabilities = new float[(long)Rows * Classes];
        _entropy = new float[Rows];
        _scratch = new float[Classes];
        for (int r = 0; r < Rows; r++)
        {
            float sum = 0;
            for (int j = 0; j < Classes; j++) sum += _probabilities[r * Classes + j] = (float)Math.Exp(4 * random.NextDouble());
            for (int j = 0; j < Classes; j++) _probabilities[r * Classes + j] /= sum;
        }
    }

    [Benchmark(Baseline = true, Description = "TensorPrimitives (Log, Dot), 1 thread")]
    public void TensorPrimitivesPerRow()
    {
        for (int r = 0; r < Rows; r++)
        {
            var row = _probabilities.AsSpan(r * Classes, Classes);
            TensorPrimitives.Log(row, _scratch);
            _entropy[r] = -TensorPrimitives.Dot(row, _scratch);
        }
    }

    [Benchmark(Description = "FastCalib scalar, 1 thread")]
    public double Scalar() => Entropy.FromProbabilities(_probabilities, _entropy, Classes, EntropyUnit.Nats, new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, 1 thread")]
    public double SimdOneThread() => Entropy.FromProbabilities(_probabilities, _entropy, Classes, EntropyUnit.Nats, new ComputeOptions { MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, all cores")]
    public double SimdAllCores() => Entropy.FromProbabilities(_probabilities, _entropy, Classes);

    [Benchmark(Description = "FastCalib from logits, all cores")]
    public double FromLogitsAllCores() => Entropy.FromLogits(_probabilities, _entropy, Classes, 1f);
}
