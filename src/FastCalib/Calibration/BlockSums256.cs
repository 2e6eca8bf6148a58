using System.Runtime.Intrinsics;

namespace FastCalib;

/// <summary>
/// The vector halves of <see cref="BlockBinner"/> over whole vectors of a block (the template of BlockSums128 and
/// BlockSums512; the binner finishes the last rows with scalar code). Branch-free: validity, bin indices, and the
/// block's sums of correct rows, confidence units and rows at or above each threshold.
/// </summary>
[SimdWidthTemplate]
internal static unsafe class BlockSums256
{
    /// <summary>Rows [0, returned) hold valid values: confidence in [0, 1], and NLL and Brier not NaN where given.</summary>
    public static int ValidPrefix(float* confidence, float* nll, float* brier, int n)
    {
        int w = Vector256<float>.Count, i = 0;
        var zero = Vector256<float>.Zero;
        var one = Vector256<float>.One;
        for (; i + w <= n; i += w)
        {
            var c = Vector256.Load(confidence + i);
            var valid = Vector256.GreaterThanOrEqual(c, zero) & Vector256.LessThanOrEqual(c, one);
            if (nll is not null)
            {
                var l = Vector256.Load(nll + i);
                var b = Vector256.Load(brier + i);
                valid &= Vector256.Equals(l, l) & Vector256.Equals(b, b);
            }
            if (!valid.AsInt32().Equals(Vector256<int>.AllBitsSet)) break;
        }
        return i;
    }

    /// <summary>
    /// For the valid rows [0, returned): each row's histogram slot (its bin in the copy the row takes turns on,
    /// <paramref name="copies"/> a power of two dividing the lane count; <paramref name="noBin"/> for a row in no bin),
    /// its count-and-correct increment (1 + correct · 2^32) and its confidence units (<see cref="ConfidenceUnits.Of"/>),
    /// so that the binner's scatter is two loads and two adds a row. Custom <paramref name="edges"/> (e_0..e_bins) replace
    /// the equal-width ones when given.
    /// </summary>
    public static int HistogramTerms(float* confidence, float* correct, int* slot, long* increment, long* units, int n,
        int bins, BinningRule rule, int slots, int copies, int noBin, float* edges = null)
    {
        int w = Vector256<float>.Count, i = 0;
        var copyBase = (Vector256<int>.Indices & Vector256.Create(copies - 1)) * Vector256.Create(slots);
        var none = Vector256.Create(noBin);
        var one = Vector256.Create(ConfidenceUnits.One);
        var half = Vector256.Create(0.5);
        // an integer-valued double x in [0, 2^52) has the bits of x + 2^52 minus those of 2^52 (exact, any instruction set)
        var magic = Vector256.Create(4503599627370496.0);
        var magicBits = magic.AsInt64();
        for (; i + w <= n; i += w)
        {
            var c = Vector256.Load(confidence + i);
            var bin = edges is null ? Binning256.Of(c, bins, rule) : Binning256.Of(c, edges, bins, rule);
            Vector256.ConditionalSelect(Vector256.LessThan(bin, Vector256<int>.Zero), none, bin + copyBase).Store(slot + i);
            var (okLow, okHigh) = Vector256.Widen(Vector256.ConvertToInt32(Vector256.Load(correct + i)));
            ((okLow << 32) + Vector256<long>.One).Store(increment + i);
            ((okHigh << 32) + Vector256<long>.One).Store(increment + i + w / 2);
            var (cLow, cHigh) = Vector256.Widen(c);
            ((Vector256.Floor(cLow * one + half) + magic).AsInt64() - magicBits).Store(units + i);
            ((Vector256.Floor(cHigh * one + half) + magic).AsInt64() - magicBits).Store(units + i + w / 2);
        }
        return i;
    }

