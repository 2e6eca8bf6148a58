using System.Collections.Concurrent;
using System.ComponentModel;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Launch plumbing shared by generated ILGPU kernels: the per-accelerator kernel cache and the work shape.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuRows
{
    private static readonly ConditionalWeakTable<Accelerator, ConcurrentDictionary<string, Lazy<Delegate>>> Cache = new();

    /// <summary>Rows of at most this many columns get one thread each; wider rows get a thread group each.</summary>
    public const int ThreadPerRowMaxCols = 32;

    /// <summary>
    /// Returns the kernel loaded on <paramref name="accelerator"/>, compiling it on first use only; safe to call from many threads.
    /// </summary>
    /// <param name="accelerator">Where the kernel runs.</param>
    /// <param name="key">The kernel's unique name (its generated class and entry point).</param>
    /// <param name="load">Compiles and loads the kernel; called at most once per accelerator and key.</param>
    public static TDelegate Load<TDelegate>(Accelerator accelerator, string key, Func<Accelerator, TDelegate> load)
        where TDelegate : Delegate
    {
        var perAccelerator = Cache.GetValue(accelerator, static _ => new ConcurrentDictionary<string, Lazy<Delegate>>());
        var lazy = perAccelerator.GetOrAdd(key,
            _ => new Lazy<Delegate>(() => load(accelerator), LazyThreadSafetyMode.ExecutionAndPublication));
        return (TDelegate)lazy.Value;
    }

    /// <summary>Launch shape for one thread per row: groups of the accelerator's preferred size, enough to cover the rows once (capped).</summary>
    public static KernelConfig ThreadPerRow(Accelerator accelerator, long rows)
    {
        int group = Math.Min(accelerator.MaxNumThreadsPerGroup, Math.Max(accelerator.WarpSize, 256 / accelerator.WarpSize * accelerator.WarpSize));
        long groups = Math.Clamp((rows + group - 1) / group, 1, GridLimit(accelerator));
        return new KernelConfig((int)groups, group);
    }

    /// <summary>
    /// Launch shape for one group per row: about 32 columns per thread, a multiple of the warp size,
    /// at most the accelerator's group size (a warp per row for ~1000 columns, a full group for very wide rows).
    /// </summary>
    public static KernelConfig GroupPerRow(Accelerator accelerator, long rows, int cols)
    {
        int warp = accelerator.WarpSize;
        int maxGroup = accelerator.MaxNumThreadsPerGroup / warp * warp;
        int wanted = (cols / 32 + warp - 1) / warp * warp;
        int group = Math.Clamp(wanted, warp, maxGroup);
        if (group / warp > warp)
            throw new NotSupportedException($"Accelerator {accelerator.Name}: groups of {group} threads hold more than {warp} warps of {warp}, which the group reduction does not support.");
        long groups = Math.Clamp(rows, 1, GridLimit(accelerator));
        return new KernelConfig((int)groups, group);
    }

    /// <summary>
    /// Lanes that share a row in the register-row kernels (<c>GpuTeamRows</c>, <c>GpuWarpRows</c> when it reaches the
    /// warp size): the smallest power of two,
    /// up to the warp, that leaves each lane at most 8 values (rows of more than 8 warps' width give 32 lanes more
    /// values each, up to 32). Called by the kernels themselves, so it must stay plain integer code.
    /// </summary>
    public static int TeamSize(int cols, int warp)
    {
        int team = 1;
        while (team < warp && team * 8 < cols) team *= 2;
        return team;
    }

    /// <summary>
    /// Launch shape for the team- and warp-per-row register kernels (<c>GpuTeamRows</c>, <c>GpuWarpRows</c>): groups of
    /// four warps (or fewer where groups are smaller), enough for all rows once (capped). Measured on an H100: a team
    /// of 16 lanes for 100-column rows (entropy of [1e6 x 100]) 0.47 ms against 0.63 ms with a group per row; rows of
    /// at most 32 columns stay with the narrow-row shapes (a team for [1e6 x 10] softmax took 0.12 ms against 0.06).
    /// </summary>
    public static KernelConfig TeamRows(Accelerator accelerator, long rows, int cols)
    {
        int warp = accelerator.WarpSize;
        int group = Math.Max(warp, Math.Min(4 * warp, accelerator.MaxNumThreadsPerGroup / warp * warp));
        long rowsPerGroup = group / warp * (long)(warp / TeamSize(cols, warp));
        long groups = Math.Clamp((rows + rowsPerGroup - 1) / rowsPerGroup, 1, GridLimit(accelerator));
        return new KernelConfig((int)groups, group);
    }

    /// <summary>
    /// Launch shape for one group per row held in registers (<c>GpuGroupRows</c>): the fewest warps that give each
    /// thread at most <paramref name="perThread"/> values; null if a group of 256 threads would need more.
    /// </summary>
    public static KernelConfig? GroupRows(Accelerator accelerator, long rows, int cols, int perThread)
    {
        int warp = accelerator.WarpSize;
        // at most 256 threads: the register-row kernels may use up to 255 registers a thread, and a launch fails
        // ("too many resources requested") when a group needs more than a multiprocessor's 64K registers
        int maxGroup = Math.Min(Math.Min(accelerator.MaxNumThreadsPerGroup, 256) / warp, warp) * warp;   // and the group reduction's limit
        long wanted = ((long)cols + perThread - 1) / perThread;
        int group = (int)Math.Max(warp, (wanted + warp - 1) / warp * warp);
        if (group > maxGroup) return null;
        long groups = Math.Clamp(rows, 1, GridLimit(accelerator));
        return new KernelConfig((int)groups, group);
    }

    /// <summary>
    /// Launch shape for staged narrow rows (<c>GpuTileRows</c>): one row per thread, each group's block of rows held in
    /// <paramref name="slots"/> row buffers of dynamic shared memory (rows padded to an odd pitch); null if not even one
    /// warp's rows fit.
    /// </summary>
    public static KernelConfig? TileRows(Accelerator accelerator, long rows, int cols, int slots)
    {
        int warp = accelerator.WarpSize;
        long perThread = 4L * slots * (cols | 1);
        int group = (int)Math.Min(256, StagingBudget(accelerator) / perThread) / warp * warp;
        group = Math.Min(group, accelerator.MaxNumThreadsPerGroup / warp * warp);
        if (group < warp) return null;
        long groups = Math.Clamp((rows + group - 1) / group, 1, GridLimit(accelerator));
        return new KernelConfig((int)groups, group, SharedMemoryConfig.RequestDynamic<float>(slots * group * (cols | 1)));
    }

    /// <summary>
    /// total[0] = offset + scale · total[0] on the device, after a kernel's total (a sum over rows) is complete on the
    /// stream: turns the sum into the mean or the loss that the host overloads return, without a copy to the host.
    /// </summary>
    public static void Affine(string operation, AcceleratorStream stream, ArrayView<double> total, double scale, double offset)
    {
        GpuHost.Launch(operation, stream, "a total", () =>
        {
            var kernel = Load(stream.Accelerator, "FastCalib.Kernels.Internals.GpuRows.AffineKernel",
                static a => a.LoadKernel<ArrayView<double>, double, double>(AffineKernel));
            kernel(stream, new KernelConfig(1, 1), total, scale, offset);
        });
    }

    [GpuKernelEntry]
    internal static void AffineKernel(ArrayView<double> total, double scale, double offset) => total[0] = offset + scale * total[0];

    /// <summary>
    /// Dynamic shared memory a staged group may take: 32 KB, within the accelerator's per-group limit less 1 KB for the
    /// group reductions' static buffers (small enough that several groups share a multiprocessor).
    /// </summary>
    private static long StagingBudget(Accelerator accelerator) =>
        Math.Min(32 * 1024, accelerator.MaxSharedMemoryPerGroup - 1024);

    private static long GridLimit(Accelerator accelerator) =>
        Math.Min(accelerator.MaxGridSize.X, Math.Max(1, accelerator.NumMultiprocessors) * 64L);
}
