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
    /// The element function as vector code. Lambda parameters are vectors; uniforms are pre-broadcast; row scalars
    /// are broadcast per stage (within a row) or already vectors (across rows).
    /// </summary>
    public static string VectorBody(KernelContext k, Stage stage, int width, bool rowScalarsAreVectors) =>
        ExprEmitter.Vector(stage.Body!, name =>
            stage.LambdaParams.Contains(name) ? name
            : k.IsUniform(name) || !rowScalarsAreVectors ? "__v_" + name
            : name, width);
}
