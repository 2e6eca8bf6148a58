using System;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>How the register-row kernels share a row: a warp, a team of lanes (several rows per warp), or a group.</summary>
internal enum RegisterShape { Warp, Team, Group }

/// <summary>
/// The register-row ILGPU shapes <c>GpuWarpRows</c>, <c>GpuTeamRows</c> and <c>GpuGroupRows</c>: a row belongs to a
/// warp, a team of lanes or a group, and each lane holds up to <see cref="LaneValues"/> of its values in registers
/// (column lane + k · width in value k), so device memory sees each input read once and each output written once.
/// </summary>
/// <remarks>
/// The three share one body and differ in how lanes find their row and reduce across it. They stay three entry
/// points rather than one generic over the shape: the warp size must stay a compile-time constant of the warp kernel
/// (a run-time team size made [1e5 x 1000] softmax 1.5x slower on an H100).
/// </remarks>
internal static class GpuRegisterWriter
{
    /// <summary>Values of a row each lane holds in registers (rows of up to 32 warp or group widths).</summary>
    public const int LaneValues = 32;

    private static string Reg(string row, int k) => $"__v_{row}_{k}";

    public static void Emit(KernelContext k, RegisterShape shape)
    {
        var w = k.W;
        bool wholeGroup = shape == RegisterShape.Group;
        w.Line(shape switch
        {
            RegisterShape.Group => "/// <summary>ILGPU entry point: one group per row, the row held in registers (column lane + k · group size in value k), read once and written once.</summary>",
            RegisterShape.Team => "/// <summary>ILGPU entry point: a team of lanes per row (a power of two below the warp size, several rows per warp), the row held in registers, read once and written once.</summary>",
            _ => "/// <summary>ILGPU entry point: one warp per row, the row held in registers (column lane + k · warp in value k), read once and written once.</summary>",
        });
        w.Line(Names.KernelEntry);
        w.Open($"public static void Gpu{shape}Rows({k.GpuParams()})");
        if (k.TotalName is not null) w.Line("double __total = 0;");
        switch (shape)
        {
            case RegisterShape.Group:
                w.Line($"int __lane = {Names.Group}.IdxX;");
                w.Line($"int __width = {Names.Group}.DimX;");
                w.Open($"for (long __row = {Names.Grid}.IdxX; __row < rows; __row += {Names.Grid}.DimX)");
                w.Line("bool __live = true;");
                w.Line("long __o = __row * cols;");
                k.EmitRowInputs();
                break;
            case RegisterShape.Warp:
                // the warp size is a constant to the device compiler: a separate entry keeps it so (a run-time team
                // size made [1e5 x 1000] softmax 1.5x slower on the H100)
                w.Line($"int __lane = {Names.Warp}.LaneIdx;");
                w.Line($"int __width = {Names.Warp}.WarpSize;");
                w.Line($"int __perGroup = {Names.Group}.DimX / __width;");
                w.Open($"for (long __row = (long){Names.Grid}.IdxX * __perGroup + {Names.Warp}.WarpIdx; __row < rows; __row += (long){Names.Grid}.DimX * __perGroup)");
                w.Line("bool __live = true;");
                w.Line("long __o = __row * cols;");
                k.EmitRowInputs();
                break;
            default:
                w.Line($"int __width = {Names.GpuRows}.TeamSize(cols, {Names.Warp}.WarpSize);");
                w.Line($"int __lane = {Names.Warp}.LaneIdx & (__width - 1);");
                w.Line($"int __rowsPerWarp = {Names.Warp}.WarpSize / __width;");
                w.Line($"long __warps = (long){Names.Grid}.DimX * ({Names.Group}.DimX / {Names.Warp}.WarpSize);");
                // every lane of the warp runs the loop (the team reductions shuffle across it); lanes past the last row idle
                w.Open($"for (long __first = ((long){Names.Grid}.IdxX * ({Names.Group}.DimX / {Names.Warp}.WarpSize) + {Names.Warp}.WarpIdx) * __rowsPerWarp; __first < rows; __first += __warps * __rowsPerWarp)");
                w.Line($"long __row = __first + {Names.Warp}.LaneIdx / __width;");
                w.Line("bool __live = __row < rows;");
                w.Line("long __o = __row * cols;");
                foreach (var p in k.RowInputs)
                    w.Line($"{(p.Kind == ParamKind.RowInt ? "int" : "float")} __in_{p.Name} = __live ? {p.Name}[__row] : 0;");
                break;
        }
        k.EmitGpuRowOffsets();
        w.Line("int __n = __live ? (cols - __lane + __width - 1) / __width : 0;   // values this lane holds");
        foreach (var p in k.Staged)
            for (int v = 0; v < LaneValues; v++)
                w.Line(p.Kind == ParamKind.InRow
                    ? $"float {Reg(p.Name, v)} = {v} < __n ? {p.Name}[__o + __lane + {v} * __width] : 0f;"
                    : $"float {Reg(p.Name, v)} = 0f;");
        foreach (var step in k.Plan.Steps)
        {
            if (step.Fused is { } traversal) EmitTraversal(k, traversal, wholeGroup);
            else EmitStatement(k, step.Stages[0]);
        }
        foreach (var p in k.Staged.Where(p => p.Kind == ParamKind.OutRow))
            for (int v = 0; v < LaneValues; v++)
                w.Line($"if ({v} < __n) {p.Name}[__o + __lane + {v} * __width] = {Reg(p.Name, v)};");
        w.Close();
        if (k.TotalName is { } total)
        {
            if (wholeGroup) w.Line($"if (__lane == 0) {Names.DeviceAtomic}.Add(ref {total}[0], __total);");
            else
            {
                // the group's total first: one atomic per group, not per warp
                GpuScalarWriter.EmitGroupTotal(k);
            }
        }
        w.Close().Line();
    }

