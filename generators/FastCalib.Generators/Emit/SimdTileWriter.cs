using System.Collections.Generic;
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
        // tiles start on a cache line: a vector load or store straddling two lines costs two accesses
        foreach (var p in k.RowParams)
        {
            w.Line($"float* __s_{p.Name} = stackalloc float[{Names.SimdWidth}.TileMaxCols * __w + 16];");
            w.Line($"float* __t_{p.Name} = (float*)(((nint)__s_{p.Name} + 63) & ~(nint)63);");
        }
        w.Open("for (long __row = __range.Start; __row < __range.End; __row += __w)");
        w.Line($"int __rows = (int){Names.Math}.Min(__w, __range.End - __row);");
        w.Line("long __o = __row * cols;");
        foreach (var p in k.StreamedRows) w.Line($"{Names.Prefetch}.Ahead({p.Name} + __o, __rows * cols);");
        foreach (var p in k.RowParams.Where(p => p.Kind == ParamKind.InRow))
            w.Line(p.RowFrom.Length == 0
                ? $"{M}.LoadTile({p.Name} + __o, cols, __rows, __range.End - __row, __t_{p.Name});"
                : $"{M}.LoadTileRows({p.Name}, cols, {p.RowFrom} + __row, __rows, __t_{p.Name});");
        foreach (var p in k.RowInputs)
            w.Line($"var __in_{p.Name} = {M}.LoadRows({p.Name} + __row, __rows);");
        var reads = TileReads.Of(k);
        foreach (var step in k.Plan.Steps)
        {
            if (step.Fused is { } traversal) EmitTraversal(k, traversal, width, reads);
            else EmitStatement(k, step.Stages[0], width, reads);
        }
        foreach (var p in k.RowParams.Where(p => p.Kind == ParamKind.OutRow))
            w.Line($"{M}.StoreTile(__t_{p.Name}, cols, __rows, {p.Name} + __o);");
        w.Close();
        w.Line("return __total;");
        w.Close().Line();
    }

    /// <summary>
    /// One loop over the columns for all patterns of the traversal. With a reduction or an ArgMax, columns go in
    /// pairs: even and odd columns have their own accumulators (halving the dependency chain of a short row), merged
    /// after the loop.
    /// </summary>
    private static void EmitTraversal(KernelContext k, Traversal t, int width, TileReads reads)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        bool paired = t.Stages.Any(s => StageKinds.IsReduction(s.Stage.Kind) || s.Stage.Kind == StageKind.ArgMax);
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind))
            {
                w.Line($"var {st.Target} = {V}.Create({Reduction.Of(st.Kind).Identity});");
                if (Reduction.Of(st.Kind).TracksNaN) w.Line($"var {Reduction.NaNMask(s.Index)} = {V}<float>.Zero;");
            }
            else if (st.Kind == StageKind.ArgMax) w.Line($"var {st.Target} = {V}<int>.Zero;");
            if (reads.KeepsBest(st)) w.Line($"var {TileReads.Best(st.Target)} = {V}.Create(0f);");
        }
        var picked = reads.PickedIn(t);
        foreach (var at in picked) w.Line($"var {at.Target} = {V}.Create(0f);");
        w.Open("");
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind)) w.Line($"var __a1_{s.Index} = {V}.Create({Reduction.Of(st.Kind).Identity});");
            else if (st.Kind == StageKind.ArgMax)
            {
                w.Line($"var __bv{s.Index} = {V}.Create(float.NegativeInfinity);");
                w.Line($"var __bv1_{s.Index} = {V}.Create(float.NegativeInfinity);");
                w.Line($"var __bi1_{s.Index} = {V}<int>.One;");
            }
        }
        if (paired)
        {
            w.Line("int __j = 0;");
            w.Open("for (; __j + 1 < cols; __j += 2)");
            EmitColumn(k, t, width, "__j", odd: false, picked);
            EmitColumn(k, t, width, "(__j + 1)", odd: true, picked);
            w.Close();
            w.Open("if (__j < cols)");
            EmitColumn(k, t, width, "__j", odd: false, picked);
            w.Close();
        }
        else
        {
            w.Open("for (int __j = 0; __j < cols; __j++)");
            EmitColumn(k, t, width, "__j", odd: false, picked);
            w.Close();
        }
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            if (StageKinds.IsReduction(st.Kind))
            {
                var reduction = Reduction.Of(st.Kind);
                string merged = reduction.VectorCombine(st.Target, $"__a1_{s.Index}", width);
                w.Line($"{st.Target} = {(reduction.TracksNaN ? Reduction.WithNaN(merged, s.Index, width) : merged)};");
            }
            else if (st.Kind == StageKind.ArgMax && reads.KeepsBest(st))
            {
                w.Line($"var __second{s.Index} = {M}.ArgMaxSecond(__bv{s.Index}, {st.Target}, __bv1_{s.Index}, __bi1_{s.Index});");
                w.Line($"{st.Target} = {V}.ConditionalSelect({V}.AsInt32(__second{s.Index}), __bi1_{s.Index}, {st.Target});");
                w.Line($"{TileReads.Best(st.Target)} = {V}.ConditionalSelect(__second{s.Index}, __bv1_{s.Index}, __bv{s.Index});");
            }
            else if (st.Kind == StageKind.ArgMax) w.Line($"{st.Target} = {M}.ArgMaxMerge(__bv{s.Index}, {st.Target}, __bv1_{s.Index}, __bi1_{s.Index});");
        }
        w.Close();
    }

    /// <summary>One column of the tile (one element of each lane's row) for every pattern.</summary>
    private static void EmitColumn(KernelContext k, Traversal t, int width, string column, bool odd, List<Stage> picked)
    {
        var w = k.W;
        string V = Names.Vector(width), M = Names.SimdMath(width);
        w.Open("");
        foreach (var row in t.LoadedRows)
            w.Line($"var {Traversal.Loaded(row)} = {V}.Load(__t_{row} + {column} * __w);");
        foreach (var at in picked)
            w.Line($"{at.Target} = {V}.ConditionalSelect({V}.AsSingle({V}.Equals({k.Ref(at.Index)}, {V}.Create({column}))), {Traversal.Loaded(at.Inputs[0])}, {at.Target});");
        foreach (var s in t.Stages)
        {
            var st = s.Stage;
            SimdShared.EmitValue(k, s, width, rowScalarsAreVectors: true);
            if (st.Kind is StageKind.Map or StageKind.MapSum) w.Line($"{V}.Store({s.Value}, __t_{st.Output} + {column} * __w);");
            if (StageKinds.IsReduction(st.Kind))
            {
                string acc = odd ? $"__a1_{s.Index}" : st.Target;
                var reduction = Reduction.Of(st.Kind);
                w.Line($"{acc} = {SimdShared.ReductionStep(k, s, acc, width, rowScalarsAreVectors: true)};");
                if (reduction.TracksNaN) w.Line($"{Reduction.NaNMask(s.Index)} |= {V}.IsNaN({s.Value});");
            }
            else if (st.Kind == StageKind.ArgMax)
            {
                string best = odd ? $"__bv1_{s.Index}" : $"__bv{s.Index}", index = odd ? $"__bi1_{s.Index}" : st.Target, b = $"__b{s.Index}";
                w.Line($"var {b} = {M}.Beats({s.Value}, {best});");
                w.Line($"{best} = {M}.Select({b}, {s.Value}, {best});");
                w.Line($"{index} = {M}.Select({b}, {V}.Create({column}), {index});");
            }
        }
        w.Close();
    }

    private static void EmitStatement(KernelContext k, Stage stage, int width, TileReads reads)
    {
        var w = k.W;
        string M = Names.SimdMath(width);
        switch (stage.Kind)
        {
            case StageKind.At when reads.IsBestOf(stage, out var argMax):
                w.Line($"var {stage.Target} = {TileReads.Best(argMax.Target)};");
                break;
            case StageKind.At when reads.IsPicked(stage):
                break;   // selected column by column in the traversal
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
}

/// <summary>
/// Where the tile path takes each <c>Rows.At</c> from instead of a gather from the tile: a gather waits until the
/// stores that transposed the tile have reached the cache (in the calibration kernel from probabilities, two such
/// gathers took a third of the time). At(x, i) of an input row x, after a traversal that loads x, is
/// <list type="bullet">
/// <item>the value an ArgMax of x itself kept, when i is that ArgMax's result (the value at the first maximum);</item>
/// <item>selected column by column in that traversal (a compare and a blend per column), when i is a per-row input
/// (a label): known before the traversal.</item>
/// </list>
/// Otherwise (an index computed in the kernel, a row a pattern writes) it stays a gather.
/// </summary>
internal sealed class TileReads
{
    private readonly Dictionary<Stage, Stage> _bestOf = new();
    private readonly Dictionary<Traversal, List<Stage>> _picked = new();
    private readonly HashSet<Stage> _pickedAll = new();

    public static string Best(string argMax) => "__best_" + argMax;

    public static TileReads Of(KernelContext k)
    {
        var reads = new TileReads();
        var before = new List<Traversal>();
        foreach (var step in k.Plan.Steps)
        {
            if (step.Fused is { } t)
            {
                before.Add(t);
                continue;
            }
            var at = step.Stages[0];
            if (at.Kind != StageKind.At || !k.IsParam(at.Inputs[0], ParamKind.InRow)) continue;
            string element = Traversal.Loaded(at.Inputs[0]);
            var argMax = before.SelectMany(b => b.Stages).FirstOrDefault(s =>
                s.Stage.Kind == StageKind.ArgMax && s.Stage.Target == at.Index
                && s.Body.Kind == ExprKind.Name && s.Body.Text == element);
            if (argMax is not null)
            {
                reads._bestOf[at] = argMax.Stage;
                continue;
            }
            var loading = before.FirstOrDefault(b => b.LoadedRows.Contains(at.Inputs[0]));
            if (loading is not null && k.IsParam(at.Index, ParamKind.RowInt))
            {
                if (!reads._picked.TryGetValue(loading, out var list)) reads._picked[loading] = list = new List<Stage>();
                list.Add(at);
                reads._pickedAll.Add(at);
            }
        }
        return reads;
    }

    public bool KeepsBest(Stage argMax) => _bestOf.ContainsValue(argMax);

    public bool IsBestOf(Stage at, out Stage argMax) => _bestOf.TryGetValue(at, out argMax!);

    public bool IsPicked(Stage at) => _pickedAll.Contains(at);

    public List<Stage> PickedIn(Traversal t) => _picked.TryGetValue(t, out var list) ? list : new List<Stage>();
}
