using System;
using System.Collections.Generic;
using System.Collections.Immutable;
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
        ExprEmitter.Vector(e, Name(k, rowScalarsAreVectors), width);

    /// <summary>The variable holding each name of a canonical element expression (see <see cref="Vector"/>).</summary>
    private static Func<string, string> Name(KernelContext k, bool rowScalarsAreVectors) => name =>
        Traversal.IsElementName(name) ? name
        : k.IsUniform(name) || !rowScalarsAreVectors ? "__v_" + name
        : name;

    /// <summary>
    /// The new value of a reduction's vector accumulator <paramref name="acc"/> after the stage's element value.
    /// Two sums take fewer instructions than an add of the value (whose variable is then not emitted):
    /// <list type="bullet">
    /// <item>Σ a·b is one fused multiply-add per element (rounded once, where the definition rounds the product and
    /// the sum; the difference is within the sum's own rounding, as is the order of a vector sum);</item>
    /// <item>Σ (c ? a : 0) under AVX-512 is the add of a under c's lane mask (a compare and a masked add; the AND with
    /// the mask costs a mask-to-vector move and a broadcast more). Narrower vectors keep the AND.</item>
    /// </list>
    /// Max and Min take the reduction's own step.
    /// </summary>
    public static string ReductionStep(KernelContext k, FusedStage s, string acc, int width, bool rowScalarsAreVectors)
    {
        var reduction = Reduction.Of(s.Stage.Kind);
        if (s.Stage.Kind != StageKind.Sum) return reduction.VectorStep(acc, s.Value, width);
        string V = Names.Vector(width);
        var name = Name(k, rowScalarsAreVectors);
        string Add(Expr term, ImmutableHashSet<string>? normal) =>
            term.Kind == ExprKind.Binary && term.Text == "*"
                ? $"{V}.FusedMultiplyAdd({ExprEmitter.Vector(term.Args[0], name, width, normal)}, {ExprEmitter.Vector(term.Args[1], name, width, normal)}, {acc})"
                : $"{acc} + {ExprEmitter.Vector(term, name, width, normal)}";
        var body = s.Body;
        if (IsMaskedTerm(body, width))
            return $"{V}.ConditionalSelect({ExprEmitter.Vector(body.Args[0], name, width)}, {Add(body.Args[1], ExprEmitter.NormalWhenTrue(body))}, {acc})";
        return IsProduct(body) ? Add(body, null) : reduction.VectorStep(acc, s.Value, width);
    }

    /// <summary>Whether <see cref="ReductionStep"/> folds the stage's expression into the accumulator itself, so that its value is not needed.</summary>
    private static bool FoldsValue(FusedStage s, int width) =>
        s.Stage.Kind == StageKind.Sum && (IsProduct(s.Body) || IsMaskedTerm(s.Body, width));

    private static bool IsProduct(Expr e) => e.Kind == ExprKind.Binary && e.Text == "*";

    private static bool IsMaskedTerm(Expr e, int width) => width == 512 && e.Kind == ExprKind.Conditional && ExprEmitter.IsZero(e.Args[2]);

    /// <summary>The temps first needed by a stage, then its value <c>__w{index}</c>, as vector code.</summary>
    public static void EmitValue(KernelContext k, FusedStage s, int width, bool rowScalarsAreVectors)
    {
        foreach (var t in s.TempsBefore) k.W.Line($"var {t.Name} = {Vector(k, t.Value, width, rowScalarsAreVectors)};");
        if (!FoldsValue(s, width)) k.W.Line($"var {s.Value} = {Vector(k, s.Body, width, rowScalarsAreVectors)};");
    }
}
