using System;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// The within-row SIMD path <c>Row128/256/512</c>: each row in whole vectors, four accumulators per reduction, and
/// the columns after the last whole vector handled under a lane mask.
/// </summary>
internal static class SimdRowWriter
{
    private const int Unroll = 4;

    public static void Emit(KernelContext k, int width)
    {
        var w = k.W;
        string V = Names.Vector(width);
        w.Line($"/// <summary>Within-row Vector{width} path: each row in vectors, with a masked partial vector at its end.</summary>");
        w.Line(KernelContext.HotMethod);
        w.Open($"private static double Row{width}({Names.RowRange} __range, int cols, {k.CpuParams()})");
        w.Line("double __total = 0;");
        w.Line($"int __w = {V}<float>.Count;");
        SimdShared.EmitUniformBroadcasts(k, width);
        w.Open("for (long __row = __range.Start; __row < __range.End; __row++)");
        w.Line("long __o = __row * cols;");
        k.EmitRowInputs();
        foreach (var p in k.RowParams) w.Line($"float* __r_{p.Name} = {p.Name} + {k.RowOffset(p)};");
        var scalar = ScalarModel.Cpu((row, index) => $"__r_{row}[{index}]");
        foreach (var step in k.Plan.Steps)
            foreach (var stage in step.Stages)
            {
                if (!step.IsTraversal) ScalarStageWriter.EmitStage(k, stage, scalar);
                else if (StageKinds.IsReduction(stage.Kind)) EmitReduce(k, stage, width);
                else if (stage.Kind == StageKind.ArgMax) EmitArgMax(k, stage, width);
                else EmitMap(k, stage, width);
            }
        w.Close();
        w.Line("return __total;");
        w.Close().Line();
    }

