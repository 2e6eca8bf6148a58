using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Fitting a temperature on logits plus labels (each fit makes several fused passes; the count is in RESULTS.md).
/// GB/s counts one read of the logits and labels per fit, not per pass.
/// </summary>
[Config(typeof(KernelConfig))]
public class TemperatureBenchmarks : IMovesBytes
{
    private float[] _logits = [];
    private int[] _labels = [];
    private int _rows, _cols;

    /// <summary>The logits after <see cref="Setup"/> (shared with <see cref="MulticlassCalibratorBenchmarks"/>).</summary>
    internal float[] Logits => _logits;

    /// <summary>The labels after <see cref="Setup"/>.</summary>
    internal int[] Labels => _labels;

    [Params("1000000x10", "100000x1000")]
    public string Shape { get; set; } = "1000000x10";

    public double BytesMoved(string shape)
    {
        var (rows, cols) = Benchmarks.Shape.Parse(shape);
        return 4.0 * rows * cols + 4.0 * rows;
    }

    [GlobalSetup]
    public void Setup()
    {
        (_rows, _cols) = Benchmarks.Shape.Parse(Shape);
        var random = new Random(11);
        _logits = new float[(long)_rows * _cols];
        _labels = new int[_rows];
        for (int r = 0; r < _rows; r++)
        {
            int label = random.Next(_cols);
            _labels[r] = label;
            for (int j = 0; j < _cols; j++)
            {
                double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
                double noise = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                _logits[(long)r * _cols + j] = (float)(3 * ((j == label ? 2.0 : 0) + noise));
            }
        }
    }

    [Benchmark(Description = "fit, 1 thread")]
    public float OneThread() => TemperatureScaling.Fit(_logits, _labels, _cols, new ComputeOptions { MaxThreads = 1 }).Temperature;

    [Benchmark(Description = "fit, all cores")]
    public float AllCores() => TemperatureScaling.Fit(_logits, _labels, _cols).Temperature;
}
