using System.ComponentModel;
using System.Runtime.Intrinsics;

namespace FastCalib.Kernels.Internals;

/// <summary>SIMD width selection for generated kernels.</summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class SimdWidth
{
    /// <summary>The widest vector width, in bits, that this CPU accelerates (128 when none is).</summary>
    public static int Best { get; } =
        Vector512.IsHardwareAccelerated ? 512 : Vector256.IsHardwareAccelerated ? 256 : 128;

    /// <summary>Rows of at most this many columns are vectorised across rows (one row per lane) instead of within a row.</summary>
    public const int TileMaxCols = 32;
}

/// <summary>A range of rows [Start, End) handed to one call of a kernel's chunk function.</summary>
/// <param name="Start">First row.</param>
/// <param name="End">One past the last row.</param>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly record struct RowRange(long Start, long End);

/// <summary>
/// Splits the rows of a matrix into chunks and runs them on up to a given number of threads.
/// Chunk boundaries depend only on the shape, never on the thread count, and per-chunk totals are added in chunk
/// order, so totals are the same whatever the number of threads.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class CpuRows
{
    /// <summary>Elements per chunk that make a task worth scheduling.</summary>
    public const long ChunkElements = 1 << 16;

    /// <summary>Runs <paramref name="chunk"/> over all rows and returns the sum of what it returns, in chunk order.</summary>
    public static double Run(long rows, int cols, int maxThreads, Func<RowRange, double> chunk)
    {
        if (rows <= 0) return 0;
        var partial = new double[Chunks(rows, cols)];
        ForEachChunk(rows, cols, maxThreads, (c, range) => partial[c] = chunk(range));
        double sum = 0;
        foreach (double p in partial) sum += p;
        return sum;
    }

    /// <summary>Whether the CPU path of <paramref name="options"/> is SIMD, its vector width, and the thread count.</summary>
    public static (bool Simd, int Width, int Threads) Resolve(ComputeOptions options) => options.ResolveCpu();

    /// <summary>How many chunks <see cref="ForEachChunk"/> makes of a [rows, cols] matrix (a function of the shape only).</summary>
    public static int Chunks(long rows, int cols) => rows <= 0 ? 0 : checked((int)((rows + RowsPerChunk(cols) - 1) / RowsPerChunk(cols)));

    /// <summary>Calls <paramref name="chunk"/> with each chunk's index and rows, on up to <paramref name="maxThreads"/> threads.</summary>
    public static void ForEachChunk(long rows, int cols, int maxThreads, Action<int, RowRange> chunk)
    {
        int chunks = Chunks(rows, cols);
        long rowsPerChunk = RowsPerChunk(cols);
        if (chunks <= 1 || maxThreads == 1)
        {
            for (int c = 0; c < chunks; c++) chunk(c, Range(c, rowsPerChunk, rows));
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxThreads }, c => chunk(c, Range(c, rowsPerChunk, rows)));
    }

    /// <summary>
    /// <see cref="ForEachChunk(long, int, int, Action{int, RowRange})"/> with per-thread state: each thread that runs
    /// chunks gets one <paramref name="init"/> result, passes it to its chunks, and hands it to <paramref name="finish"/>
    /// (called once per state, possibly concurrently) when it is done. Which chunks share a state depends on scheduling,
    /// so states may only hold what adds up the same in any order (e.g. exact integer counts).
    /// </summary>
    public static void ForEachChunk<TLocal>(long rows, int cols, int maxThreads, Func<TLocal> init, Action<int, RowRange, TLocal> chunk, Action<TLocal> finish)
    {
        int chunks = Chunks(rows, cols);
        long rowsPerChunk = RowsPerChunk(cols);
        if (chunks <= 1 || maxThreads == 1)
        {
            var local = init();
            for (int c = 0; c < chunks; c++) chunk(c, Range(c, rowsPerChunk, rows), local);
            finish(local);
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxThreads }, init,
            (c, _, local) =>
            {
                chunk(c, Range(c, rowsPerChunk, rows), local);
                return local;
            }, finish);
    }

    private static long RowsPerChunk(int cols) => Math.Max(1, ChunkElements / Math.Max(1, cols));

    private static RowRange Range(long chunk, long rowsPerChunk, long rows) =>
        new(chunk * rowsPerChunk, Math.Min(rows, (chunk + 1) * rowsPerChunk));
}