    /// <summary>Max, Min, Sum or MapSum within a row: four independent accumulators, then one vector, then the masked tail.</summary>
    private static void EmitReduce(KernelContext k, Stage stage, int width)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        var reduction = Reduction.Of(stage.Kind);
        string Combine(string a, string b) => reduction.VectorCombine(a, b, width);
        bool store = stage.Kind == StageKind.MapSum;
        w.Line($"float {stage.Target};");
        w.Open("");
        EmitBroadcastLocals(k, stage, width);
        for (int u = 0; u < Unroll; u++) w.Line($"var __a{u} = {V}.Create({reduction.Identity});");
        w.Line("int __j = 0;");
        w.Open($"for (; __j <= cols - {Unroll} * __w; __j += {Unroll} * __w)");
        for (int u = 0; u < Unroll; u++)
        {
            string at = u == 0 ? "__j" : $"__j + {u} * __w";
            w.Open("");
            EmitLoads(k, stage, width, at, partial: false);
            w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, false)};");
            if (store) w.Line($"{V}.Store(__f, __r_{stage.Output} + {at});");
            w.Line($"__a{u} = {Combine($"__a{u}", "__f")};");
            w.Close();
        }
        w.Close();
        w.Open("for (; __j <= cols - __w; __j += __w)");
        EmitLoads(k, stage, width, "__j", partial: false);
        w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, false)};");
        if (store) w.Line($"{V}.Store(__f, __r_{stage.Output} + __j);");
        w.Line($"__a0 = {Combine("__a0", "__f")};");
        w.Close();
        EmitTail(k, stage, width, (at, partial) =>
        {
            w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, false)};");
            if (store) EmitMaskedStore(k, stage.Output, width, at, partial, "__f");
            w.Line($"__a0 = {V}.ConditionalSelect(__m, {Combine("__a0", "__f")}, __a0);");
        });
        w.Line($"{stage.Target} = {M}.{reduction.Across}({Combine(Combine("__a0", "__a1"), Combine("__a2", "__a3"))});");
        w.Close();
    }

    private static void EmitArgMax(KernelContext k, Stage stage, int width)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        w.Line($"int {stage.Target};");
        w.Open("");
        EmitBroadcastLocals(k, stage, width);
        w.Line($"var __bv = {V}.Create(float.NegativeInfinity);");
        w.Line($"var __bi = {V}<int>.Indices;");
        w.Line("int __j = 0;");
        w.Open("for (; __j <= cols - __w; __j += __w)");
        EmitLoads(k, stage, width, "__j", partial: false);
        w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, rowScalarsAreVectors: false)};");
        w.Line($"var __b = {M}.Beats(__f, __bv);");
        w.Line($"__bv = {V}.ConditionalSelect(__b, __f, __bv);");
        w.Line($"__bi = {V}.ConditionalSelect({V}.AsInt32(__b), {V}<int>.Indices + {V}.Create(__j), __bi);");
        w.Close();
        EmitTail(k, stage, width, (at, _) =>
        {
            w.Line($"var __f = {SimdShared.VectorBody(k, stage, width, rowScalarsAreVectors: false)};");
            w.Line($"var __b = {M}.Beats(__f, __bv) & __m;");
            w.Line($"__bv = {V}.ConditionalSelect(__b, __f, __bv);");
            w.Line($"__bi = {V}.ConditionalSelect({V}.AsInt32(__b), {V}<int>.Indices + {V}.Create({at}), __bi);");
        });
        w.Line($"{stage.Target} = {M}.ArgMaxAcross(__bv, __bi);");
        w.Close();
    }

    private static void EmitMap(KernelContext k, Stage stage, int width)
    {
        var w = k.W;
        w.Open("");
        EmitBroadcastLocals(k, stage, width);
        w.Line("int __j = 0;");
        w.Open("for (; __j <= cols - __w; __j += __w)");
        EmitLoads(k, stage, width, "__j", partial: false);
        w.Line($"{Names.Vector(width)}.Store({SimdShared.VectorBody(k, stage, width, false)}, __r_{stage.Output} + __j);");
        w.Close();
        EmitTail(k, stage, width, (at, partial) =>
            EmitMaskedStore(k, stage.Output, width, at, partial, SimdShared.VectorBody(k, stage, width, false)));
        w.Close();
    }

    /// <summary>
    /// The columns left after the whole vectors, [__j, cols). Rows of at least one vector redo the row's last whole
    /// vector, with __m set on the lanes not yet done (earlier lanes are kept by blending, never recomputed into
    /// results), which costs no partial memory access; shorter rows go through a stack copy of their few values.
    /// The body sees the lane mask __m, the start column and whether the loads were partial.
    /// </summary>
    private static void EmitTail(KernelContext k, Stage stage, int width, Action<string, bool> body)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        w.Open("if (__j < cols)");
        w.Open("if (cols >= __w)");
        w.Line("int __s = cols - __w;");
        w.Line($"var __m = {V}.OnesComplement({M}.FirstLanes(__j - __s));");
        EmitLoads(k, stage, width, "__s", partial: false);
        body("__s", false);
        w.Close();
        w.Open("else");
        w.Line("int __n = cols - __j;");
        w.Line($"var __m = {M}.FirstLanes(__n);");
        EmitLoads(k, stage, width, "__j", partial: true);
        body("__j", true);
        w.Close();
        w.Close();
    }

    /// <summary>Stores the masked lanes of a tail vector, keeping what the row already holds in the others.</summary>
    private static void EmitMaskedStore(KernelContext k, string output, int width, string at, bool partial, string value)
    {
        string V = Names.Vector(width), M = Names.SimdMath(width);
        k.W.Line(partial
            ? $"{M}.StoreFirst({value}, __r_{output} + {at}, __n);"
            : $"{V}.Store({V}.ConditionalSelect(__m, {value}, {V}.Load(__r_{output} + {at})), __r_{output} + {at});");
    }

    private static void EmitLoads(KernelContext k, Stage stage, int width, string at, bool partial)
    {
        for (int i = 0; i < stage.Inputs.Count; i++)
            k.W.Line(partial
                ? $"var {stage.LambdaParams[i]} = {Names.SimdMath(width)}.LoadFirst(__r_{stage.Inputs[i]} + {at}, __n);"
                : $"var {stage.LambdaParams[i]} = {Names.Vector(width)}.Load(__r_{stage.Inputs[i]} + {at});");
    }

    /// <summary>Row scalars the element function reads, broadcast once per stage (uniforms are broadcast once per call).</summary>
    private static void EmitBroadcastLocals(KernelContext k, Stage stage, int width)
    {
        foreach (var name in stage.Body!.Names().Distinct())
            if (!stage.LambdaParams.Contains(name) && !k.IsUniform(name))
                k.W.Line($"var __v_{name} = {Names.Vector(width)}.Create({name});");
    }
}
