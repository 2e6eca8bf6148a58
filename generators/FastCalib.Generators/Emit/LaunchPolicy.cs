using System;
using System.Collections.Generic;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// One ILGPU shape of a kernel: the entry point, whether the generator emits it for a kernel, when it applies at run
/// time (a C# condition over rows, cols and the accelerator), and the launch configuration (a GpuRows helper).
/// </summary>
internal sealed record LaunchShape(string Entry, Func<KernelContext, bool> Emitted, Func<KernelContext, string> Condition, Func<KernelContext, string> Config);

/// <summary>
/// The launch policy of generated kernels, in one table: the launcher tries the shapes in this order and takes the
/// first that the kernel has and whose condition holds; the thread- and group-per-row shapes close the chain. The
/// thresholds were measured on an H100 (benchmarks/RESULTS.md); the configurations are computed at run time by
/// GpuRows from the accelerator (warp size, group and shared-memory limits).
/// </summary>
/// <remarks>
/// | shape | emitted for | applies when | configuration |
/// |---|---|---|---|
/// | GpuTileRows | several passes, writes rows | cols ≤ 32 and a warp's rows fit 32 KB of shared memory | GpuRows.TileRows |
/// | GpuTeamRows | several passes, no At on an output row | cols > 32 and the team (a power of two, ≤ 8 values a lane) is below the warp | GpuRows.TeamRows |
/// | GpuWarpRows | as GpuTeamRows | 32 &lt; cols ≤ 32 · warp | GpuRows.TeamRows |
/// | GpuGroupRows | as GpuTeamRows | cols > 32 · warp and a group of ≤ 256 threads holds the row at 32 values a thread | GpuRows.GroupRows |
/// | GpuThreadPerRow | every kernel | cols ≤ 32 | GpuRows.ThreadPerRow |
/// | GpuGroupPerRow | every kernel | otherwise | GpuRows.GroupPerRow |
/// </remarks>
internal static class LaunchPolicy
{
    /// <summary>Narrow rows are staged only by kernels that write rows: for per-row results alone, a thread per row reading device memory directly measured faster on an H100 (top-1 of [1e6 x 10]: 0.026 against 0.038 ms).</summary>
    private static bool TileRows(KernelContext k) => k.Staged.Any(p => p.Kind == ParamKind.OutRow);

    /// <summary>Registers cannot be indexed, so the register-row shapes need every At to read an input row (from device memory).</summary>
    private static bool RegisterRows(KernelContext k) => k.Staged.Count > 0
        && k.Stages.Where(st => st.Kind == StageKind.At).All(st => k.IsParam(st.Inputs[0], ParamKind.InRow));

    public static readonly IReadOnlyList<LaunchShape> Shapes = new[]
    {
        new LaunchShape("GpuTileRows", TileRows,
            k => $"cols <= {Names.GpuRows}.ThreadPerRowMaxCols && {Names.GpuRows}.TileRows(accelerator, rows, cols, {k.Staged.Count}) is {{ }} __tile",
            _ => "__tile"),
        new LaunchShape("GpuTeamRows", RegisterRows,
            _ => $"cols > {Names.GpuRows}.ThreadPerRowMaxCols && {Names.GpuRows}.TeamSize(cols, accelerator.WarpSize) < accelerator.WarpSize",
            _ => $"{Names.GpuRows}.TeamRows(accelerator, rows, cols)"),
        new LaunchShape("GpuWarpRows", RegisterRows,
            _ => $"cols > {Names.GpuRows}.ThreadPerRowMaxCols && cols <= {GpuRegisterWriter.LaneValues} * accelerator.WarpSize",
            _ => $"{Names.GpuRows}.TeamRows(accelerator, rows, cols)"),
        new LaunchShape("GpuGroupRows", RegisterRows,
            _ => $"cols > {GpuRegisterWriter.LaneValues} * accelerator.WarpSize && {Names.GpuRows}.GroupRows(accelerator, rows, cols, {GpuRegisterWriter.LaneValues}) is {{ }} __group",
            _ => "__group"),
        new LaunchShape("GpuThreadPerRow", _ => true,
            _ => $"cols <= {Names.GpuRows}.ThreadPerRowMaxCols",
            _ => $"{Names.GpuRows}.ThreadPerRow(accelerator, rows)"),
        new LaunchShape("GpuGroupPerRow", _ => true,
            _ => "",
            _ => $"{Names.GpuRows}.GroupPerRow(accelerator, rows, cols)"),
    };

    public static bool Has(KernelContext k, string entry) => Shapes.Single(s => s.Entry == entry).Emitted(k);
}

/// <summary>The <c>Gpu</c> launcher: the first shape of <see cref="LaunchPolicy"/> that applies, loaded once per accelerator.</summary>
internal static class GpuLauncherWriter
{
    public static void Emit(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>Launches the kernel on <paramref name=\"stream\"/> over row-major [rows, cols] views; the kernel is compiled once per accelerator.");
        if (k.TotalName is { } t) w.Line($"/// <paramref name=\"{t}\"/> (one element) is added to, not overwritten.");
        w.Line("/// </summary>");
        w.Open($"public static void Gpu({Names.AcceleratorStream} stream, {k.GpuParams()})");
        w.Line("if (rows == 0) return;");
        w.Line("var accelerator = stream.Accelerator;");
        var shapes = LaunchPolicy.Shapes.Where(s => s.Emitted(k)).ToList();
        for (int i = 0; i < shapes.Count; i++)
        {
            string condition = shapes[i].Condition(k);
            string entry = shapes[i].Entry;
            w.Open(i == 0 ? $"if ({condition})" : condition.Length > 0 ? $"else if ({condition})" : "else");
            w.Line($"var kernel = {Names.GpuRows}.Load(accelerator, \"{k.Kernel.FullName}.{entry}\", static a => {Names.LoadKernel}<{k.GpuTypes()}>(a, {entry}));");
            w.Line($"kernel(stream, {shapes[i].Config(k)}, {k.GpuArgs()});");
            w.Close();
        }
        w.Close();
    }
}
