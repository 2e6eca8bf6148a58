using System.ComponentModel;
using System.Runtime.CompilerServices;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Arithmetic on a lane value: a <see cref="float"/>, or a vector holding the same element of several independent
/// problems (one image per lane in the FFT). Code written once against this interface (the generated FFT butterflies
/// and the engine around them) is specialised by the JIT for each implementation, so the scalar path and every SIMD
/// width run the same source. Implementations are structs, which is what makes the specialisation happen.
/// </summary>
/// <typeparam name="TValue"><see cref="float"/> or a vector of floats.</typeparam>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface ILanes<TValue>
    where TValue : struct
{
    /// <summary>Floats per value.</summary>
    static abstract int Count { get; }

    /// <summary>a + b in every lane.</summary>
    static abstract TValue Add(TValue a, TValue b);

    /// <summary>a − b in every lane.</summary>
    static abstract TValue Subtract(TValue a, TValue b);

    /// <summary>a · b in every lane.</summary>
    static abstract TValue Multiply(TValue a, TValue b);

    /// <summary>a · c in every lane, for one float c.</summary>
    static abstract TValue Scale(TValue a, float c);

    /// <summary>c in every lane.</summary>
    static abstract TValue Constant(float c);

    /// <summary>min(a, b) in every lane; NaN if either is NaN.</summary>
    static abstract TValue Min(TValue a, TValue b);

    /// <summary>max(a, b) in every lane; NaN if either is NaN.</summary>
    static abstract TValue Max(TValue a, TValue b);

    /// <summary>√a in every lane.</summary>
    static abstract TValue Sqrt(TValue a);

    /// <summary>ln(1 + a) in every lane, accurate also where a is tiny (for a ≥ 0).</summary>
    static abstract TValue Log1p(TValue a);
}

/// <summary>One float per value: the scalar path.</summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public readonly struct ScalarLanes : ILanes<float>
{
    /// <inheritdoc/>
    public static int Count => 1;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Add(float a, float b) => a + b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Subtract(float a, float b) => a - b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Multiply(float a, float b) => a * b;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scale(float a, float c) => a * c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Constant(float c) => c;

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Min(float a, float b) => MathF.Min(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(float a, float b) => MathF.Max(a, b);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Sqrt(float a) => MathF.Sqrt(a);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log1p(float a) => (float)Math.Log(1.0 + a);
}
