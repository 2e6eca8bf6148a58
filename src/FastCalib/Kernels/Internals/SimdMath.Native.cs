using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastCalib.Kernels.Internals;

// The width-specific halves of SimdMath128/256/512 (the other halves are generated from the SimdMath256 template):
// instruction choices that renaming cannot express, and the transposition of narrow rows into column-major tiles.

public static unsafe partial class SimdMath128
{
    /// <summary>The int lanes as float64, low half and high half: one conversion each (vcvtdq2pd), exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector128<double> Low, Vector128<double> High) WidenToDouble(Vector128<int> v) => Sse2.IsSupported
        ? (Sse2.ConvertToVector128Double(v), Sse2.ConvertToVector128Double(Sse2.Shuffle(v, 0b11_10_11_10)))
        : Vector128.Widen(Vector128.ConvertToSingle(v));

    /// <summary>
    /// Per lane, <paramref name="whenTrue"/> where <paramref name="mask"/> is set, else <paramref name="whenFalse"/>, for
    /// masks whose lanes are all ones or all zeros (compares and their combinations). One blend instruction: the JIT
    /// turns ConditionalSelect into a blend only for a mask straight from a compare, and into three bitwise
    /// operations for a combined one such as <see cref="Beats"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> Select(Vector128<float> mask, Vector128<float> whenTrue, Vector128<float> whenFalse) =>
        Sse41.IsSupported ? Sse41.BlendVariable(whenFalse, whenTrue, mask) : Vector128.ConditionalSelect(mask, whenTrue, whenFalse);

    /// <summary>Per-lane integer select by a float mask of all-ones or all-zeros lanes (see the float overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> Select(Vector128<float> mask, Vector128<int> whenTrue, Vector128<int> whenFalse) =>
        Sse41.IsSupported ? Sse41.BlendVariable(whenFalse.AsSingle(), whenTrue.AsSingle(), mask).AsInt32() : Vector128.ConditionalSelect(mask.AsInt32(), whenTrue, whenFalse);

