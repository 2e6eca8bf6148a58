using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// softmax(logits / T) over [rows, cols] float32, T = 1.5, on FastCalib's paths and on the peer a .NET user would
/// pick, System.Numerics.Tensors' TensorPrimitives (per row: multiply by 1/T into a scratch row, then SoftMax).
/// Logits are uniform in [-12, 12]: TensorPrimitives.SoftMax does not subtract the row maximum, so it overflows to
/// NaN above about 88; these inputs keep it correct (the correctness difference is shown in the tests and README).
/// GB/s counts the logits read once and the probabilities written once (8 bytes per element).
/// </summary>
[Config(typeof(KernelConfig))]
public class SoftmaxBenchmarks : IMovesBytes
{
    private float[] _logits = [];
    private float[] _probabilities = [];
    private float[] _scratch = [];
    private int _rows, _cols;
    private const float Temperature = 1.5f;

    [Params("1000000x10", "100000x1000", "64x131072")]
    public string Shape { get; set; } = "1000000x10";

    public double BytesMoved(string shape)
    {
        var (rows, cols) = Benchmarks.Shape.Parse(shape);
        return 8.0 * rows * cols;
    }

    [GlobalSetup]
    public void Setup()
    {
        (_rows, _cols) = Benchmarks.Shape.Parse(Shape);
        _logits = new float[(long)_rows * _cols];
        _probabilities = new float[_logits.Length];
        _scratch = new float[_cols];
        var random = new Random(42);
        for (long i = 0; i < _logits.Length; i++) _logits[i] = (float)(random.NextDouble() * 24 - 12);
    }

    [Benchmark(Baseline = true, Description = "TensorPrimitives, 1 thread")]
    public void TensorPrimitivesPerRow()
    {
        for (int r = 0; r < _rows; r++)
        {
            var row = _logits.AsSpan(r * _cols, _cols);
            TensorPrimitives.Multiply(row, 1f / Temperature, _scratch);
            TensorPrimitives.SoftMax(_scratch, _probabilities.AsSpan(r * _cols, _cols));
        }
    }

    [Benchmark(Description = "FastCalib scalar, 1 thread")]
    public void Scalar() => Softmax.Forward(_logits, _probabilities, _cols, Temperature, new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD 256-bit, 1 thread")]
    public void Simd256OneThread() => Softmax.Forward(_logits, _probabilities, _cols, Temperature, new ComputeOptions { VectorWidth = 256, MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD best width, 1 thread")]
    public void SimdOneThread() => Softmax.Forward(_logits, _probabilities, _cols, Temperature, new ComputeOptions { MaxThreads = 1 });

    [Benchmark(Description = "FastCalib SIMD best width, all cores")]
    public void SimdAllCores() => Softmax.Forward(_logits, _probabilities, _cols, Temperature);
}
