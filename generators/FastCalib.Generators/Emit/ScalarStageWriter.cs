using System;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// How scalar code reads elements and computes: the CPU scalar path (MathF, sums in float64: it is the accurate
/// fallback and the cost is nil there) or an ILGPU shape (GpuMath, float32 sums), with one thread per row or a
/// group per row (<see cref="Group"/>: lanes stride over the columns and reductions finish across the group).
/// </summary>
internal sealed record ScalarModel(Func<string, string, string> Element, string Math, string IsNaN, bool Group, bool WideSums)
{
    public static ScalarModel Cpu(Func<string, string, string> element) => new(element, Names.MathF, "float.IsNaN", Group: false, WideSums: true);

    public static ScalarModel Gpu(Func<string, string, string> element, bool group) => new(element, Names.GpuMath, Names.GpuMath + ".IsNaN", group, WideSums: false);
}

/// <summary>Writes the stages of a kernel as scalar code: the CPU scalar path and the thread-, group- and tile-per-row GPU shapes.</summary>
internal static class ScalarStageWriter
{
    public static void Emit(KernelContext k, ScalarModel m)
    {
        foreach (var step in k.Plan.Steps)
        {
            if (step.Fused is { } traversal) EmitTraversal(k, traversal, m);
            else EmitStatement(k, step.Stages[0], m);
        }
    }

    /// <summary>The temps first needed by a stage, then its value <c>__w{index}</c>, as scalar code.</summary>
    public static void EmitValue(KernelContext k, FusedStage s, string math)
    {
        foreach (var t in s.TempsBefore)
            k.W.Line($"{(t.Value.IsBoolean ? "bool" : "float")} {t.Name} = {ExprEmitter.Scalar(t.Value, k.Ref, math)};");
        k.W.Line($"float {s.Value} = {ExprEmitter.Scalar(s.Body, k.Ref, math)};");
    }

    /// <summary>One loop over the row for all patterns of the traversal: accumulators first, finished after the loop.</summary>
    private static void EmitTraversal(KernelContext k, Traversal traversal, ScalarModel m)
    {
        var w = k.W;
        string Accumulator(Stage st) => m.Group || (Reduction.Of(st.Kind).IsSum && m.WideSums) ? "__p_" + st.Target : st.Target;
        foreach (var s in traversal.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind))
            {
                var reduction = Reduction.Of(st.Kind);
                w.Line($"{(reduction.IsSum && m.WideSums ? "double" : "float")} {Accumulator(st)} = {reduction.Identity};");
            }
            else if (st.Kind == StageKind.ArgMax)
            {
                w.Line($"float __bv_{st.Target} = float.NegativeInfinity;");
                w.Line($"int __bi_{st.Target} = {(m.Group ? "__lane" : "0")};");
            }
        }
        w.Open(m.Group ? "for (int __j = __lane; __j < cols; __j += __threads)" : "for (int __j = 0; __j < cols; __j++)");
        foreach (var row in traversal.LoadedRows) w.Line($"float {Traversal.Loaded(row)} = {m.Element(row, "__j")};");
        foreach (var s in traversal.Stages)
        {
            var st = s.Stage;
            EmitValue(k, s, m.Math);
            if (st.Kind is StageKind.Map or StageKind.MapSum) w.Line($"{m.Element(st.Output, "__j")} = {s.Value};");
            if (StageKinds.IsReduction(st.Kind)) w.Line(Reduction.Of(st.Kind).ScalarUpdate(Accumulator(st), s.Value, m.Math));
            else if (st.Kind == StageKind.ArgMax)
            {
                w.Open($"if ({s.Value} > __bv_{st.Target} || ({m.IsNaN}({s.Value}) && !{m.IsNaN}(__bv_{st.Target})))");
                w.Line($"__bv_{st.Target} = {s.Value};");
                w.Line($"__bi_{st.Target} = __j;");
                w.Close();
            }
        }
        w.Close();
        foreach (var s in traversal.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind))
            {
                var reduction = Reduction.Of(st.Kind);
                if (m.Group) w.Line($"float {st.Target} = {Names.GroupReduce}.{reduction.Group}({Accumulator(st)});");
                else if (reduction.IsSum && m.WideSums) w.Line($"float {st.Target} = (float){Accumulator(st)};");
            }
            else if (st.Kind == StageKind.ArgMax)
                w.Line(m.Group
                    ? $"int {st.Target} = {Names.GroupReduce}.ArgMax(__bv_{st.Target}, __bi_{st.Target});"
                    : $"int {st.Target} = __bi_{st.Target};");
        }
    }

    /// <summary>A per-row statement (At, Let, an out assignment, a total).</summary>
    public static void EmitStatement(KernelContext k, Stage stage, ScalarModel m)
    {
        var w = k.W;
        string guard = m.Group ? "if (__lane == 0) " : "";
        string Body() => ExprEmitter.Scalar(stage.Body!, k.Ref, m.Math);
        switch (stage.Kind)
        {
            case StageKind.At:
                if (m.Group && k.IsParam(stage.Inputs[0], ParamKind.OutRow))
                    w.Line(Names.Group + ".Barrier();");
                w.Line($"float {stage.Target} = {m.Element(stage.Inputs[0], k.Ref(stage.Index))};");
                break;
            case StageKind.Let:
                w.Line($"float {stage.Target} = {Body()};");
                break;
            case StageKind.AssignOut:
                w.Line($"{guard}{stage.Target}[__row] = {(stage.TargetIsInt ? k.Ref(stage.Index) : Body())};");
                break;
            case StageKind.AddTotal:
                w.Line($"{guard}__total += (double)({Body()});");
                break;
        }
    }
}
