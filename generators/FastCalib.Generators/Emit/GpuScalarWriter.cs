using System;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// The ILGPU shapes that run the stages as scalar code: <c>GpuThreadPerRow</c> (one thread per narrow row),
/// <c>GpuGroupPerRow</c> (one group per wide row, group reductions) and <c>GpuTileRows</c> (narrow rows staged a
/// block at a time through shared memory, one row per thread, coalesced copies in and out).
/// </summary>
internal static class GpuScalarWriter
{
    public static void EmitThreadPerRow(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>ILGPU entry point: one thread per row (narrow rows), grid-stride over rows.</summary>");
        w.Line(Names.KernelEntry);
        w.Open($"public static void GpuThreadPerRow({k.GpuParams()})");
        if (k.TotalName is not null) w.Line("double __total = 0;");
        w.Line($"long __stride = (long){Names.Grid}.DimX * {Names.Group}.DimX;");
        w.Open($"for (long __row = {Names.Grid}.GlobalIndex.X; __row < rows; __row += __stride)");
        w.Line("long __o = __row * cols;");
        k.EmitRowInputs();
        k.EmitGpuRowOffsets();
        ScalarStageWriter.Emit(k, ScalarModel.Gpu((row, index) => $"{row}[{k.GpuBase(row)} + {index}]", group: false));
        w.Close();
        EmitGroupTotal(k);
        w.Close().Line();
    }

    public static void EmitGroupPerRow(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>ILGPU entry point: one thread group per row (wide rows), grid-stride over rows.</summary>");
        w.Line(Names.KernelEntry);
        w.Open($"public static void GpuGroupPerRow({k.GpuParams()})");
        w.Line($"int __lane = {Names.Group}.IdxX;");
        w.Line($"int __threads = {Names.Group}.DimX;");
        if (k.TotalName is not null) w.Line("double __total = 0;");
        w.Open($"for (long __row = {Names.Grid}.IdxX; __row < rows; __row += {Names.Grid}.DimX)");
        w.Line("long __o = __row * cols;");
        k.EmitRowInputs();
        k.EmitGpuRowOffsets();
        ScalarStageWriter.Emit(k, ScalarModel.Gpu((row, index) => $"{row}[{k.GpuBase(row)} + {index}]", group: true));
        w.Close();
        if (k.TotalName is { } total) w.Line($"if (__lane == 0) {Names.DeviceAtomic}.Add(ref {total}[0], __total);");
        w.Close().Line();
    }

    public static void EmitTileRows(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>ILGPU entry point for narrow rows: each group stages a block of rows (one per thread) in shared memory.</summary>");
        w.Line(Names.KernelEntry);
        w.Open($"public static void GpuTileRows({k.GpuParams()})");
        w.Line($"var __shared = {Names.SharedMemory}.GetDynamic<float>();");
        w.Line($"int __lane = {Names.Group}.IdxX;");
        w.Line($"int __threads = {Names.Group}.DimX;");
        w.Line("int __pitch = cols | 1;   // an odd row pitch keeps threads reading the same column in different banks");
        w.Line("int __slot = __threads * __pitch;");
        if (k.TotalName is not null) w.Line("double __total = 0;");
        w.Open($"for (long __first = (long){Names.Grid}.IdxX * __threads; __first < rows; __first += (long){Names.Grid}.DimX * __threads)");
        w.Line("int __count = rows - __first < __threads ? (int)(rows - __first) : __threads;");
        w.Line("long __block = __first * cols;");
        string Tiled(ParamModel p) => $"{k.Slot(p.Name)} * __slot + __i / cols * __pitch + __i % cols";
        EmitStagedCopies(k, ParamKind.InRow, "__count * cols", Tiled, "__block");
        w.Line(Names.Group + ".Barrier();");
        w.Open("if (__lane < __count)");
        w.Line("long __row = __first + __lane;");
        w.Line("long __o = __row * cols;");
        k.EmitRowInputs();
        k.EmitGpuRowOffsets();
        ScalarStageWriter.Emit(k, ScalarModel.Gpu((row, index) => k.Slot(row) >= 0
            ? $"__shared[{k.Slot(row)} * __slot + __lane * __pitch + {index}]"
            : $"{row}[{k.GpuBase(row)} + {index}]", group: false));
        w.Close();
        w.Line(Names.Group + ".Barrier();");
        EmitStagedCopies(k, ParamKind.OutRow, "__count * cols", Tiled, "__block");
        w.Line(Names.Group + ".Barrier();");
        w.Close();
        EmitGroupTotal(k);
        w.Close().Line();
    }

    /// <summary>Adds each thread's total into the kernel's total: the group's sum first, one atomic per group.</summary>
    public static void EmitGroupTotal(KernelContext k)
    {
        if (k.TotalName is not { } total) return;
        k.W.Line($"double __sum = {Names.GroupReduce}.SumDouble(__total);");
        k.W.Line($"if ({Names.Group}.IdxX == 0) {Names.DeviceAtomic}.Add(ref {total}[0], __sum);");
    }

    /// <summary>Copies staged rows between a view and shared memory, element <c>__i</c> of the block at <paramref name="start"/>.</summary>
    private static void EmitStagedCopies(KernelContext k, ParamKind kind, string count, Func<ParamModel, string> sharedIndex, string start)
    {
        var w = k.W;
        foreach (var p in k.Staged.Where(p => p.Kind == kind))
        {
            w.Open($"for (int __i = __lane; __i < {count}; __i += __threads)");
            w.Line(kind == ParamKind.InRow
                ? $"__shared[{sharedIndex(p)}] = {p.Name}[{start} + __i];"
                : $"{p.Name}[{start} + __i] = __shared[{sharedIndex(p)}];");
            w.Close();
        }
    }
}
