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
    }

    public IReadOnlyList<Stage> Stages { get; }

    public bool IsTraversal { get; }
}

/// <summary>
/// How a kernel's stages become loops: the writers of every shape emit one loop over the columns per traversal.
/// Today each row pattern is its own traversal; grouping adjacent patterns that read the same rows (and none of each
/// other's results) into one traversal is the planner's decision alone, so that fusion changes this class and the
/// writers' traversal code, not the rest of the emitter.
/// </summary>
internal sealed class KernelPlan
{
    private KernelPlan(IReadOnlyList<Step> steps) => Steps = steps;

    public IReadOnlyList<Step> Steps { get; }

    /// <summary>Passes over the row the generated loops make.</summary>
    public int Traversals => Steps.Count(s => s.IsTraversal);

    public static KernelPlan Of(KernelModel kernel) =>
        new(kernel.Stages.Select(s => new Step(new[] { s }, StageKinds.IsRowPattern(s.Kind))).ToList());
}

internal static class StageKinds
{
    /// <summary>Stages that apply an element function column by column (a loop over the row).</summary>
    public static bool IsRowPattern(StageKind kind) =>
        kind is StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum or StageKind.ArgMax or StageKind.Map;

    /// <summary>Stages that fold a row into one float with an associative operation (see <see cref="Reduction"/>).</summary>
    public static bool IsReduction(StageKind kind) => kind is StageKind.Max or StageKind.Min or StageKind.Sum or StageKind.MapSum;
}
