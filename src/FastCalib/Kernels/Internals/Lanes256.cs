using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// <see cref="Vector256{T}"/> of floats per lane value (eight problems at a time). This file is the template of
/// <c>Lanes128</c> and <c>Lanes512</c>, which the generator emits by renaming every identifier that contains 256.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[SimdWidthTemplate]
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct Lanes256 : ILanes<Vector256<float>>
{
    /// <inheritdoc/>
    public static int Count => Vector256<float>.Count;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Subtract(Vector256<float> a, Vector256<float> b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Multiply(Vector256<float> a, Vector256<float> b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Scale(Vector256<float> a, float c) => a * c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Constant(float c) => Vector256.Create(c);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Min(Vector256<float> a, Vector256<float> b) => Vector256.Min(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Sqrt(Vector256<float> a) => Vector256.Sqrt(a);

    /// <inheritdoc/>
    /// <remarks>
    /// With u = 1 + a rounded, ln(1 + a) = ln(u) · a / (u − 1) (and = a where u = 1): the quotient cancels the
    /// rounding of 1 + a, so tiny a keep their relative accuracy (Goldberg, "What every computer scientist should
    /// know about floating-point arithmetic", 1991, theorem 4).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log1p(Vector256<float> a)
    {
        var u = a + Vector256<float>.One;
        var corrected = Vector256.Log(u) * a / (u - Vector256<float>.One);
        return Vector256.ConditionalSelect(Vector256.Equals(u, Vector256<float>.One), a, corrected);
    }
}
