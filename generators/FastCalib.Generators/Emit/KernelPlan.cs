using System.Collections.Generic;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// One step of a kernel's per-row program: a traversal of the row (row patterns that run in one loop over the
/// columns) or a per-row statement (Let, At, AssignOut, AddTotal) evaluated once per row.
/// </summary>
internal sealed class Step
{
    public Step(IReadOnlyList<Stage> stages, bool isTraversal)
    {
        Stages = stages;
        IsTraversal = isTraversal;
        Fused = isTraversal ? Traversal.Of(stages) : null;
    }

    public IReadOnlyList<Stage> Stages { get; }

    public bool IsTraversal { get; }

    /// <summary>The traversal in element form (null for a statement).</summary>
    public Traversal? Fused { get; }
}

/// <summary>
/// How a kernel's stages become loops: the writers of every shape emit one loop over the columns per traversal.
/// Consecutive row patterns form one traversal as long as none reads a local that a pattern of the traversal
/// produces (a pattern may read a row an earlier one of the traversal wrote: it sees the value of the same column).
/// Per-row statements between them that the next pattern does not depend on move after the traversal (they are
/// pure; an At that reads a row the pattern writes stays before it).
/// </summary>
internal sealed class KernelPlan
{
    private KernelPlan(IReadOnlyList<Step> steps) => Steps = steps;

    public IReadOnlyList<Step> Steps { get; }

    /// <summary>Passes over the row the generated loops make.</summary>
    public int Traversals => Steps.Count(s => s.IsTraversal);

    public static KernelPlan Of(KernelModel kernel)
    {
        var steps = new List<Step>();
        List<Stage>? traversal = null;
        var produced = new HashSet<string>();
        var deferred = new List<Stage>();
        void Close()
        {
            if (traversal is not null) steps.Add(new Step(traversal, true));
            traversal = null;
            produced.Clear();
            foreach (var d in deferred) steps.Add(new Step(new[] { d }, false));
            deferred.Clear();
        }
        foreach (var stage in kernel.Stages)
        {
            if (!StageKinds.IsRowPattern(stage.Kind))
            {
                if (traversal is null) steps.Add(new Step(new[] { stage }, false));
                else deferred.Add(stage);
                continue;
            }
            var reads = new HashSet<string>(stage.Body!.Names());
            bool joins = traversal is not null
                && !reads.Overlaps(produced)
                && !deferred.Any(d => reads.Contains(d.Target) || (d.Kind == StageKind.At && d.Inputs[0] == stage.Output));
            if (!joins)
            {
                Close();
                traversal = new List<Stage>();
            }
            traversal!.Add(stage);
            if (stage.Target.Length > 0) produced.Add(stage.Target);
        }
        Close();
        return new KernelPlan(steps);
    }
}

internal static class StageKinds
{
    /// <summary>Stages that apply an element function column by column (a loop over the row).</summary>
    public static bool IsRowPattern(StageKind kind) =>
        kind is StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum or StageKind.ArgMax or StageKind.Map;

    /// <summary>Stages that fold a row into one float with an associative operation (see <see cref="Reduction"/>).</summary>
    public static bool IsReduction(StageKind kind) => kind is StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum;
}
