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
            foreach (var stage in step.Stages)
                EmitStage(k, stage, m);
    }

    public static void EmitStage(KernelContext k, Stage stage, ScalarModel m)
    {
        var w = k.W;
        string loop = m.Group ? "for (int __j = __lane; __j < cols; __j += __threads)" : "for (int __j = 0; __j < cols; __j++)";
        string guard = m.Group ? "if (__lane == 0) " : "";
        string Body() => ExprEmitter.Scalar(stage.Body!, k.Ref, m.Math);
        void Loads()
        {
            for (int i = 0; i < stage.Inputs.Count; i++)
                w.Line($"float {stage.LambdaParams[i]} = {m.Element(stage.Inputs[i], "__j")};");
        }

        switch (stage.Kind)
        {
            case StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum:
            {
                var reduction = Reduction.Of(stage.Kind);
                bool wide = reduction.IsSum && m.WideSums;
                string acc = m.Group || wide ? "__p_" + stage.Target : stage.Target;
                w.Line($"{(wide ? "double" : "float")} {acc} = {reduction.Identity};");
                w.Open(loop);
                Loads();
                w.Line($"float __f = {Body()};");
                if (stage.Kind == StageKind.MapSum) w.Line($"{m.Element(stage.Output, "__j")} = __f;");
                w.Line(reduction.ScalarUpdate(acc, "__f", m.Math));
                w.Close();
                if (wide) w.Line($"float {stage.Target} = (float){acc};");
                else if (m.Group) w.Line($"float {stage.Target} = {Names.GroupReduce}.{reduction.Group}({acc});");
                break;
            }
            case StageKind.ArgMax:
                w.Line($"float __bv_{stage.Target} = float.NegativeInfinity;");
                w.Line($"int __bi_{stage.Target} = {(m.Group ? "__lane" : "0")};");
                w.Open(loop);
                Loads();
                w.Line($"float __f = {Body()};");
                w.Open($"if (__f > __bv_{stage.Target} || ({m.IsNaN}(__f) && !{m.IsNaN}(__bv_{stage.Target})))");
                w.Line($"__bv_{stage.Target} = __f;");
                w.Line($"__bi_{stage.Target} = __j;");
                w.Close();
                w.Close();
                w.Line(m.Group
                    ? $"int {stage.Target} = {Names.GroupReduce}.ArgMax(__bv_{stage.Target}, __bi_{stage.Target});"
                    : $"int {stage.Target} = __bi_{stage.Target};");
                break;
            case StageKind.Map:
                w.Open(loop);
                Loads();
                w.Line($"{m.Element(stage.Output, "__j")} = {Body()};");
                w.Close();
                break;
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
