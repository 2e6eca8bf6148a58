using System.Numerics;
using System.Runtime.Intrinsics;

namespace FastCalib;

/// <summary>
/// The vector halves of <see cref="BlockBinner"/> over whole vectors of a block (the template of BlockSums128 and
/// BlockSums512; the binner finishes the last rows with scalar code): one pass for validity, the histogram terms and
/// the block's counts, then the exact window sums of the NLL and Brier terms.
/// </summary>
[SimdWidthTemplate]
internal static unsafe class BlockSums256
{
    /// <summary>
    /// One pass over whole vectors of the block, stopping before the first vector with an invalid row (confidence NaN
    /// or outside [0, 1], NLL or Brier NaN where given); returns the rows done. For each row: its histogram slot (its
    /// bin in the copy the row takes turns on, <paramref name="copies"/> a power of two dividing the lane count;
    /// <paramref name="noBin"/> for a row in no bin; left to the caller when <paramref name="binInVectors"/> is false), its
    /// count-and-correct increment (1 + correct · 2^32) and its confidence units (<see cref="ConfidenceUnits.Of"/>), so
    /// that the binner's scatter is two loads and two adds a row. For the block: correct rows, confidence units, rows at
    /// or above each threshold and the correct ones among them, and the largest biased exponents of the finite NLL and
    /// Brier terms (the exact sums' window). Custom <paramref name="edges"/> (e_0..e_bins) replace the equal-width ones
    /// when given.
    /// </summary>
    public static int Terms(float* confidence, float* correct, float* nll, float* brier, int* slot, long* increment, long* units, int n,
        int bins, BinningRule rule, int slots, int copies, int noBin, float* edges, bool binInVectors, float[] thresholds, ref BlockSums sums)
    {
        int w = Vector256<float>.Count, i = 0;
        var zero = Vector256<float>.Zero;
        var one = Vector256<float>.One;
        var copyBase = (Vector256<int>.Indices & Vector256.Create(copies - 1)) * Vector256.Create(slots);
        var none = Vector256.Create(noBin);
        var unit = Vector256.Create(ConfidenceUnits.One);
        var half = Vector256.Create(0.5);
        // an integer-valued double x in [0, 2^52) has the bits of x + 2^52 minus those of 2^52 (exact, any instruction set)
        var magic = Vector256.Create(4503599627370496.0);
        var magicBits = magic.AsInt64();
        var all = Vector256.Create(0xFF);
        var unitSum = Vector256<long>.Zero;
        var right = Vector256<int>.Zero;
        var largestNll = Vector256<int>.Zero;
        var largestBrier = Vector256<int>.Zero;
        for (; i + w <= n; i += w)
        {
            var c = Vector256.Load(confidence + i);
            var valid = Vector256.GreaterThanOrEqual(c, zero) & Vector256.LessThanOrEqual(c, one);
            if (nll is not null)
            {
                var l = Vector256.Load(nll + i);
                var b = Vector256.Load(brier + i);
                valid &= Vector256.Equals(l, l) & Vector256.Equals(b, b);
                if (!valid.AsInt32().Equals(Vector256<int>.AllBitsSet)) break;
                // infinite terms (exponent 0xFF) are gathered apart, so they do not set the window
                var le = Vector256.ShiftRightLogical(l.AsInt32(), 23) & all;
                var be = Vector256.ShiftRightLogical(b.AsInt32(), 23) & all;
                largestNll = Vector256.Max(largestNll, Vector256.ConditionalSelect(Vector256.Equals(le, all), Vector256<int>.Zero, le));
                largestBrier = Vector256.Max(largestBrier, Vector256.ConditionalSelect(Vector256.Equals(be, all), Vector256<int>.Zero, be));
            }
            else if (!valid.AsInt32().Equals(Vector256<int>.AllBitsSet)) break;
            if (binInVectors)
            {
                var bin = edges is null ? Binning256.Of(c, bins, rule) : Binning256.Of(c, edges, bins, rule);
                Vector256.ConditionalSelect(Vector256.LessThan(bin, Vector256<int>.Zero), none, bin + copyBase).Store(slot + i);
            }
            var okValue = Vector256.Load(correct + i);
            var ok = Vector256.ConvertToInt32(okValue);
            right += ok;
            var (okLow, okHigh) = Vector256.Widen(ok);
            ((okLow << 32) + Vector256<long>.One).Store(increment + i);
            ((okHigh << 32) + Vector256<long>.One).Store(increment + i + w / 2);
            var (cLow, cHigh) = Vector256.Widen(c);
            var unitsLow = (Vector256.Floor(cLow * unit + half) + magic).AsInt64() - magicBits;
            var unitsHigh = (Vector256.Floor(cHigh * unit + half) + magic).AsInt64() - magicBits;
            unitsLow.Store(units + i);
            unitsHigh.Store(units + i + w / 2);
            unitSum += unitsLow + unitsHigh;
            var okMask = Vector256.Equals(okValue, one);
            for (int t = 0; t < thresholds.Length; t++)
            {
                var above = Vector256.GreaterThanOrEqual(c, Vector256.Create(thresholds[t]));
                sums.AboveCount[t] += BitOperations.PopCount(above.ExtractMostSignificantBits());
                sums.AboveCorrect[t] += BitOperations.PopCount((above & okMask).ExtractMostSignificantBits());
            }
        }
        sums.Units += Vector256.Sum(unitSum);
        sums.Correct += Vector256.Sum(right);
        for (int k = 0; k < w; k++)
        {
            sums.LargestNll = Math.Max(sums.LargestNll, largestNll.GetElement(k));
            sums.LargestBrier = Math.Max(sums.LargestBrier, largestBrier.GetElement(k));
        }
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
}
