using System.Collections.Generic;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>A subexpression shared by element functions of one traversal, computed once per element.</summary>
internal sealed record Temp(string Name, Expr Value);

/// <summary>
/// One row pattern inside a traversal. <see cref="Body"/> is its element function in canonical form: lambda
/// parameters are replaced by element names (<see cref="Traversal.Loaded"/> for a row as read from memory, or the
/// value an earlier pattern of the traversal wrote into it), shared subexpressions by temps. The value of the body
/// is named <see cref="Value"/>; <see cref="TempsBefore"/> are the temps first needed here, in dependency order.
/// </summary>
internal sealed record FusedStage(Stage Stage, int Index, Expr Body, IReadOnlyList<Temp> TempsBefore)
{
    public string Value => "__w" + Index;
}

/// <summary>
/// The patterns of one traversal in element form: one loop over the columns evaluates, for each column, every
/// pattern in program order, sharing the loads of each row and each repeated subexpression (exp((v − max)·β) feeds
/// Σe, Σe·d and Σe·d² from one evaluation). A pattern reading a row that an earlier pattern of the traversal wrote
/// sees the value just written at the same column.
/// </summary>
internal sealed class Traversal
{
    private Traversal(IReadOnlyList<FusedStage> stages, IReadOnlyList<string> loaded)
    {
        Stages = stages;
        LoadedRows = loaded;
    }

    public IReadOnlyList<FusedStage> Stages { get; }

    /// <summary>Rows read from memory (each loaded once per column).</summary>
    public IReadOnlyList<string> LoadedRows { get; }

    /// <summary>The element name of a row as loaded from memory.</summary>
    public static string Loaded(string row) => "__x_" + row;

    /// <summary>Whether a name in a canonical body is an element, a stage value or a temp (not a kernel name).</summary>
    public static bool IsElementName(string name) => name.StartsWith("__x_") || name.StartsWith("__w") || name.StartsWith("__t");

    /// <summary>Exponentials and logarithms evaluated per element (shared subexpressions counted once).</summary>
    public int Transcendentals =>
        Stages.Sum(s => s.Body.CountCalls("Exp", "Log")) + Stages.SelectMany(s => s.TempsBefore).Sum(t => t.Value.CountCalls("Exp", "Log"));

    /// <summary>Names of the kernel (per-row locals, uniforms) that the element functions read.</summary>
    public IEnumerable<string> OuterNames =>
        Stages.SelectMany(s => s.Body.Names()).Concat(Stages.SelectMany(s => s.TempsBefore).SelectMany(t => t.Value.Names()))
            .Where(n => !IsElementName(n)).Distinct();

    public static Traversal Of(IReadOnlyList<Stage> stages)
    {
        var current = new Dictionary<string, string>();   // row -> element name of its current value
        var loaded = new List<string>();
        var bodies = new List<Expr>();
        for (int i = 0; i < stages.Count; i++)
        {
            var stage = stages[i];
            var bind = new Dictionary<string, string>();
            for (int p = 0; p < stage.Inputs.Count; p++)
            {
                string row = stage.Inputs[p];
                if (!current.TryGetValue(row, out string? element))
                {
                    element = Loaded(row);
                    loaded.Add(row);
                    current[row] = element;
                }
                bind[stage.LambdaParams[p]] = element;
            }
            bodies.Add(Rename(stage.Body!, bind));
            if (stage.Kind is StageKind.Map or StageKind.MapSum) current[stage.Output] = "__w" + i;
        }
        var temps = ShareSubexpressions(bodies);
        var fused = new List<FusedStage>();
        var computed = new HashSet<string>();
        for (int i = 0; i < stages.Count; i++)
        {
            var before = new List<Temp>();
            Need(bodies[i], temps, computed, before);
            fused.Add(new FusedStage(stages[i], i, bodies[i], before));
        }
        return new Traversal(fused, loaded);
    }

    /// <summary>The temps <paramref name="e"/> uses that are not computed yet, dependencies first.</summary>
    private static void Need(Expr e, Dictionary<string, Temp> temps, HashSet<string> computed, List<Temp> into)
    {
        foreach (string name in e.Names().Distinct())
        {
            if (!temps.TryGetValue(name, out var temp) || computed.Contains(name)) continue;
            Need(temp.Value, temps, computed, into);
            if (computed.Add(name)) into.Add(temp);
        }
    }

    /// <summary>
    /// Replaces every subexpression that occurs more than once (across all bodies, and inside the temps already
    /// made) by a temp, largest first, until none repeats. Leaves (names, literals) are never shared.
    /// </summary>
    private static Dictionary<string, Temp> ShareSubexpressions(List<Expr> bodies)
    {
        var temps = new Dictionary<string, Temp>();
        while (true)
        {
            var counts = new Dictionary<Expr, int>();
            foreach (var e in bodies.Concat(temps.Values.Select(t => t.Value))) Count(e, counts);
            var repeated = counts.Where(c => c.Value > 1).Select(c => c.Key).OrderByDescending(Size).FirstOrDefault();
            if (repeated is null) return temps;
            string name = "__t" + temps.Count;
            var leaf = Expr.Leaf(ExprKind.Name, name);
            for (int i = 0; i < bodies.Count; i++) bodies[i] = Replace(bodies[i], repeated, leaf);
            foreach (var key in temps.Keys.ToList()) temps[key] = temps[key] with { Value = Replace(temps[key].Value, repeated, leaf) };
            temps[name] = new Temp(name, repeated);
        }
    }

    private static void Count(Expr e, Dictionary<Expr, int> counts)
    {
        if (e.Kind is ExprKind.Name or ExprKind.Literal) return;
        counts[e] = counts.TryGetValue(e, out int n) ? n + 1 : 1;
        foreach (var a in e.Args) Count(a, counts);
    }

    private static int Size(Expr e) => 1 + e.Args.Sum(Size);

    private static Expr Replace(Expr e, Expr what, Expr with) =>
        e.Equals(what) ? with : e.Args.Count == 0 ? e : e with { Args = e.Args.Select(a => Replace(a, what, with)).ToEquatable() };

    private static Expr Rename(Expr e, Dictionary<string, string> names) =>
        e.Kind == ExprKind.Name && names.TryGetValue(e.Text, out string? to) ? Expr.Leaf(ExprKind.Name, to)
        : e.Args.Count == 0 ? e : e with { Args = e.Args.Select(a => Rename(a, names)).ToEquatable() };
}
