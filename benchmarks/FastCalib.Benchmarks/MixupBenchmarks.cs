using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Mixup blend of [16384 x 4096] (256 MB) with a shuffled partner per sample: TensorPrimitives per row as a .NET user
/// would write it (Multiply, then MultiplyAdd with the partner row), and FastCalib. GB/s counts the 12 bytes per
/// element it must move: both rows read once, the output written once.
/// </summary>
[Config(typeof(KernelConfig))]
public class MixupBenchmarks : IMovesBytes
{
    private const int Rows = 16384;
    private const int Features = 4096;
    private float[] _inputs = [];
    private float[] _outputs = [];
    private MixupPlan _plan = null!;

    public double BytesMoved(string shape) => 12.0 * Rows * Features;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        _inputs = new float[(long)Rows * Features];
        _outputs = new float[_inputs.Length];
        for (long i = 0; i < _inputs.Length; i++) _inputs[i] = (float)random.NextDouble();
        _plan = MixupPlan.Create(Rows, 0.4f, 17);
    }

    [Benchmark(Baseline = true, Description = "TensorPrimitives, 1 thread")]
    public void TensorPrimitivesPerRow()
    {
        for (int r = 0; r < Rows; r++)
        {
            float lambda = _plan.Lambda[r];
            var output = _outputs.AsSpan(r * Features, Features);
            TensorPrimitives.Multiply(_inputs.AsSpan(r * Features, Features), lambda, output);
            TensorPrimitives.MultiplyAdd(_inputs.AsSpan(_plan.Partner[r] * Features, Features), 1 - lambda, output, output);
        }
    }

    [Benchmark(Description = "FastCalib scalar, 1 thread")]
    public void Scalar() => Mixup.Blend(_inputs, _outputs, Features, _plan, new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, 1 thread")]
    public void SimdOneThread() => Mixup.Blend(_inputs, _outputs, Features, _plan, new ComputeOptions { MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD, all cores")]
    public void SimdAllCores() => Mixup.Blend(_inputs, _outputs, Features, _plan);

    [Benchmark(Description = "FastCalib SIMD in place, all cores")]
    public void InPlaceAllCores() => Mixup.BlendInPlace(_outputs, Features, _plan);
}