    /// <summary>Whether the processor loads and stores under a lane mask without touching the masked-off memory.</summary>
    private static bool HasMaskedMoves => Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MaskedLoad(float* source, Vector128<float> mask) => Avx.MaskLoad(source, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedStore(float* destination, Vector128<float> mask, Vector128<float> v) => Avx.MaskStore(destination, mask, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> MaskedLoad(int* source, Vector128<int> mask) => Avx2.MaskLoad(source, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedStore(int* destination, Vector128<int> mask, Vector128<int> v) => Avx2.MaskStore(destination, mask, v);

    /// <summary>Whether <see cref="Log"/> can split exponent and mantissa by AVX-512's vgetexpps and vgetmantps.</summary>
    private static bool HasExponentSplit => Avx512F.VL.IsSupported;

    /// <summary>floor(log2 |x|) as a float (−∞ for ±0, +∞ for ±∞, NaN for NaN; subnormals exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ExponentOf(Vector128<float> x) => Avx512F.VL.GetExponent(x);

    /// <summary>|x| / 2^floor(log2 |x|) in [1, 2), with the sign of x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> MantissaOf(Vector128<float> x) => Avx512F.VL.GetMantissa(x, LogSpecials.MantissaInOneToTwo);

    /// <summary>The logarithm's special values set by the class of x (see <see cref="LogSpecials.Table"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> FixLogSpecials(Vector128<float> result, Vector128<float> x) =>
        Avx512F.VL.Fixup(result, x, Vector128.Create(LogSpecials.Table), 0);

    /// <summary>Maximum over the lanes, NaN if any lane is NaN (two shuffle-and-max steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector128<float> v)
    {
        v = Vector128.Max(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        return Vector128.Max(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }

    /// <summary>Minimum over the lanes, NaN if any lane is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MinAcross(Vector128<float> v)
    {
        v = Vector128.Min(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        return Vector128.Min(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }

    /// <summary>Smallest integer over the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int MinAcross(Vector128<int> v)
    {
        v = Vector128.Min(v, Vector128.Shuffle(v, Vector128.Create(2, 3, 0, 1)));
        return Vector128.Min(v, Vector128.Shuffle(v, Vector128.Create(1, 0, 3, 2))).ToScalar();
    }

    /// <summary>
    /// Merges per-lane (best value, index) pairs into the row's first maximum: the smallest index among the lanes
    /// holding the maximum (NaN counting as greatest).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ArgMaxAcross(Vector128<float> best, Vector128<int> index)
    {
        float max = MaxAcross(best);
        var holds = float.IsNaN(max) ? Vector128.IsNaN(best) : Vector128.Equals(best, Vector128.Create(max));
        return MinAcross(Vector128.ConditionalSelect(holds.AsInt32(), index, Vector128.Create(int.MaxValue)));
    }

    /// <summary>Per lane r, the tile value at column index[r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> GatherTile(float* tile, Vector128<int> index) =>
        Avx2.IsSupported
            ? Avx2.GatherVector128(tile, index * 4 + Vector128<int>.Indices, 4)
            : GatherTilePortable(tile, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> ScaleByPowerOfTwo(Vector128<float> p, Vector128<float> k) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.Scale(p, k) : ScaleByPowerOfTwoPortable(p, k);

    /// <summary>Copies rows into a column-major tile (tile[j * lanes + r]); lanes past <paramref name="rows"/> repeat the last row.</summary>
    public static void LoadTile(float* source, int cols, int rows, long available, float* tile) =>
        TileTranspose.LoadScalar(source, cols, rows, tile, Vector128<float>.Count);

    /// <summary>Writes the first <paramref name="rows"/> rows of a column-major tile back to row-major memory.</summary>
    public static void StoreTile(float* tile, int cols, int rows, float* destination) =>
        TileTranspose.StoreScalar(tile, cols, rows, destination, Vector128<float>.Count);
}

public static unsafe partial class SimdMath256
{
    /// <summary>The int lanes as float64, low half and high half: one conversion each (vcvtdq2pd), exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector256<double> Low, Vector256<double> High) WidenToDouble(Vector256<int> v) => Avx.IsSupported
        ? (Avx.ConvertToVector256Double(v.GetLower()), Avx.ConvertToVector256Double(v.GetUpper()))
        : Vector256.Widen(Vector256.ConvertToSingle(v));

    /// <summary>
    /// Per lane, <paramref name="whenTrue"/> where <paramref name="mask"/> is set, else <paramref name="whenFalse"/>, for
    /// masks whose lanes are all ones or all zeros (compares and their combinations). One blend instruction: the JIT
    /// turns ConditionalSelect into a blend only for a mask straight from a compare, and into three bitwise
    /// operations for a combined one such as <see cref="Beats"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Select(Vector256<float> mask, Vector256<float> whenTrue, Vector256<float> whenFalse) =>
        Avx.IsSupported ? Avx.BlendVariable(whenFalse, whenTrue, mask) : Vector256.ConditionalSelect(mask, whenTrue, whenFalse);

    /// <summary>Per-lane integer select by a float mask of all-ones or all-zeros lanes (see the float overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Select(Vector256<float> mask, Vector256<int> whenTrue, Vector256<int> whenFalse) =>
        Avx.IsSupported ? Avx.BlendVariable(whenFalse.AsSingle(), whenTrue.AsSingle(), mask).AsInt32() : Vector256.ConditionalSelect(mask.AsInt32(), whenTrue, whenFalse);

    /// <summary>Whether the processor loads and stores under a lane mask without touching the masked-off memory.</summary>
    private static bool HasMaskedMoves => Avx2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MaskedLoad(float* source, Vector256<float> mask) => Avx.MaskLoad(source, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedStore(float* destination, Vector256<float> mask, Vector256<float> v) => Avx.MaskStore(destination, mask, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MaskedLoad(int* source, Vector256<int> mask) => Avx2.MaskLoad(source, mask);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedStore(int* destination, Vector256<int> mask, Vector256<int> v) => Avx2.MaskStore(destination, mask, v);

    /// <summary>Whether <see cref="Log"/> can split exponent and mantissa by AVX-512's vgetexpps and vgetmantps.</summary>
    private static bool HasExponentSplit => Avx512F.VL.IsSupported;

    /// <summary>floor(log2 |x|) as a float (−∞ for ±0, +∞ for ±∞, NaN for NaN; subnormals exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExponentOf(Vector256<float> x) => Avx512F.VL.GetExponent(x);

    /// <summary>|x| / 2^floor(log2 |x|) in [1, 2), with the sign of x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MantissaOf(Vector256<float> x) => Avx512F.VL.GetMantissa(x, LogSpecials.MantissaInOneToTwo);

    /// <summary>The logarithm's special values set by the class of x (see <see cref="LogSpecials.Table"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> FixLogSpecials(Vector256<float> result, Vector256<float> x) =>
        Avx512F.VL.Fixup(result, x, Vector256.Create(LogSpecials.Table), 0);

    /// <summary>Maximum over the lanes, NaN if any lane is NaN (halves, then 128-bit steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> v) => SimdMath128.MaxAcross(Vector128.Max(v.GetLower(), v.GetUpper()));

    /// <summary>Minimum over the lanes, NaN if any lane is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MinAcross(Vector256<float> v) => SimdMath128.MinAcross(Vector128.Min(v.GetLower(), v.GetUpper()));

    /// <summary>Smallest integer over the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int MinAcross(Vector256<int> v) => SimdMath128.MinAcross(Vector128.Min(v.GetLower(), v.GetUpper()));

    /// <summary>The row's first maximum from per-lane (best value, index) pairs (see <see cref="SimdMath128.ArgMaxAcross"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ArgMaxAcross(Vector256<float> best, Vector256<int> index)
    {
        float max = MaxAcross(best);
        var holds = float.IsNaN(max) ? Vector256.IsNaN(best) : Vector256.Equals(best, Vector256.Create(max));
        return MinAcross(Vector256.ConditionalSelect(holds.AsInt32(), index, Vector256.Create(int.MaxValue)));
    }

    /// <summary>
    /// Per lane r, the tile value at column index[r], by one gather instruction (building the vector from scalar
    /// stores instead stalls the load that follows them).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> GatherTile(float* tile, Vector256<int> index) =>
        Avx2.IsSupported
            ? Avx2.GatherVector256(tile, index * 8 + Vector256<int>.Indices, 4)
            : GatherTilePortable(tile, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScaleByPowerOfTwo(Vector256<float> p, Vector256<float> k) =>
        Avx512F.VL.IsSupported ? Avx512F.VL.Scale(p, k) : ScaleByPowerOfTwoPortable(p, k);

    /// <summary>
    /// Copies 8 rows into a column-major tile (tile[j * 8 + r]) with in-register 8x8 transposes when the rows are
    /// full and the last row's block can be read (<paramref name="available"/> rows from <paramref name="source"/> on);
    /// otherwise element by element, lanes past <paramref name="rows"/> repeating the last row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LoadTile(float* source, int cols, int rows, long available, float* tile)
    {
        if (Avx.IsSupported && rows == 8 && TileTranspose.CanReadBlocks(cols, 8, available))
            TileTranspose.Load8(source, cols, cols, tile, 8);
        else
            TileTranspose.LoadScalar(source, cols, rows, tile, 8);
    }

    /// <summary>Writes the first <paramref name="rows"/> rows of a column-major tile back to row-major memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StoreTile(float* tile, int cols, int rows, float* destination)
    {
        if (Avx.IsSupported && rows == 8 && cols >= 8)
            TileTranspose.Store8(tile, 8, cols, destination, cols);
        else
            TileTranspose.StoreScalar(tile, cols, rows, destination, 8);
    }
}

public static unsafe partial class SimdMath512
{
    /// <summary>The int lanes as float64, low half and high half: one conversion each (vcvtdq2pd), exact.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static (Vector512<double> Low, Vector512<double> High) WidenToDouble(Vector512<int> v) => Avx512F.IsSupported
        ? (Avx512F.ConvertToVector512Double(v.GetLower()), Avx512F.ConvertToVector512Double(v.GetUpper()))
        : Vector512.Widen(Vector512.ConvertToSingle(v));

    /// <summary>
    /// Per lane, <paramref name="whenTrue"/> where <paramref name="mask"/> is set, else <paramref name="whenFalse"/>, for
    /// masks whose lanes are all ones or all zeros (compares and their combinations). One blend instruction: the JIT
    /// turns ConditionalSelect into a blend only for a mask straight from a compare, and into three bitwise
    /// operations for a combined one such as <see cref="Beats"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Select(Vector512<float> mask, Vector512<float> whenTrue, Vector512<float> whenFalse) =>
        Avx512F.IsSupported ? Vector512.ConditionalSelect(mask, whenTrue, whenFalse) : Vector512.ConditionalSelect(mask, whenTrue, whenFalse);

    /// <summary>Per-lane integer select by a float mask of all-ones or all-zeros lanes (see the float overload).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Select(Vector512<float> mask, Vector512<int> whenTrue, Vector512<int> whenFalse) =>
        Avx512F.IsSupported ? Vector512.ConditionalSelect(mask.AsInt32(), whenTrue, whenFalse) : Vector512.ConditionalSelect(mask.AsInt32(), whenTrue, whenFalse);

    /// <summary>Whether the processor loads and stores under a lane mask without touching the masked-off memory.</summary>
    private static bool HasMaskedMoves => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MaskedLoad(float* source, Vector512<float> mask) => Avx512F.MaskLoad(source, mask, Vector512<float>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedStore(float* destination, Vector512<float> mask, Vector512<float> v) => Avx512F.MaskStore(destination, mask, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> MaskedLoad(int* source, Vector512<int> mask) => Avx512F.MaskLoad(source, mask, Vector512<int>.Zero);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MaskedStore(int* destination, Vector512<int> mask, Vector512<int> v) => Avx512F.MaskStore(destination, mask, v);

    /// <summary>Whether <see cref="Log"/> can split exponent and mantissa by AVX-512's vgetexpps and vgetmantps.</summary>
    private static bool HasExponentSplit => Avx512F.IsSupported;

    /// <summary>floor(log2 |x|) as a float (−∞ for ±0, +∞ for ±∞, NaN for NaN; subnormals exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ExponentOf(Vector512<float> x) => Avx512F.GetExponent(x);

    /// <summary>|x| / 2^floor(log2 |x|) in [1, 2), with the sign of x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MantissaOf(Vector512<float> x) => Avx512F.GetMantissa(x, LogSpecials.MantissaInOneToTwo);

    /// <summary>The logarithm's special values set by the class of x (see <see cref="LogSpecials.Table"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> FixLogSpecials(Vector512<float> result, Vector512<float> x) =>
        Avx512F.Fixup(result, x, Vector512.Create(LogSpecials.Table), 0);

    /// <summary>Maximum over the lanes, NaN if any lane is NaN (halves, then narrower steps).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> v) => SimdMath256.MaxAcross(Vector256.Max(v.GetLower(), v.GetUpper()));

    /// <summary>Minimum over the lanes, NaN if any lane is NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MinAcross(Vector512<float> v) => SimdMath256.MinAcross(Vector256.Min(v.GetLower(), v.GetUpper()));

    /// <summary>Smallest integer over the lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int MinAcross(Vector512<int> v) => SimdMath256.MinAcross(Vector256.Min(v.GetLower(), v.GetUpper()));

    /// <summary>The row's first maximum from per-lane (best value, index) pairs (see <see cref="SimdMath128.ArgMaxAcross"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ArgMaxAcross(Vector512<float> best, Vector512<int> index)
    {
        float max = MaxAcross(best);
        var holds = float.IsNaN(max) ? Vector512.IsNaN(best) : Vector512.Equals(best, Vector512.Create(max));
        return MinAcross(Vector512.ConditionalSelect(holds.AsInt32(), index, Vector512.Create(int.MaxValue)));
    }

    /// <summary>Per lane r, the tile value at column index[r], as two 8-lane gathers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> GatherTile(float* tile, Vector512<int> index)
    {
        if (!Avx2.IsSupported) return GatherTilePortable(tile, index);
        var offsets = index * 16 + Vector512<int>.Indices;
        return Vector512.Create(Avx2.GatherVector256(tile, offsets.GetLower(), 4), Avx2.GatherVector256(tile, offsets.GetUpper(), 4));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ScaleByPowerOfTwo(Vector512<float> p, Vector512<float> k) =>
        Avx512F.IsSupported ? Avx512F.Scale(p, k) : ScaleByPowerOfTwoPortable(p, k);

    /// <summary>
    /// Copies 16 rows into a column-major tile: rows of 9 to 16 values by one 16x16 transpose in AVX-512 registers,
    /// others as two 8-row halves transposed in AVX registers (see <see cref="SimdMath256.LoadTile"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LoadTile(float* source, int cols, int rows, long available, float* tile)
    {
        if (Avx512F.IsSupported && rows == 16 && cols > 8 && cols <= 16 && 15L * cols + 16 <= available * cols)
        {
            TileTranspose.Load16(source, cols, tile);
        }
        else if (Avx.IsSupported && rows == 16 && TileTranspose.CanReadBlocks(cols, 16, available))
        {
            TileTranspose.Load8(source, cols, cols, tile, 16);
            TileTranspose.Load8(source + 8L * cols, cols, cols, tile + 8, 16);
        }
        else
        {
            TileTranspose.LoadScalar(source, cols, rows, tile, 16);
        }
    }

    /// <summary>Writes the first <paramref name="rows"/> rows of a column-major tile back to row-major memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StoreTile(float* tile, int cols, int rows, float* destination)
    {
        if (Avx512F.IsSupported && rows == 16 && cols > 8 && cols <= 16)
        {
            TileTranspose.Store16(tile, cols, destination);
        }
        else if (Avx.IsSupported && rows == 16 && cols >= 8)
        {
            TileTranspose.Store8(tile, 16, cols, destination, cols);
            TileTranspose.Store8(tile + 8, 16, cols, destination + 8L * cols, cols);
        }
        else
        {
            TileTranspose.StoreScalar(tile, cols, rows, destination, 16);
        }
    }
}

/// <summary>
/// Moves narrow rows between row-major memory and column-major tiles (one row per vector lane). The fast form
/// transposes 8x8 blocks in AVX registers (unpack, shuffle, 128-bit permute: 24 instructions per 64 values);
/// the last block of a row starts at cols - 8 and overlaps the previous one, which rewrites equal values.
/// </summary>
internal static unsafe class TileTranspose
{
    /// <summary>
    /// Whether 8-wide loads from the start of each of the tile's rows stay within <paramref name="available"/> rows:
    /// rows shorter than 8 read into the following rows, which must exist.
    /// </summary>
    public static bool CanReadBlocks(int cols, int lanes, long available) =>
        cols >= 8 ? available >= lanes : (long)(lanes - 1) * cols + 8 <= available * cols;

    /// <summary>
    /// Transposes 8 rows of <paramref name="cols"/> values (row k at source + k·<paramref name="rowStride"/>) into 8
    /// consecutive lanes of a tile whose column j starts at tile + j·<paramref name="columnStride"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Load8(float* source, long rowStride, int cols, float* tile, long columnStride)
    {
        for (int jb = 0; ; jb += 8)
        {
            int j = Math.Min(jb, Math.Max(0, cols - 8));
            float* s = source + j;
            var r0 = Avx.LoadVector256(s);
            var r1 = Avx.LoadVector256(s + rowStride);
            var r2 = Avx.LoadVector256(s + 2 * rowStride);
            var r3 = Avx.LoadVector256(s + 3 * rowStride);
            var r4 = Avx.LoadVector256(s + 4 * rowStride);
            var r5 = Avx.LoadVector256(s + 5 * rowStride);
            var r6 = Avx.LoadVector256(s + 6 * rowStride);
            var r7 = Avx.LoadVector256(s + 7 * rowStride);
            Transpose8x8(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7);
            float* t = tile + j * columnStride;
            Avx.Store(t, r0);
            Avx.Store(t + columnStride, r1);
            Avx.Store(t + 2 * columnStride, r2);
            Avx.Store(t + 3 * columnStride, r3);
            Avx.Store(t + 4 * columnStride, r4);
            Avx.Store(t + 5 * columnStride, r5);
            Avx.Store(t + 6 * columnStride, r6);
            Avx.Store(t + 7 * columnStride, r7);
            if (j + 8 >= cols) return;
        }
    }

    /// <summary>
    /// Writes 8 consecutive lanes of a tile (column j at tile + j·<paramref name="columnStride"/>) back as 8 rows of
    /// <paramref name="cols"/> (at least 8) values, row k at destination + k·<paramref name="rowStride"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Store8(float* tile, long columnStride, int cols, float* destination, long rowStride)
    {
        for (int jb = 0; ; jb += 8)
        {
            int j = Math.Min(jb, cols - 8);
            float* t = tile + j * columnStride;
            var c0 = Avx.LoadVector256(t);
            var c1 = Avx.LoadVector256(t + columnStride);
            var c2 = Avx.LoadVector256(t + 2 * columnStride);
            var c3 = Avx.LoadVector256(t + 3 * columnStride);
            var c4 = Avx.LoadVector256(t + 4 * columnStride);
            var c5 = Avx.LoadVector256(t + 5 * columnStride);
            var c6 = Avx.LoadVector256(t + 6 * columnStride);
            var c7 = Avx.LoadVector256(t + 7 * columnStride);
            Transpose8x8(ref c0, ref c1, ref c2, ref c3, ref c4, ref c5, ref c6, ref c7);
            float* d = destination + j;
            Avx.Store(d, c0);
            Avx.Store(d + rowStride, c1);
            Avx.Store(d + 2 * rowStride, c2);
            Avx.Store(d + 3 * rowStride, c3);
            Avx.Store(d + 4 * rowStride, c4);
            Avx.Store(d + 5 * rowStride, c5);
            Avx.Store(d + 6 * rowStride, c6);
            Avx.Store(d + 7 * rowStride, c7);
            if (j + 8 >= cols) return;
        }
    }

    /// <summary>
    /// Transposes 16 rows of <paramref name="cols"/> (9 to 16) values, row k at source + k·cols, into a 16-lane
    /// tile (column j at tile + 16j): 16 loads of 16 values from each row's start (so 15·cols + 16 values must be
    /// readable), 64 shuffles, one store per column. The two 8x8 halves take 96 shuffles and twice the loads and
    /// stores, for 16 columns' worth of work. Masked loads, which would need no readable slack, ran the calibration
    /// kernel 1.6x slower on an AVX-512 Zen 5 than these plain ones.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Load16(float* source, int cols, float* tile)
    {
        var r0 = Vector512.Load(source);
        var r1 = Vector512.Load(source + cols);
        var r2 = Vector512.Load(source + 2L * cols);
        var r3 = Vector512.Load(source + 3L * cols);
        var r4 = Vector512.Load(source + 4L * cols);
        var r5 = Vector512.Load(source + 5L * cols);
        var r6 = Vector512.Load(source + 6L * cols);
        var r7 = Vector512.Load(source + 7L * cols);
        var r8 = Vector512.Load(source + 8L * cols);
        var r9 = Vector512.Load(source + 9L * cols);
        var r10 = Vector512.Load(source + 10L * cols);
        var r11 = Vector512.Load(source + 11L * cols);
        var r12 = Vector512.Load(source + 12L * cols);
        var r13 = Vector512.Load(source + 13L * cols);
        var r14 = Vector512.Load(source + 14L * cols);
        var r15 = Vector512.Load(source + 15L * cols);
        Transpose16x16(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7, ref r8, ref r9, ref r10, ref r11, ref r12, ref r13, ref r14, ref r15);
        r0.Store(tile);
        r1.Store(tile + 16);
        r2.Store(tile + 32);
        r3.Store(tile + 48);
        r4.Store(tile + 64);
        r5.Store(tile + 80);
        r6.Store(tile + 96);
        r7.Store(tile + 112);
        r8.Store(tile + 128);
        if (cols > 9) r9.Store(tile + 144);
        if (cols > 10) r10.Store(tile + 160);
        if (cols > 11) r11.Store(tile + 176);
        if (cols > 12) r12.Store(tile + 192);
        if (cols > 13) r13.Store(tile + 208);
        if (cols > 14) r14.Store(tile + 224);
        if (cols > 15) r15.Store(tile + 240);
    }

    /// <summary>
    /// Writes a 16-lane tile of <paramref name="cols"/> (9 to 16) columns back as 16 rows, row k at destination +
    /// k·cols (the inverse of <see cref="Load16"/>). Rows 0 to 14 are written whole vectors in order, each one's
    /// values past the row overwritten by the next row; the last row, as two 8-value stores that overlap within it,
    /// so nothing past the 16 rows is written. (Masked stores made the narrow softmax 1.4x slower on an AVX-512 Zen 5.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Store16(float* tile, int cols, float* destination)
    {
        var zero = Vector512<float>.Zero;
        var r0 = Vector512.Load(tile);
        var r1 = Vector512.Load(tile + 16);
        var r2 = Vector512.Load(tile + 32);
        var r3 = Vector512.Load(tile + 48);
        var r4 = Vector512.Load(tile + 64);
        var r5 = Vector512.Load(tile + 80);
        var r6 = Vector512.Load(tile + 96);
        var r7 = Vector512.Load(tile + 112);
        var r8 = Vector512.Load(tile + 128);
        var r9 = cols > 9 ? Vector512.Load(tile + 144) : zero;
        var r10 = cols > 10 ? Vector512.Load(tile + 160) : zero;
        var r11 = cols > 11 ? Vector512.Load(tile + 176) : zero;
        var r12 = cols > 12 ? Vector512.Load(tile + 192) : zero;
        var r13 = cols > 13 ? Vector512.Load(tile + 208) : zero;
        var r14 = cols > 14 ? Vector512.Load(tile + 224) : zero;
        var r15 = cols > 15 ? Vector512.Load(tile + 240) : zero;
        Transpose16x16(ref r0, ref r1, ref r2, ref r3, ref r4, ref r5, ref r6, ref r7, ref r8, ref r9, ref r10, ref r11, ref r12, ref r13, ref r14, ref r15);
        r0.Store(destination);
        r1.Store(destination + cols);
        r2.Store(destination + 2L * cols);
        r3.Store(destination + 3L * cols);
        r4.Store(destination + 4L * cols);
        r5.Store(destination + 5L * cols);
        r6.Store(destination + 6L * cols);
        r7.Store(destination + 7L * cols);
        r8.Store(destination + 8L * cols);
        r9.Store(destination + 9L * cols);
        r10.Store(destination + 10L * cols);
        r11.Store(destination + 11L * cols);
        r12.Store(destination + 12L * cols);
        r13.Store(destination + 13L * cols);
        r14.Store(destination + 14L * cols);
        float* last = destination + 15L * cols;
        r15.GetLower().Store(last);
        Avx512F.PermuteVar16x32(r15, Vector512<int>.Indices + Vector512.Create(cols - 8)).GetLower().Store(last + cols - 8);
    }

    /// <summary>
    /// In-place transpose of the 16x16 matrix whose rows are r0..r15: per group of four rows, 32-bit then 64-bit
    /// interleaves give, in each 128-bit block L, those rows' values of column 4L + c in vector c of the group; two
    /// rounds of 128-bit block shuffles then gather block L of the four groups into column 4L + c.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose16x16(ref Vector512<float> r0, ref Vector512<float> r1, ref Vector512<float> r2, ref Vector512<float> r3,
        ref Vector512<float> r4, ref Vector512<float> r5, ref Vector512<float> r6, ref Vector512<float> r7,
        ref Vector512<float> r8, ref Vector512<float> r9, ref Vector512<float> r10, ref Vector512<float> r11,
        ref Vector512<float> r12, ref Vector512<float> r13, ref Vector512<float> r14, ref Vector512<float> r15)
    {
        Interleave4(r0, r1, r2, r3, out var a0, out var a1, out var a2, out var a3);
        Interleave4(r4, r5, r6, r7, out var b0, out var b1, out var b2, out var b3);
        Interleave4(r8, r9, r10, r11, out var c0, out var c1, out var c2, out var c3);
        Interleave4(r12, r13, r14, r15, out var d0, out var d1, out var d2, out var d3);
        GatherBlocks(a0, b0, c0, d0, out r0, out r4, out r8, out r12);
        GatherBlocks(a1, b1, c1, d1, out r1, out r5, out r9, out r13);
        GatherBlocks(a2, b2, c2, d2, out r2, out r6, out r10, out r14);
        GatherBlocks(a3, b3, c3, d3, out r3, out r7, out r11, out r15);
    }

    /// <summary>Four rows x0..x3 to v_c holding, in each 128-bit block L, (x0, x1, x2, x3) at column 4L + c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave4(Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3,
        out Vector512<float> v0, out Vector512<float> v1, out Vector512<float> v2, out Vector512<float> v3)
    {
        var low01 = Avx512F.UnpackLow(x0, x1).AsDouble();    // x0[4L] x1[4L] x0[4L+1] x1[4L+1] per block
        var high01 = Avx512F.UnpackHigh(x0, x1).AsDouble();  // x0[4L+2] x1[4L+2] x0[4L+3] x1[4L+3]
        var low23 = Avx512F.UnpackLow(x2, x3).AsDouble();
        var high23 = Avx512F.UnpackHigh(x2, x3).AsDouble();
        v0 = Avx512F.UnpackLow(low01, low23).AsSingle();
        v1 = Avx512F.UnpackHigh(low01, low23).AsSingle();
        v2 = Avx512F.UnpackLow(high01, high23).AsSingle();
        v3 = Avx512F.UnpackHigh(high01, high23).AsSingle();
    }

    /// <summary>Block L of each of g0..g3 (rows 0-3, 4-7, 8-11, 12-15 of one column per block) joined into column L's vector o_L.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GatherBlocks(Vector512<float> g0, Vector512<float> g1, Vector512<float> g2, Vector512<float> g3,
        out Vector512<float> o0, out Vector512<float> o1, out Vector512<float> o2, out Vector512<float> o3)
    {
        var e0 = Avx512F.Shuffle4x128(g0, g1, 0x44);   // g0.0 g0.1 g1.0 g1.1
        var e1 = Avx512F.Shuffle4x128(g0, g1, 0xEE);   // g0.2 g0.3 g1.2 g1.3
        var e2 = Avx512F.Shuffle4x128(g2, g3, 0x44);
        var e3 = Avx512F.Shuffle4x128(g2, g3, 0xEE);
        o0 = Avx512F.Shuffle4x128(e0, e2, 0x88);       // g0.0 g1.0 g2.0 g3.0
        o1 = Avx512F.Shuffle4x128(e0, e2, 0xDD);
        o2 = Avx512F.Shuffle4x128(e1, e3, 0x88);
        o3 = Avx512F.Shuffle4x128(e1, e3, 0xDD);
    }

    /// <summary>In-place transpose of the 8x8 matrix whose rows are r0..r7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(ref Vector256<float> r0, ref Vector256<float> r1, ref Vector256<float> r2, ref Vector256<float> r3,
        ref Vector256<float> r4, ref Vector256<float> r5, ref Vector256<float> r6, ref Vector256<float> r7)
    {
        // interleave pairs of rows: t0 = a0 b0 a1 b1 | a4 b4 a5 b5, t1 = a2 b2 a3 b3 | a6 b6 a7 b7, ...
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        // gather quadruples: s0 = a0 b0 c0 d0 | a4 b4 c4 d4, s1 = a1 b1 c1 d1 | a5 ..., ...
        var s0 = Avx.Shuffle(t0, t2, 0x44);
        var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44);
        var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44);
        var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44);
        var s7 = Avx.Shuffle(t5, t7, 0xEE);
        // join 128-bit halves: column k = low halves (k < 4) or high halves (k >= 4) of s(k mod 4) and s(k mod 4 + 4)
        r0 = Avx.Permute2x128(s0, s4, 0x20);
        r1 = Avx.Permute2x128(s1, s5, 0x20);
        r2 = Avx.Permute2x128(s2, s6, 0x20);
        r3 = Avx.Permute2x128(s3, s7, 0x20);
        r4 = Avx.Permute2x128(s0, s4, 0x31);
        r5 = Avx.Permute2x128(s1, s5, 0x31);
        r6 = Avx.Permute2x128(s2, s6, 0x31);
        r7 = Avx.Permute2x128(s3, s7, 0x31);
    }

    /// <summary>Element-by-element tile load; lanes past <paramref name="rows"/> repeat the last row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LoadScalar(float* source, int cols, int rows, float* tile, int lanes)
    {
        for (int r = 0; r < lanes; r++)
        {
            float* row = source + (long)Math.Min(r, rows - 1) * cols;
            for (int j = 0; j < cols; j++) tile[j * lanes + r] = row[j];
        }
    }

    /// <summary>Element-by-element tile store of the first <paramref name="rows"/> rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void StoreScalar(float* tile, int cols, int rows, float* destination, int lanes)
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = destination + (long)r * cols;
            for (int j = 0; j < cols; j++) row[j] = tile[j * lanes + r];
        }
    }
}

/// <summary>Constants of the AVX-512 form of the vector logarithm.</summary>
internal static class LogSpecials
{
    /// <summary>vgetmantps control: the mantissa normalised to [1, 2), its sign taken from the source.</summary>
    public const byte MantissaInOneToTwo = 0;

    /// <summary>
    /// vfixupimmps response per class of x, four bits each from the lowest (QNaN, SNaN, ±0, +1, −∞, +∞, negative,
    /// positive): keep the computed value (NaN for NaN input, 0 for 1, ln x for positive x), −∞ for ±0, the default
    /// NaN for −∞ and negative x, +∞ for +∞.
    /// </summary>
    public const int Table = 0x03530400;
}
