using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Vector helpers used by generated SIMD kernels: a fast exponential, partial loads and stores for row tails,
/// horizontal reductions and per-row results of tiles. This file is the template: the generator emits
/// <c>SimdMath128</c> and <c>SimdMath512</c> from it by renaming every identifier that contains 256. What differs
/// by width (instruction choices, the transposition of tiles) lives in the hand-written <c>SimdMath.Native.cs</c>.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[SimdWidthTemplate]
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe partial class SimdMath256
{
    /// <summary>
    /// e^x for every lane, max relative error about 2 ulp for results in float's normal range; results below
    /// it lose precision gradually as IEEE denormals do and reach 0 below x = -104; x above 88.8 gives +infinity;
    /// NaN gives NaN.
    /// </summary>
    /// <remarks>
    /// Range reduction e^x = 2^k e^r with k = round(x log2 e) and r = x - k ln 2 (ln 2 split in two constants
    /// after Cody and Waite, so r is exact to float precision), |r| &lt;= ln 2 / 2; e^r by a degree-6 polynomial
    /// through the Chebyshev nodes of that interval, in Horner form with fused multiply-adds. The scale 2^k is
    /// one vscalefps where AVX-512 is available, otherwise see <see cref="ScaleByPowerOfTwoPortable"/>. A NaN input
    /// passes through the clamps (the native maximum and minimum return their second operand when one is NaN)
    /// and every later step, so no select restores it.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var xc = Vector256.MinNative(Vector256.Create(88.8f), Vector256.MaxNative(Vector256.Create(-104f), x));
        var k = Vector256.Round(xc * Vector256.Create(1.44269504088896341f));
        var r = Vector256.FusedMultiplyAdd(k, Vector256.Create(-0.693359375f), xc);
        r = Vector256.FusedMultiplyAdd(k, Vector256.Create(2.12194440e-4f), r);

        // degree-6 polynomial interpolating e^r at the 7 Chebyshev nodes of [-ln2/2, ln2/2] (near-minimax:
        // interpolation error below 3e-9 there, about 0.35 ulp once the coefficients are rounded to float)
        var p = Vector256.Create(0.0013941108481958508f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.00837512593716383f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.04166635125875473f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.16666415333747864f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);

        return ScaleByPowerOfTwo(p, k);
    }

    /// <summary>
    /// p · 2^k for p in [0.5, 2) and integral k in [-150, 128], rounded once as IEEE arithmetic rounds it (overflow to
    /// +∞, gradual underflow); a NaN p gives NaN. Portable form, for processors without AVX-512's vscalefps.
    /// </summary>
    /// <remarks>
    /// While every lane has |k| ≤ 125 the result is normal and k is added to p's exponent field (two instructions);
    /// otherwise (results near overflow or below the normal range) p is multiplied by two powers of two of half
    /// the exponent each, so that only the last product rounds.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ScaleByPowerOfTwoPortable(Vector256<float> p, Vector256<float> k)
    {
        // the native conversion is one instruction; the saturating one adds a compare, a mask and a blend
        var ki = Vector256.ConvertToInt32Native(k);
        if (!Vector256.GreaterThanAny(Vector256.Abs(k), Vector256.Create(125f)))
            return (p.AsInt32() + Vector256.ShiftLeft(ki, 23)).AsSingle();
        var k1 = Vector256.ShiftRightArithmetic(ki, 1);
        var k2 = ki - k1;
        var bias = Vector256.Create(127);
        var s1 = Vector256.ShiftLeft(k1 + bias, 23).AsSingle();
        var s2 = Vector256.ShiftLeft(k2 + bias, 23).AsSingle();
        return p * s1 * s2;
    }

    /// <summary>
    /// Natural logarithm for every lane, max error 0.94 ulp (measured over every positive float, subnormals included;
    /// the tests hold it to 1 ulp); log 0 = −∞, log +∞ = +∞, negative or NaN gives NaN.
    /// </summary>
    /// <remarks>
    /// x = m · 2^e with m in [√½, √2), then ln x = e ln 2 + f + f² S(f) with f = m − 1 in [−0.293, 0.415] and S a
    /// degree-8 polynomial fitted to (ln(1 + f) − f) / f² (near-minimax by reweighted least squares on Chebyshev
    /// nodes: relative error 4.7e-8 before rounding the coefficients to float), ln 2 split in two constants so that
    /// e ln 2 adds without rounding. No division and no table. Where AVX-512 is available, e and m come from
    /// vgetexpps and vgetmantps and the special values from one vfixupimmps (in the entropy kernel's 512-bit loop the log's span is 26 instructions instead of 39);
    /// otherwise from the bits (<see cref="LogPortable"/>). Both splits give the same e and m for every positive
    /// finite float, so the two forms agree bit for bit there.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Log(Vector256<float> x)
    {
        if (!HasExponentSplit) return LogPortable(x);
        // e = floor(log2 |x|) (−∞ for ±0, +∞ for ±∞, NaN for NaN), m in [1, 2); m ≥ √2 is halved, e raised by one
        var e = ExponentOf(x);
        var m = MantissaOf(x);
        var high = Vector256.GreaterThanOrEqual(m, Vector256.Create(1.41421354f));
        m = Vector256.ConditionalSelect(high, m * 0.5f, m);
        e = Vector256.ConditionalSelect(high, e + Vector256<float>.One, e);
        return FixLogSpecials(LogOfParts(e, m - Vector256<float>.One), x);
    }

    /// <summary>
    /// <see cref="Log"/> of lanes that hold a normal positive float (at least 2^-126) or +∞, bit for bit; other lanes
    /// get unspecified values. The generator uses it where a kernel's condition admits only such lanes (the entropy's
    /// <c>p &gt;= 2^-126 ? −p ln p : 0</c>): without AVX-512 it skips the subnormal scaling and all but one of the
    /// special-value selects, 18 of the entropy loop's 45 instructions per vector.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LogOfNormal(Vector256<float> x)
    {
        if (HasExponentSplit) return Log(x);
        var bits = x.AsInt32() - Vector256.Create(0x3f3504f3);
        var e = Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(bits, 23));
        var f = ((bits & Vector256.Create(0x007fffff)) + Vector256.Create(0x3f3504f3)).AsSingle() - Vector256<float>.One;
        var infinite = Vector256.Equals(x, Vector256.Create(float.PositiveInfinity));
        return Vector256.ConditionalSelect(infinite, x, LogOfParts(e, f));
    }

    /// <summary><see cref="Log"/> with the split taken from the bits, for processors without AVX-512.</summary>
    /// <remarks>
    /// Subtracting the bits of √½ before splitting exponent and mantissa centres m around 1; subnormals are first
    /// scaled by 2^23.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> LogPortable(Vector256<float> x)
    {
        var subnormal = Vector256.LessThan(x, Vector256.Create(1.17549435e-38f));
        var scaled = Vector256.ConditionalSelect(subnormal, x * 8388608f, x);
        var bits = scaled.AsInt32() - Vector256.Create(0x3f3504f3);
        var e = Vector256.ConvertToSingle(Vector256.ShiftRightArithmetic(bits, 23))
            - (subnormal & Vector256.Create(23f));
        var f = ((bits & Vector256.Create(0x007fffff)) + Vector256.Create(0x3f3504f3)).AsSingle() - Vector256<float>.One;
        var result = LogOfParts(e, f);

        // the special values: 0 gives -inf, +inf gives +inf, negative and NaN give NaN
        var special = Vector256.ConditionalSelect(Vector256.Equals(x, Vector256<float>.Zero), Vector256.Create(float.NegativeInfinity),
            Vector256.ConditionalSelect(Vector256.Equals(x, Vector256.Create(float.PositiveInfinity)), x, Vector256.Create(float.NaN)));
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero) & Vector256.LessThan(x, Vector256.Create(float.PositiveInfinity)), result, special);
    }

    /// <summary>ln(2^e (1 + f)) = e ln 2 + f + f² S(f) for f in [−0.293, 0.415] (see <see cref="Log"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> LogOfParts(Vector256<float> e, Vector256<float> f)
    {
        // ln(1 + f) = f + f² S(f): f itself is exact, so the polynomial's error is scaled by |f² S| / |ln(1 + f)| ≤ 0.2
        var s = Vector256.Create(-0.07778760576449696f);
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(0.12777704827290054f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(-0.13113940157816206f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(0.14196086405493935f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(-0.16627097031760943f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(0.2000163901932783f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(-0.25000778663309886f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(0.3333332532237988f));
        s = Vector256.FusedMultiplyAdd(s, f, Vector256.Create(-0.499999976445599f));
        return Vector256.FusedMultiplyAdd(e, Vector256.Create(0.693359375f),
            Vector256.FusedMultiplyAdd(e, Vector256.Create(-2.12194440e-4f), Vector256.FusedMultiplyAdd(f * f, s, f)));
    }

    /// <summary>Lanes [0, n) set, the rest clear.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> FirstLanes(int n) =>
        Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(n)).AsSingle();

    /// <summary>Loads the first <paramref name="n"/> (&lt; lanes) values; the other lanes are 0 and are not read.</summary>
    /// <remarks>
    /// One masked load where the processor has one, otherwise element by element. A block copy through the
    /// vector's address would call a helper, and every vector register is volatile across a call, so the JIT then
    /// keeps the kernel's accumulators on the stack for the whole loop (softmax measured 1.4x slower that way).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadFirst(float* source, int n)
    {
        if (HasMaskedMoves) return MaskedLoad(source, FirstLanes(n));
        var v = Vector256<float>.Zero;
        for (int i = 0; i < n; i++) v = v.WithElement(i, source[i]);
        return v;
    }

    /// <summary>Stores the first <paramref name="n"/> (&lt; lanes) lanes; memory past them is not touched.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreFirst(Vector256<float> v, float* destination, int n)
    {
        if (HasMaskedMoves) { MaskedStore(destination, FirstLanes(n), v); return; }
        for (int i = 0; i < n; i++) destination[i] = v.GetElement(i);
    }

    /// <summary>
    /// max(acc, x) per lane as <see cref="Vector256.Max{T}"/> gives it (+0 above −0) for lanes without NaN; NaN lanes
    /// get unspecified values (generated loops track NaN beside the accumulator). The two native maxima return their
    /// second operand on equal or unordered inputs, so their AND is the larger value, or a &amp; b for equal ones,
    /// which is +0 for a pair of zeros of either sign: three instructions where Vector256.Max takes eight under AVX2.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaxOrdered(Vector256<float> acc, Vector256<float> x) =>
        Vector256.MaxNative(x, acc) & Vector256.MaxNative(acc, x);

    /// <summary>min(acc, x) per lane for lanes without NaN, −0 below +0 (the OR of the two native minima; see <see cref="MaxOrdered"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MinOrdered(Vector256<float> acc, Vector256<float> x) =>
        Vector256.MinNative(x, acc) | Vector256.MinNative(acc, x);

    /// <summary>Sum over the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumAcross(Vector256<float> v) => Vector256.Sum(v);

    /// <summary>
    /// Whether lanes of <paramref name="v"/> beat <paramref name="best"/> under the first-maximum rule
    /// (greater, or NaN where the best is not NaN): not v ≤ best (true for v &gt; best and for either one NaN), where
    /// best is not NaN. Two compares and an AND-NOT; the form v &gt; best | (isnan v &amp; !isnan best) takes five.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Beats(Vector256<float> v, Vector256<float> best) =>
        Vector256.AndNot(Vector256.Equals(best, best), Vector256.LessThanOrEqual(v, best));

    /// <summary>
    /// Per lane, the first maximum of two partial (best value, index) pairs: the second wins if greater (NaN
    /// greatest), or if equal with a smaller index.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> ArgMaxMerge(Vector256<float> best0, Vector256<int> index0, Vector256<float> best1, Vector256<int> index1) =>
        Vector256.ConditionalSelect(ArgMaxSecond(best0, index0, best1, index1).AsInt32(), index1, index0);

    /// <summary>The lanes where the second of two partial (best value, index) pairs is the first maximum (see <see cref="ArgMaxMerge"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ArgMaxSecond(Vector256<float> best0, Vector256<int> index0, Vector256<float> best1, Vector256<int> index1)
    {
        var equal = Vector256.Equals(best0, best1) | (Vector256.IsNaN(best0) & Vector256.IsNaN(best1));
        return Beats(best1, best0) | (equal & Vector256.LessThan(index1, index0).AsSingle());
    }

    /// <summary>Per lane r, the tile value at column index[r] (element by element, where no gather instruction serves).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> GatherTilePortable(float* tile, Vector256<int> index)
    {
        int lanes = Vector256<float>.Count;
        int* columns = stackalloc int[Vector256<int>.Count];
        float* values = stackalloc float[Vector256<float>.Count];
        index.Store(columns);
        for (int r = 0; r < lanes; r++) values[r] = tile[columns[r] * lanes + r];
        return Vector256.Load(values);
    }

    /// <summary>
    /// Copies rows index[0..rows) of a row-major matrix into a column-major tile, element by element (rows gathered by
    /// a [RowFrom] index are not contiguous); lanes past <paramref name="rows"/> repeat the last row.
    /// </summary>
    public static void LoadTileRows(float* matrix, int cols, int* index, int rows, float* tile)
    {
        int lanes = Vector256<float>.Count;
        for (int r = 0; r < lanes; r++)
        {
            float* row = matrix + (long)index[Math.Min(r, rows - 1)] * cols;
            for (int j = 0; j < cols; j++) tile[j * lanes + r] = row[j];
        }
    }

    /// <summary>Per-row inputs of a tile: the first <paramref name="n"/> values, the other lanes 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadRows(float* source, int n) =>
        n == Vector256<float>.Count ? Vector256.Load(source) : LoadFirst(source, n);

    /// <summary>Per-row integer inputs of a tile: the first <paramref name="n"/> values, the other lanes 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> LoadRows(int* source, int n)
    {
        if (n == Vector256<int>.Count) return Vector256.Load(source);
        if (HasMaskedMoves) return MaskedLoad(source, FirstLanes(n).AsInt32());
        var v = Vector256<int>.Zero;
        for (int i = 0; i < n; i++) v = v.WithElement(i, source[i]);
        return v;
    }

    /// <summary>Stores the first <paramref name="n"/> lanes of a per-row result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRows(Vector256<float> v, float* destination, int n)
    {
        if (n == Vector256<float>.Count) v.Store(destination);
        else StoreFirst(v, destination, n);
    }

    /// <summary>Stores the first <paramref name="n"/> lanes of a per-row integer result.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreRows(Vector256<int> v, int* destination, int n)
    {
        if (n == Vector256<int>.Count) v.Store(destination);
        else if (HasMaskedMoves) MaskedStore(destination, FirstLanes(n).AsInt32(), v);
        else for (int i = 0; i < n; i++) destination[i] = v.GetElement(i);
    }

    /// <summary>Sum of the first <paramref name="n"/> lanes in float64.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double SumRows(Vector256<float> v, int n)
    {
        double s = 0;
        for (int i = 0; i < n; i++) s += v.GetElement(i);
        return s;
    }
}