    /// <summary>
    /// One traversal: the loop over the lane's values unrolled (value v exists if v &lt; __n; nested so that a lane of
    /// a short row stops after its last value), every pattern per value, reductions finished across the warp, team or
    /// group after it.
    /// </summary>
    private static void EmitTraversal(KernelContext k, Traversal t, bool wholeGroup)
    {
        var w = k.W;
        // group reductions, or reductions within a team of __width lanes
        string Reduce(string op, string args) => wholeGroup ? $"{Names.GroupReduce}.{op}({args})" : $"{Names.GroupReduce}.Team{op}({args}, __width)";
        string Element(string row, int v) => k.Slot(row) >= 0 ? Reg(row, v) : $"{row}[{k.GpuBase(row)} + __lane + {v} * __width]";
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind)) w.Line($"float __p_{st.Target} = {Reduction.Of(st.Kind).Identity};");
            else if (st.Kind == StageKind.ArgMax)
            {
                w.Line($"float __bv_{st.Target} = float.NegativeInfinity;");
                w.Line($"int __bi_{st.Target} = __lane;");
            }
        }
        for (int v = 0; v < LaneValues; v++)
        {
            w.Open($"if ({v} < __n)");
            w.Open("");
            foreach (var row in t.LoadedRows) w.Line($"float {Traversal.Loaded(row)} = {Element(row, v)};");
            foreach (var s in t.Stages)
            {
                var st = s.Stage;
                ScalarStageWriter.EmitValue(k, s, Names.GpuMath);
                if (st.Kind is StageKind.Map or StageKind.MapSum) w.Line($"{Element(st.Output, v)} = {s.Value};");
                if (StageKinds.IsReduction(st.Kind)) w.Line(Reduction.Of(st.Kind).ScalarUpdate("__p_" + st.Target, s.Value, Names.GpuMath));
                else if (st.Kind == StageKind.ArgMax)
                {
                    w.Open($"if ({s.Value} > __bv_{st.Target} || ({Names.GpuMath}.IsNaN({s.Value}) && !{Names.GpuMath}.IsNaN(__bv_{st.Target})))");
                    w.Line($"__bv_{st.Target} = {s.Value};");
                    w.Line($"__bi_{st.Target} = __lane + {v} * __width;");
                    w.Close();
                }
            }
            w.Close();
        }
        for (int v = 0; v < LaneValues; v++) w.Close();
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind)) w.Line($"float {st.Target} = {Reduce(Reduction.Of(st.Kind).Group, "__p_" + st.Target)};");
            else if (st.Kind == StageKind.ArgMax) w.Line($"int {st.Target} = {Reduce("ArgMax", $"__bv_{st.Target}, __bi_{st.Target}")};");
        }
    }

    /// <summary>A per-row statement; lane 0 of the row writes its outputs.</summary>
    private static void EmitStatement(KernelContext k, Stage stage)
    {
        var w = k.W;
        string Body() => ExprEmitter.Scalar(stage.Body!, k.Ref, Names.GpuMath);
        switch (stage.Kind)
        {
            case StageKind.At:
            {
                // an input row, read again from device memory (it was just read, so the cache holds it)
                string row = stage.Inputs[0];
                w.Line($"float {stage.Target} = __live ? {row}[{k.GpuBase(row)} + {k.Ref(stage.Index)}] : 0f;");
                break;
            }
            case StageKind.Let:
                w.Line($"float {stage.Target} = {Body()};");
                break;
            case StageKind.AssignOut:
                w.Line($"if (__lane == 0 && __live) {stage.Target}[__row] = {(stage.TargetIsInt ? k.Ref(stage.Index) : Body())};");
                break;
            case StageKind.AddTotal:
                w.Line($"if (__lane == 0 && __live) __total += (double)({Body()});");
                break;
        }
    }
}
