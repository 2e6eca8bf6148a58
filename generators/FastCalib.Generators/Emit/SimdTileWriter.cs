using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// The across-rows SIMD path <c>Tile128/256/512</c> for rows of at most SimdWidth.TileMaxCols columns: as many rows
/// at a time as a vector has lanes, transposed into a column-major stack tile, so that every row scalar is a vector
/// with one row per lane.
/// </summary>
internal static class SimdTileWriter
{
    public static void Emit(KernelContext k, int width)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        w.Line($"/// <summary>Across-rows Vector{width} path for narrow rows: as many rows at a time as a vector has lanes, one row per lane.</summary>");
        w.Line(KernelContext.HotMethod);
        w.Open($"private static double Tile{width}({Names.RowRange} __range, int cols, {k.CpuParams()})");
        w.Line("double __total = 0;");
        w.Line($"int __w = {V}<float>.Count;");
        SimdShared.EmitUniformBroadcasts(k, width);
        foreach (var p in k.RowParams) w.Line($"float* __t_{p.Name} = stackalloc float[{Names.SimdWidth}.TileMaxCols * __w];");
        w.Open("for (long __row = __range.Start; __row < __range.End; __row += __w)");
        w.Line($"int __rows = (int){Names.Math}.Min(__w, __range.End - __row);");
        w.Line("long __o = __row * cols;");
        foreach (var p in k.RowParams.Where(p => p.Kind == ParamKind.InRow))
            w.Line(p.RowFrom.Length == 0
                ? $"{M}.LoadTile({p.Name} + __o, cols, __rows, __range.End - __row, __t_{p.Name});"
                : $"{M}.LoadTileRows({p.Name}, cols, {p.RowFrom} + __row, __rows, __t_{p.Name});");
        foreach (var p in k.RowInputs)
            w.Line($"var __in_{p.Name} = {M}.LoadRows({p.Name} + __row, __rows);");
        foreach (var stage in k.Plan.Steps.SelectMany(s => s.Stages))
            EmitStage(k, stage, width);
        foreach (var p in k.RowParams.Where(p => p.Kind == ParamKind.OutRow))
            w.Line($"{M}.StoreTile(__t_{p.Name}, cols, __rows, {p.Name} + __o);");
        w.Close();
        w.Line("return __total;");
        w.Close().Line();
    }

    private static void EmitStage(KernelContext k, Stage stage, int width)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        switch (stage.Kind)
        {
            case StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum:
            {
                // two accumulators (even and odd columns) halve the dependency chain of a short row
                var reduction = Reduction.Of(stage.Kind);
                w.Line($"var {stage.Target} = {V}.Create({reduction.Identity});");
                w.Open("");
                w.Line($"var __a1 = {V}.Create({reduction.Identity});");
                w.Line("int __j = 0;");
                w.Open("for (; __j + 1 < cols; __j += 2)");
                EmitReduceStep(k, stage, width, stage.Target, reduction, "__j");
                EmitReduceStep(k, stage, width, "__a1", reduction, "(__j + 1)");
                w.Close();
                w.Open("if (__j < cols)");
                EmitReduceStep(k, stage, width, stage.Target, reduction, "__j");
                w.Close();
                w.Line($"{stage.Target} = {reduction.VectorCombine(stage.Target, "__a1", width)};");
                w.Close();
                break;
            }
            case StageKind.ArgMax:
                // even and odd columns keep separate bests (shorter dependency chains), merged at the end
                w.Line($"var {stage.Target} = {V}<int>.Zero;");
                w.Open("");
                w.Line($"var __bv = {V}.Create(float.NegativeInfinity);");
                w.Line($"var __bv1 = {V}.Create(float.NegativeInfinity);");
                w.Line($"var __bi1 = {V}<int>.One;");
                w.Line("int __j = 0;");
                w.Open("for (; __j + 1 < cols; __j += 2)");
                EmitArgMaxStep(k, stage, width, "__bv", stage.Target, "__j");
                EmitArgMaxStep(k, stage, width, "__bv1", "__bi1", "(__j + 1)");
                w.Close();
                w.Open("if (__j < cols)");
                EmitArgMaxStep(k, stage, width, "__bv", stage.Target, "__j");
                w.Close();
                w.Line($"{stage.Target} = {M}.ArgMaxMerge(__bv, {stage.Target}, __bv1, __bi1);");
                w.Close();
                break;
            case StageKind.Map:
                w.Open("for (int __j = 0; __j < cols; __j++)");
                EmitLoads(k, stage, width);
                w.Line($"{V}.Store({SimdShared.VectorBody(k, stage, width, true)}, __t_{stage.Output} + __j * __w);");
                w.Close();
                break;
            case StageKind.At:
                w.Line($"var {stage.Target} = {M}.GatherTile(__t_{stage.Inputs[0]}, {k.Ref(stage.Index)});");
                break;
            case StageKind.Let:
                w.Line($"var {stage.Target} = {RowExpr(k, stage.Body!, width)};");
                break;
            case StageKind.AssignOut:
                w.Line(stage.TargetIsInt
                    ? $"{M}.StoreRows({k.Ref(stage.Index)}, {stage.Target} + __row, __rows);"
                    : $"{M}.StoreRows({RowExpr(k, stage.Body!, width)}, {stage.Target} + __row, __rows);");
                break;
            case StageKind.AddTotal:
                w.Line($"__total += {M}.SumRows({RowExpr(k, stage.Body!, width)}, __rows);");
                break;
        }
    }

    /// <summary>A per-row expression across rows: every row scalar is a vector (one row per lane).</summary>
    private static string RowExpr(KernelContext k, Expr body, int width) =>
        ExprEmitter.Vector(body, name => k.IsUniform(name) ? "__v_" + name : k.Ref(name), width);

    private static void EmitArgMaxStep(KernelContext k, Stage stage, int width, string best, string index, string column)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        w.Open("");
        EmitLoads(k, stage, width, column);
        w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, true)};");
        w.Line($"var __b = {M}.Beats(__f, {best});");
        w.Line($"{best} = {V}.ConditionalSelect(__b, __f, {best});");
        w.Line($"{index} = {V}.ConditionalSelect({V}.AsInt32(__b), {V}.Create({column}), {index});");
        w.Close();
    }

    private static void EmitReduceStep(KernelContext k, Stage stage, int width, string accumulator, Reduction reduction, string column)
    {
        var w = k.W;
        w.Open("");
        EmitLoads(k, stage, width, column);
        w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, rowScalarsAreVectors: true)};");
        if (stage.Kind == StageKind.MapSum) w.Line($"{Names.Vector(width)}.Store(__f, __t_{stage.Output} + {column} * __w);");
        w.Line($"{accumulator} = {reduction.VectorCombine(accumulator, "__f", width)};");
        w.Close();
    }

    private static void EmitLoads(KernelContext k, Stage stage, int width, string column = "__j")
    {
        for (int i = 0; i < stage.Inputs.Count; i++)
            k.W.Line($"var {stage.LambdaParams[i]} = {Names.Vector(width)}.Load(__t_{stage.Inputs[i]} + {column} * __w);");
    }
}
