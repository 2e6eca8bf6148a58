using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// The within-row SIMD path <c>Row128/256/512</c>: each row in whole vectors, one loop per traversal (four
/// accumulators per reduction when the traversal has no ArgMax), and the columns after the last whole vector
/// handled under a lane mask.
/// </summary>
internal static class SimdRowWriter
{
    private const int Unroll = 4;

    /// <summary>How a column block is loaded and stored: whole vectors, the row's last whole vector redone under a mask, or a partial vector.</summary>
    private enum Part { Whole, MaskedWhole, Partial }

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
        foreach (var p in k.StreamedRows) w.Line($"{Names.Prefetch}.Ahead(__r_{p.Name}, cols);");
        var scalar = ScalarModel.Cpu((row, index) => $"__r_{row}[{index}]");
        foreach (var step in k.Plan.Steps)
        {
            if (step.Fused is { } traversal) EmitTraversal(k, traversal, width);
            else ScalarStageWriter.EmitStatement(k, step.Stages[0], scalar);
        }
        w.Close();
        w.Line("return __total;");
        w.Close().Line();
    }

    private static void EmitTraversal(KernelContext k, Traversal t, int width)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        // independent accumulators hide the latency of each reduction's additions; with many reductions in one
        // traversal fewer copies do (and keep the accumulators, temps and constants within the vector registers).
        // An exponential or logarithm per element costs several times an addition's latency, so the processor
        // overlaps successive columns by itself: one copy, or two for a single reduction (softmax's Σe: 3% faster
        // than one under AVX2), as more copies of its 20-odd live values only spill registers (16 under AVX2:
        // softmax's 4-copy loop kept its accumulators and temps on the stack)
        bool argMax = t.Stages.Any(s => s.Stage.Kind == StageKind.ArgMax);
        int reductions = t.Stages.Count(s => StageKinds.IsReduction(s.Stage.Kind));
        int unroll = argMax || reductions == 0 ? 1 : t.Transcendentals > 0 ? (reductions == 1 ? 2 : 1) : reductions <= 2 ? Unroll : reductions <= 4 ? 2 : 1;
        foreach (var s in t.Stages.Where(s => s.Stage.Target.Length > 0))
            w.Line($"{(s.Stage.Kind == StageKind.ArgMax ? "int" : "float")} {s.Stage.Target};");
        w.Open("");
        foreach (var name in t.OuterNames.Where(n => !k.IsUniform(n)))
            w.Line($"var __v_{name} = {V}.Create({name});");
        foreach (var s in t.Stages)
        {
            if (StageKinds.IsReduction(s.Stage.Kind))
            {
                for (int u = 0; u < unroll; u++) w.Line($"var __a{s.Index}_{u} = {V}.Create({Reduction.Of(s.Stage.Kind).Identity});");
                if (Reduction.Of(s.Stage.Kind).TracksNaN) w.Line($"var {Reduction.NaNMask(s.Index)} = {V}<float>.Zero;");
            }
            else if (s.Stage.Kind == StageKind.ArgMax)
            {
                w.Line($"var __bv{s.Index} = {V}.Create(float.NegativeInfinity);");
                w.Line($"var __bi{s.Index} = {V}<int>.Indices;");
            }
        }
        w.Line("int __j = 0;");
        if (unroll > 1)
        {
            w.Open($"for (; __j <= cols - {unroll} * __w; __j += {unroll} * __w)");
            for (int u = 0; u < unroll; u++)
            {
                w.Open("");
                EmitColumns(k, t, width, u == 0 ? "__j" : $"__j + {u} * __w", u, Part.Whole);
                w.Close();
            }
            w.Close();
        }
        w.Open("for (; __j <= cols - __w; __j += __w)");
        EmitColumns(k, t, width, "__j", 0, Part.Whole);
        w.Close();
        // the columns after the whole vectors: rows of at least one vector redo their last whole vector with __m set
        // on the lanes not yet done (the others are kept by blending, never recomputed into results), which costs no
        // partial memory access; shorter rows go through a partial load of their few values
        w.Open("if (__j < cols)");
        w.Open("if (cols >= __w)");
        w.Line("int __s = cols - __w;");
        w.Line($"var __m = {V}.OnesComplement({M}.FirstLanes(__j - __s));");
        EmitColumns(k, t, width, "__s", 0, Part.MaskedWhole);
        w.Close();
        w.Open("else");
        w.Line("int __n = cols - __j;");
        w.Line($"var __m = {M}.FirstLanes(__n);");
        EmitColumns(k, t, width, "__j", 0, Part.Partial);
        w.Close();
        w.Close();
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind))
            {
                var reduction = Reduction.Of(st.Kind);
                var parts = Enumerable.Range(0, unroll).Select(u => $"__a{s.Index}_{u}").ToList();
                while (parts.Count > 1)
                    parts = Enumerable.Range(0, parts.Count / 2).Select(i => reduction.VectorCombine(parts[2 * i], parts[2 * i + 1], width)).ToList();
                string lanes = reduction.TracksNaN ? Reduction.WithNaN(parts[0], s.Index, width) : parts[0];
                w.Line($"{st.Target} = {M}.{reduction.Across}({lanes});");
            }
            else if (st.Kind == StageKind.ArgMax)
                w.Line($"{st.Target} = {M}.ArgMaxAcross(__bv{s.Index}, __bi{s.Index});");
        }
        w.Close();
    }

    /// <summary>One vector of columns from <paramref name="at"/> for every pattern: loads, values, stores, accumulators.</summary>
    private static void EmitColumns(KernelContext k, Traversal t, int width, string at, int u, Part part)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        foreach (var row in t.LoadedRows)
            w.Line(part == Part.Partial
                ? $"var {Traversal.Loaded(row)} = {M}.LoadFirst(__r_{row} + {at}, __n);"
                : $"var {Traversal.Loaded(row)} = {V}.Load(__r_{row} + {at});");
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            SimdShared.EmitValue(k, s, width, rowScalarsAreVectors: false);
            if (st.Kind is StageKind.Map or StageKind.MapSum)
            {
                string into = $"__r_{st.Output} + {at}";
                w.Line(part switch
                {
                    Part.Whole => $"{V}.Store({s.Value}, {into});",
                    Part.MaskedWhole => $"{V}.Store({V}.ConditionalSelect(__m, {s.Value}, {V}.Load({into})), {into});",
                    _ => $"{M}.StoreFirst({s.Value}, {into}, __n);",
                });
            }
            if (StageKinds.IsReduction(st.Kind))
            {
                var reduction = Reduction.Of(st.Kind);
                string acc = $"__a{s.Index}_{u}";
                w.Line(part == Part.Whole
                    ? $"{acc} = {SimdShared.ReductionStep(k, s, acc, width, rowScalarsAreVectors: false)};"
                    : $"{acc} = {V}.ConditionalSelect(__m, {SimdShared.ReductionStep(k, s, acc, width, rowScalarsAreVectors: false)}, {acc});");
                if (reduction.TracksNaN)
                    w.Line($"{Reduction.NaNMask(s.Index)} |= {V}.IsNaN({s.Value}){(part == Part.Whole ? "" : " & __m")};");
            }
            else if (st.Kind == StageKind.ArgMax)
            {
                string bv = $"__bv{s.Index}", bi = $"__bi{s.Index}", b = $"__b{s.Index}";
                w.Line($"var {b} = {M}.Beats({s.Value}, {bv}){(part == Part.Whole ? "" : " & __m")};");
                w.Line($"{bv} = {M}.Select({b}, {s.Value}, {bv});");
                w.Line($"{bi} = {M}.Select({b}, {V}<int>.Indices + {V}.Create({at}), {bi});");
            }
        }
    }
}
