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

    /// <summary>Bin indices of the valid confidences of rows [0, returned).</summary>
    public static int BinIndices(float* confidence, int* bin, int n, int bins, BinningRule rule)
    {
        int w = Vector256<float>.Count, i = 0;
        for (; i + w <= n; i += w)
            Binning256.Of(Vector256.Load(confidence + i), bins, rule).Store(bin + i);
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
