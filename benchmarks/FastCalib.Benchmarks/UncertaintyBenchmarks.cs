using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// Ensemble uncertainty over S = 10 passes of [1,000,000 x 10] probabilities (or logits, T = 1), added one pass at a
/// time, then the per-row results; and the same passes as one [S, N, C] stack in one read (FromStack). GB/s counts the
/// passes read once (400 MB); the pass-by-pass accumulator also reads and writes its two [N, C] float sums once a pass
/// (80 MB each way), which the count leaves out.
/// </summary>
[Config(typeof(KernelConfig))]
public class UncertaintyBenchmarks : IMovesBytes
{
    private const int Rows = 1_000_000;
    private const int Classes = 10;
    private const int Passes = 10;
    private float[][] _logits = [];
    private float[][] _probabilities = [];
    private float[] _probabilityStack = [];
    private float[] _logitStack = [];

    public double BytesMoved(string shape) => 4.0 * Rows * Classes * Passes;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(8);
        var shared = new float[Rows * Classes];
        for (int i = 0; i < shared.Length; i++) shared[i] = (float)(3 * (random.NextDouble() - 0.5));
        _logits = new float[Passes][];
        _probabilities = new float[Passes][];
        for (int s = 0; s < Passes; s++)
        {
            _logits[s] = shared.Select(v => v + (float)(random.NextDouble() - 0.5)).ToArray();
            _probabilities[s] = new float[shared.Length];
            Softmax.Forward(_logits[s], _probabilities[s], Classes);
        }
        _probabilityStack = _probabilities.SelectMany(p => p).ToArray();
        _logitStack = _logits.SelectMany(z => z).ToArray();
    }

    [Benchmark(Description = "FastCalib uncertainty from a stack of probabilities [10 x N x C], one read, all cores")]
    public float FromProbabilityStack() => EnsembleUncertainty.FromStack(_probabilityStack, Passes, Classes).Agreement[0];

    [Benchmark(Description = "FastCalib uncertainty from a stack of logits [10 x N x C], one read, all cores")]
    public float FromLogitStack() => EnsembleUncertainty.FromLogitStack(_logitStack, Passes, Classes).Agreement[0];

    [Benchmark(Description = "FastCalib uncertainty from probabilities, 10 passes, all cores")]
    public float FromProbabilities()
    {
        var u = new EnsembleUncertainty(Rows, Classes);
        foreach (var p in _probabilities) u.AddProbabilities(p);
        return u.Result().Agreement[0];
    }

    [Benchmark(Description = "FastCalib uncertainty from logits, 10 passes, all cores")]
    public float FromLogits()
    {
        var u = new EnsembleUncertainty(Rows, Classes);
        foreach (var z in _logits) u.AddLogits(z);
        return u.Result().Agreement[0];
    }
}
