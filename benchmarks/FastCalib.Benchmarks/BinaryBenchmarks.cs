using BenchmarkDotNet.Attributes;
using FastCalib;

namespace FastCalib.Benchmarks;

/// <summary>
/// The AUROC of 10^8 binary scores streamed as 10 batches of 10^7 (the same batch each time, 40 MB of float scores and
/// 40 MB of int labels), into a 2^16-bin histogram per class on all cores; beside it, the exact AUROC of one batch by
/// sorting (what BinaryCurves does in memory). GB/s counts the streamed scores and labels read once (800 MB).
/// </summary>
[Config(typeof(KernelConfig))]
public class BinaryBenchmarks : IMovesBytes
{
    private const int Batch = 10_000_000;
    private const int Batches = 10;
    private float[] _scores = [];
    private int[] _labels = [];

    public double BytesMoved(string shape) => 8.0 * Batch * Batches;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(12);
        _labels = new int[Batch];
        _scores = new float[Batch];
        for (int i = 0; i < Batch; i++)
        {
            _labels[i] = random.Next(4) == 0 ? 1 : 0;
            _scores[i] = (float)Math.Clamp((_labels[i] == 1 ? 0.65 : 0.4) + 0.2 * (random.NextDouble() + random.NextDouble() - 1), 0, 1);
        }
    }

    [Benchmark(Description = "ScoreHistogram, 10 batches of 1e7, all cores")]
    public double Streaming()
    {
        var auroc = new ScoreHistogram();
        for (int b = 0; b < Batches; b++) auroc.Add(_scores, _labels);
        return auroc.Auroc().Auroc;
    }

    [Benchmark(Description = "ScoreHistogram, 10 batches of 1e7, 1 thread")]
    public double StreamingOneThread()
    {
        var auroc = new ScoreHistogram();
        for (int b = 0; b < Batches; b++) auroc.Add(_scores, _labels, new ComputeOptions { MaxThreads = 1 });
        return auroc.Auroc().Auroc;
    }

    [Benchmark(Description = "exact AUROC of one batch of 1e7 (sort), 1 thread")]
    public double ExactOneBatch() => BinaryCurves.Thresholds(_scores, _labels).Auroc;
}
