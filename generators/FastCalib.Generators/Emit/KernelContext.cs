using System.Collections.Generic;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// What every writer of one kernel shares: the model, the output, and how names of the definition map to the
/// variables of generated code (per-row inputs, row offsets, staged rows, the parameter lists of each entry point).
/// </summary>
internal sealed class KernelContext
{
    /// <summary>
    /// Kernels run few times on much data, so their loops skip tiered compilation (whose first tier would run
    /// unoptimised vector code until on-stack replacement) and their stack tiles skip zeroing.
    /// </summary>
    public const string HotMethod = "[global::System.Runtime.CompilerServices.MethodImpl(global::System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization), global::System.Runtime.CompilerServices.SkipLocalsInit]";

    public KernelContext(KernelModel kernel)
    {
        Kernel = kernel;
        Plan = KernelPlan.Of(kernel);
    }

    public KernelModel Kernel { get; }

    public KernelPlan Plan { get; }

    public CodeWriter W { get; } = new();

    public IEnumerable<Stage> Stages => Kernel.Stages;

    public IEnumerable<ParamModel> RowParams => Kernel.Params.Where(p => p.Kind is ParamKind.InRow or ParamKind.OutRow);

    /// <summary>The input rows the CPU loops read in order, row after row (not rows gathered by index): their lines are
    /// prefetched ahead of the loop.</summary>
    public IEnumerable<ParamModel> StreamedRows => Kernel.Params.Where(p => p.Kind == ParamKind.InRow && p.RowFrom.Length == 0);

    public IEnumerable<ParamModel> RowInputs => Kernel.Params.Where(p => p.Kind is ParamKind.RowFloat or ParamKind.RowInt);

    public bool IsUniform(string name) => Kernel.Params.Any(p => p.Name == name && p.Kind == ParamKind.Uniform);

    public bool IsParam(string name, ParamKind kind) => Kernel.Params.Any(p => p.Name == name && p.Kind == kind);

    public string? TotalName => Kernel.Params.FirstOrDefault(p => p.Kind == ParamKind.Total)?.Name;

    /// <summary>The variable holding a name's value in per-row code: per-row inputs are read once per row into __in_name.</summary>
    public string Ref(string name) => RowInputs.Any(p => p.Name == name) ? "__in_" + name : name;

    /// <summary>The element offset of the current row of a row parameter: its own row, or the row its [RowFrom] index names.</summary>
    public string RowOffset(ParamModel p) => p.RowFrom.Length == 0 ? "__o" : $"(long)__in_{p.RowFrom} * cols";

    /// <summary>Reads each per-row input of the current row (scalar code).</summary>
    public void EmitRowInputs()
    {
        foreach (var p in RowInputs)
            W.Line($"{(p.Kind == ParamKind.RowInt ? "int" : "float")} __in_{p.Name} = {p.Name}[__row];");
    }

    /// <summary>
    /// Row parameters the tile and register-row GPU entry points hold in shared memory or registers: the kernel's own
    /// rows (not rows gathered by index), and only in kernels with more than one pass over their rows (a single pass
    /// gains nothing from staging).
    /// </summary>
    public List<ParamModel> Staged =>
        Plan.Traversals > 1 ? RowParams.Where(p => p.RowFrom.Length == 0).ToList() : new List<ParamModel>();

    /// <summary>The shared-memory or register slot of a staged row, or -1.</summary>
    public int Slot(string row) => Staged.FindIndex(p => p.Name == row);

    // ------------------------------------------------------------ parameter lists of the entry points

    public string CpuParams() => string.Join(", ", Kernel.Params.Where(p => p.Kind != ParamKind.Total).Select(p => p.Kind switch
    {
        ParamKind.Uniform => "float " + p.Name,
        ParamKind.OutInt or ParamKind.RowInt => "int* " + p.Name,
        _ => "float* " + p.Name,
    }));

    public string CpuArgs() => string.Join(", ", Kernel.Params.Where(p => p.Kind != ParamKind.Total).Select(p => p.Name));

    public static string ViewType(ParamKind kind) => kind switch
    {
        ParamKind.Uniform => "float",
        ParamKind.OutInt or ParamKind.RowInt => Names.ArrayView + "<int>",
        ParamKind.Total => Names.ArrayView + "<double>",
        _ => Names.ArrayView + "<float>",
    };

    public string GpuParams() => string.Join(", ", Kernel.Params.Select(p => $"{ViewType(p.Kind)} {p.Name}")) + ", long rows, int cols";

    public string GpuTypes() => string.Join(", ", Kernel.Params.Select(p => ViewType(p.Kind))) + ", long, int";

    public string GpuArgs() => string.Join(", ", Kernel.Params.Select(p => p.Name)) + ", rows, cols";

    /// <summary>The element offset of a row in GPU code: the row's own, or that of its [RowFrom] row.</summary>
    public string GpuBase(string row) => Kernel.Params.Any(p => p.Name == row && p.RowFrom.Length > 0) ? "__o_" + row : "__o";

    public void EmitGpuRowOffsets()
    {
        foreach (var p in RowParams.Where(p => p.RowFrom.Length > 0)) W.Line($"long __o_{p.Name} = {RowOffset(p)};");
    }
}
