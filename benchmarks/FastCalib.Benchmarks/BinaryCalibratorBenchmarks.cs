using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Fitting Platt scaling and beta calibration on 10^7 scores drawn from a beta-calibration model, all cores: Newton
/// steps of one fused float64 pass each. GB/s counts one read of the scores and labels per fit, not per pass.
/// </summary>
[Config(typeof(KernelConfig))]
public class BinaryCalibratorBenchmarks : IMovesBytes
{
    private const int Count = 10_000_000;
    private float[] _scores = [];
    private int[] _targets = [];

    public double BytesMoved(string shape) => 8.0 * Count;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(5);
        _scores = new float[Count];
        _targets = new int[Count];
        for (int i = 0; i < Count; i++)
        {
            _scores[i] = (float)(0.001 + 0.998 * random.NextDouble());
            double logit = -0.2 + 1.3 * Math.Log(_scores[i]) - 0.6 * Math.Log(1 - _scores[i]);
            _targets[i] = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
        }
    }

    [Benchmark(Baseline = true, Description = "Platt scaling")]
    public object Platt() => PlattCalibrator.Fit(_scores, _targets);

    [Benchmark(Description = "beta calibration")]
    public object Beta() => BetaCalibrator.Fit(_scores, _targets);
}
