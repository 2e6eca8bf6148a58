using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Fitting each multiclass calibrator on the same [1,000,000 x 10] logits (those of <see cref="TemperatureBenchmarks"/>),
/// all cores. The bars: vector scaling within 3x the temperature fit, matrix scaling and Dirichlet calibration
/// under a second. GB/s counts one read of the logits and labels per fit, not per pass (the passes are in RESULTS.md).
/// </summary>
[Config(typeof(KernelConfig))]
public class MulticlassCalibratorBenchmarks : IMovesBytes
{
    private readonly TemperatureBenchmarks _data = new() { Shape = "1000000x10" };

    public double BytesMoved(string shape) => _data.BytesMoved("1000000x10");

    [GlobalSetup]
    public void Setup() => _data.Setup();

    [Benchmark(Baseline = true, Description = "temperature")]
    public object Temperature() => TemperatureScaling.Fit(_data.Logits, _data.Labels, 10);

    [Benchmark(Description = "vector scaling")]
    public object Vector() => VectorScalingCalibrator.Fit(_data.Logits, _data.Labels, 10);

    [Benchmark(Description = "matrix scaling")]
    public object Matrix() => MatrixScalingCalibrator.Fit(_data.Logits, _data.Labels, 10);

    [Benchmark(Description = "Dirichlet, ODIR lambda = mu = 0.01")]
    public object Dirichlet() => DirichletCalibrator.Fit(_data.Logits, _data.Labels, 10, new OdirPenalty(0.01, 0.01));

    [Benchmark(Description = "ensemble temperature")]
    public object Ensemble() => EnsembleTemperatureCalibrator.Fit(_data.Logits, _data.Labels, 10);
}
