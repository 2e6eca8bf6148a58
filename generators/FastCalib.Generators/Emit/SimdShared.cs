using System.Collections.Generic;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>What the within-row and across-rows SIMD writers share: vector widths, broadcasts and element functions as vector code.</summary>
internal static class SimdShared
{
    public static readonly int[] Widths = { 128, 256, 512 };

    /// <summary>Broadcasts each uniform the kernel's expressions use, once per call.</summary>
    public static void EmitUniformBroadcasts(KernelContext k, int width)
    {
        var used = new HashSet<string>(k.Stages.Where(s => s.Body is not null).SelectMany(s => s.Body!.Names()).Where(k.IsUniform));
        foreach (var p in k.Kernel.Params.Where(p => p.Kind == ParamKind.Uniform && used.Contains(p.Name)))
            k.W.Line($"var __v_{p.Name} = {Names.Vector(width)}.Create({p.Name});");
    }

    /// <summary>
    /// A canonical element expression (see <see cref="Traversal"/>) as vector code: elements, stage values and temps
    /// are vectors of their own name; uniforms are pre-broadcast (<c>__v_</c>); row scalars are broadcast per
    /// traversal within a row (<c>__v_</c>) or are already vectors across rows.
    /// </summary>
    public static string Vector(KernelContext k, Expr e, int width, bool rowScalarsAreVectors) =>
        ExprEmitter.Vector(e, name =>
            Traversal.IsElementName(name) ? name
            : k.IsUniform(name) || !rowScalarsAreVectors ? "__v_" + name
            : name, width);

    /// <summary>The temps first needed by a stage, then its value <c>__w{index}</c>, as vector code.</summary>
    public static void EmitValue(KernelContext k, FusedStage s, int width, bool rowScalarsAreVectors)
    {
        foreach (var t in s.TempsBefore) k.W.Line($"var {t.Name} = {Vector(k, t.Value, width, rowScalarsAreVectors)};");
        k.W.Line($"var {s.Value} = {Vector(k, s.Body, width, rowScalarsAreVectors)};");
    }
}
