using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Software prefetch for the generated CPU loops over rows. A loop that does tens of instructions a value keeps too
/// few cache-line misses in flight for the hardware prefetcher alone to reach the memory's bandwidth on one core:
/// the calibration kernel over [10^7 x 10] probabilities ran about 1.25x faster with its rows requested a few
/// kilobytes ahead (benchmarks/RESULTS.md, "Software prefetch, one binner pass, the ensemble stack").
/// </summary>
public static unsafe class Prefetch
{
    /// <summary>How far ahead of the values being read the lines are requested, in bytes.</summary>
    public const int Distance = 4096;

    /// <summary>The longest run of values one call requests (longer rows are left to the hardware prefetcher).</summary>
    public const int MaxValues = 1024;

    /// <summary>Requests into L1 the cache lines of the <paramref name="count"/> values that start
    /// <see cref="Distance"/> bytes after <paramref name="start"/>; nothing where SSE is absent or the run is long.
    /// A prefetch never faults, so addresses past the end of the data are harmless.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Ahead(float* start, long count)
    {
        if (!Sse.IsSupported || count > MaxValues) return;
        byte* line = (byte*)start + Distance;
        byte* end = line + count * sizeof(float);
        for (; line < end; line += 64) Sse.Prefetch0(line);
    }
}
