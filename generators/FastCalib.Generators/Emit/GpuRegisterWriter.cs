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
        foreach (var stage in k.Plan.Steps.SelectMany(s => s.Stages)) EmitStage(k, stage, wholeGroup);
        foreach (var p in k.Staged.Where(p => p.Kind == ParamKind.OutRow))
            for (int v = 0; v < LaneValues; v++)
                w.Line($"if ({v} < __n) {p.Name}[__o + __lane + {v} * __width] = {Reg(p.Name, v)};");
        w.Close();
        if (k.TotalName is { } total)
        {
            if (wholeGroup) w.Line($"if (__lane == 0) {Names.Atomic}.Add(ref {total}[0], __total);");
            else
            {
                // the group's total first: one atomic per group, not per warp
                GpuScalarWriter.EmitGroupTotal(k);
            }
        }
        w.Close().Line();
    }

    /// <summary>One stage: its loop unrolled over the lane's values, reductions finished across the warp, team or group.</summary>
    private static void EmitStage(KernelContext k, Stage stage, bool wholeGroup)
    {
        var w = k.W;
        // group reductions, or reductions within a team of __width lanes
        string Reduce(string op, string args) => wholeGroup ? $"{Names.GroupReduce}.{op}({args})" : $"{Names.GroupReduce}.Team{op}({args}, __width)";
        string Element(string row, int v) => k.Slot(row) >= 0 ? Reg(row, v) : $"{row}[{k.GpuBase(row)} + __lane + {v} * __width]";
        string Body() => ExprEmitter.Scalar(stage.Body!, k.Ref, Names.GpuMath);
        // value v exists if v < __n; nested so that a lane of a short row stops after its last value
        void EachValue(Action<int> body)
        {
            for (int v = 0; v < LaneValues; v++)
            {
                w.Open($"if ({v} < __n)");
                w.Open("");
                for (int i = 0; i < stage.Inputs.Count; i++) w.Line($"float {stage.LambdaParams[i]} = {Element(stage.Inputs[i], v)};");
                body(v);
                w.Close();
            }
            for (int v = 0; v < LaneValues; v++) w.Close();
        }

        switch (stage.Kind)
        {
            case StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum:
            {
                var reduction = Reduction.Of(stage.Kind);
                string acc = "__p_" + stage.Target;
                w.Line($"float {acc} = {reduction.Identity};");
                EachValue(v =>
                {
                    w.Line($"float __f = {Body()};");
                    if (stage.Kind == StageKind.MapSum) w.Line($"{Element(stage.Output, v)} = __f;");
                    w.Line(reduction.ScalarUpdate(acc, "__f", Names.GpuMath));
                });
                w.Line($"float {stage.Target} = {Reduce(reduction.Group, acc)};");
                break;
            }
            case StageKind.ArgMax:
                w.Line($"float __bv_{stage.Target} = float.NegativeInfinity;");
                w.Line($"int __bi_{stage.Target} = __lane;");
                EachValue(v =>
                {
                    w.Line($"float __f = {Body()};");
                    w.Open($"if (__f > __bv_{stage.Target} || ({Names.GpuMath}.IsNaN(__f) && !{Names.GpuMath}.IsNaN(__bv_{stage.Target})))");
                    w.Line($"__bv_{stage.Target} = __f;");
                    w.Line($"__bi_{stage.Target} = __lane + {v} * __width;");
                    w.Close();
                });
                w.Line($"int {stage.Target} = {Reduce("ArgMax", $"__bv_{stage.Target}, __bi_{stage.Target}")};");
                break;
            case StageKind.Map:
                EachValue(v => w.Line($"{Element(stage.Output, v)} = {Body()};"));
                break;
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
