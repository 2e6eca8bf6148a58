using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;

namespace FastCalib.Benchmarks;

/// <summary>
/// The machine's memory floor, measured the way the kernels move data: 400 MB read and 400 MB written (GB/s counts
/// both), with ordinary vector stores (which read each destination line before writing it, as the kernels' stores
/// do) and with non-temporal stores (which do not), on one thread and on all cores.
/// </summary>
[Config(typeof(KernelConfig))]
public unsafe class CopyBenchmarks : IMovesBytes
{
    private const long N = 100_000_000;
    private float[] _source = [];
    private float[] _destination = [];

    public double BytesMoved(string shape) => 8.0 * N;

    [GlobalSetup]
    public void Setup()
    {
        _source = new float[N];
        _destination = new float[N];
        _source.AsSpan().Fill(1);
        _destination.AsSpan().Fill(2);
    }

    [Benchmark(Description = "copy, 1 thread")]
    public void CopyOneThread() => Copy(0, N, nonTemporal: false);

    [Benchmark(Description = "copy, all cores")]
    public void CopyAllCores() => Parallel.For(0, Environment.ProcessorCount, k => Copy(k * N / Environment.ProcessorCount, (k + 1) * N / Environment.ProcessorCount, nonTemporal: false));

    [Benchmark(Description = "copy non-temporal, 1 thread")]
    public void CopyNonTemporalOneThread() => Copy(0, N, nonTemporal: true);

    [Benchmark(Description = "copy non-temporal, all cores")]
    public void CopyNonTemporalAllCores() => Parallel.For(0, Environment.ProcessorCount, k => Copy(k * N / Environment.ProcessorCount, (k + 1) * N / Environment.ProcessorCount, nonTemporal: true));

    private void Copy(long start, long end, bool nonTemporal)
    {
        fixed (float* s = _source, d = _destination)
        {
            long i = start;
            if (nonTemporal)
            {
                for (; i < end && ((nint)(d + i) & 63) != 0; i++) d[i] = s[i];
                for (; i + 16 <= end; i += 16) Vector512.Load(s + i).StoreAlignedNonTemporal(d + i);
            }
            else
            {
                for (; i + 16 <= end; i += 16) Vector512.Load(s + i).Store(d + i);
            }
            for (; i < end; i++) d[i] = s[i];
        }
    }
}
