using System.ComponentModel;
using ILGPU.Algorithms;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// The math functions of row kernels as generated ILGPU code calls them: XMath (fast hardware approximations on
/// CUDA, e.g. ex2 for Exp) with MathF's NaN rules for Min and Max (PTX's min/max would drop a NaN).
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GpuMath
{
    /// <summary>e^x.</summary>
    public static float Exp(float x) => XMath.Exp(x);

    /// <summary>Natural logarithm.</summary>
    public static float Log(float x) => XMath.Log(x);

    /// <summary>Square root.</summary>
    public static float Sqrt(float x) => XMath.Sqrt(x);

    /// <summary>Absolute value.</summary>
    public static float Abs(float x) => XMath.Abs(x);

    /// <summary>Whether x is NaN.</summary>
    public static bool IsNaN(float x) => XMath.IsNaN(x);

    /// <summary>Maximum; NaN if either argument is NaN (as <see cref="MathF.Max(float, float)"/>).</summary>
    public static float Max(float a, float b) => XMath.IsNaN(a) || XMath.IsNaN(b) ? float.NaN : XMath.Max(a, b);

    /// <summary>Minimum; NaN if either argument is NaN (as <see cref="MathF.Min(float, float)"/>).</summary>
    public static float Min(float a, float b) => XMath.IsNaN(a) || XMath.IsNaN(b) ? float.NaN : XMath.Min(a, b);
}