    /// <summary>Raises <paramref name="largest"/> to the largest biased exponent among the finite terms of rows [0, returned).</summary>
    public static int LargestExponent(float* terms, int n, ref int largest)
    {
        int w = Vector256<float>.Count, i = 0;
        var max = Vector256<int>.Zero;
        var all = Vector256.Create(0xFF);
        for (; i + w <= n; i += w)
        {
            var exponent = Vector256.ShiftRightLogical(Vector256.Load(terms + i).AsInt32(), 23) & all;
            max = Vector256.Max(max, Vector256.ConditionalSelect(Vector256.Equals(exponent, all), Vector256<int>.Zero, exponent));
        }
        for (int k = 0; k < w; k++) largest = Math.Max(largest, max.GetElement(k));
        return i;
    }

    /// <summary>
    /// For rows [0, returned): adds the terms in the integer window that starts at scale <paramref name="windowBase"/>
    /// (<see cref="ExactSum.InWindow"/>) to <paramref name="sum"/> as m · 2^(s − base), exactly, and sets
    /// <paramref name="outside"/> if any term is not in it (the caller gathers those apart).
    /// </summary>
    public static int WindowSum(float* terms, int n, int windowBase, ref long sum, ref bool outside)
    {
        int w = Vector256<float>.Count, i = 0;
        // t · 2^(149 − base) is the integer m · 2^(s − base), |x| < 2^51; x + 1.5 · 2^52 then holds x in its low bits
        var scale = Vector256.Create(Math.ScaleB(1.0, 149 - windowBase));
        var magic = Vector256.Create(6755399441055744.0);
        var magicBits = magic.AsInt64();
        var lowest = Vector256.Create(windowBase == 0 ? 0 : windowBase + 1);   // s >= base as a biased exponent
        var all = Vector256.Create(0xFF);
        var magnitude = Vector256.Create(0x7FFFFFFF);
        var low = Vector256<long>.Zero;
        var high = Vector256<long>.Zero;
        var missed = Vector256<int>.Zero;
        for (; i + w <= n; i += w)
        {
            var bits = Vector256.Load(terms + i).AsInt32();
            var exponent = Vector256.ShiftRightLogical(bits, 23) & all;
            var take = (Vector256.GreaterThanOrEqual(exponent, lowest) & ~Vector256.Equals(exponent, all))
                | Vector256.Equals(bits & magnitude, Vector256<int>.Zero);
            missed |= ~take;
            var (lo, hi) = Vector256.Widen((bits & take).AsSingle());   // terms outside count as +0 here
            low += (lo * scale + magic).AsInt64() - magicBits;
            high += (hi * scale + magic).AsInt64() - magicBits;
        }
        sum += Vector256.Sum(low + high);
        outside |= !missed.Equals(Vector256<int>.Zero);
        return i;
    }

    /// <summary>Adds rows [0, returned) to <paramref name="sums"/>; <paramref name="above"/> holds two vectors per threshold.</summary>
    public static int Sums(float* confidence, float* correct, int n, float[] thresholds, Vector256<int>[] above, ref BlockSums sums)
    {
        int w = Vector256<float>.Count, i = 0;
        var units = Vector256<double>.Zero;
        var right = Vector256<int>.Zero;
        var one = Vector256.Create(ConfidenceUnits.One);
        var half = Vector256.Create(0.5);
        Array.Clear(above, 0, 2 * thresholds.Length);
        for (; i + w <= n; i += w)
        {
            var c = Vector256.Load(confidence + i);
            var ok = Vector256.ConvertToInt32(Vector256.Load(correct + i));
            var (cLow, cHigh) = Vector256.Widen(c);
            // ConfidenceUnits.Of lane by lane: floor(c · 2^40 + 1/2), exact in float64
            units += Vector256.Floor(cLow * one + half) + Vector256.Floor(cHigh * one + half);
            right += ok;
            for (int t = 0; t < thresholds.Length; t++)
            {
                var isAbove = Vector256.GreaterThanOrEqual(c, Vector256.Create(thresholds[t])).AsInt32();
                above[2 * t] -= isAbove;
                above[2 * t + 1] += isAbove & ok;
            }
        }
        sums.Units += Vector256.Sum(units);
        sums.Correct += Vector256.Sum(right);
        for (int t = 0; t < thresholds.Length; t++)
        {
            sums.AboveCount[t] += Vector256.Sum(above[2 * t]);
            sums.AboveCorrect[t] += Vector256.Sum(above[2 * t + 1]);
        }
        return i;
    }
}
