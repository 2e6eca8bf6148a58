using System.Runtime.Intrinsics;

namespace FastCalib;

/// <summary>
/// How a confidence c in [0, 1] is assigned to one of n equal-width bins with edges e_k = k / n (k = 0..n, rounded to
/// float32). The conventions differ only at the edges; the tools users compare against each use one of them.
/// </summary>
public enum BinningRule
{
    /// <summary>
    /// torchmetrics' assignment (bucketize(c, linspace(0, 1, n + 1), right=True) - 1): bins [e_k, e_{k+1}), so 0 is in
    /// bin 0 and a confidence of exactly 1 lands in an extra bin n of its own (with its own accuracy and weight).
    /// </summary>
    TorchMetrics = 0,

    /// <summary>Bins [e_k, e_{k+1}) with the last bin closed: 1 is in bin n - 1 (NumPy histogram, netcal).</summary>
    ClosedLastBin = 1,

    /// <summary>Bins (e_k, e_{k+1}] with 0 in bin 0 (sklearn's calibration_curve, Kumar et al.'s calibration library).</summary>
    RightClosed = 2,

    /// <summary>
    /// Bins (e_k, e_{k+1}] as in Guo et al.'s reference ECE: a confidence of exactly 0 is in no bin but still counts
    /// in the total that weights the bins.
    /// </summary>
    GuoReference = 3,
}

/// <summary>The one owner of the bin rule: the scalar form here (host and device), the vector form in <see cref="Binning256"/>.</summary>
internal static class Binning
{
    /// <summary>Most bins an accumulator takes (each costs a few dozen bytes, per thread while adding).</summary>
    public const int MaxBins = 1_000_000;

    /// <summary>Bin slots an accumulator keeps: n, plus the extra bin for 1.0 under <see cref="BinningRule.TorchMetrics"/>.</summary>
    public static int Slots(int bins, BinningRule rule) => rule == BinningRule.TorchMetrics ? bins + 1 : bins;

    /// <summary>The bin of confidence c in [0, 1], or -1 for none (a 0 under <see cref="BinningRule.GuoReference"/>).</summary>
    public static int Of(float c, int n, BinningRule rule)
    {
        // left-closed index k with e_k <= c < e_{k+1} (k = n for c = 1); c * n can round across an edge, so check both
        int k = Math.Min((int)(c * n), n);
        if (k > 0 && c < Edge(k, n)) k--;
        else if (k < n && c >= Edge(k + 1, n)) k++;
        switch (rule)
        {
            case BinningRule.TorchMetrics:
                return k;
            case BinningRule.ClosedLastBin:
                return Math.Min(k, n - 1);
            default:
                // right-closed: an edge value belongs to the bin below it
                if (c == Edge(k, n))
                {
                    if (k > 0) return k - 1;
                    return rule == BinningRule.RightClosed ? 0 : -1;
                }
                return k;
        }
    }

    /// <summary>e_k = k / n, correctly rounded to float32.</summary>
    public static float Edge(int k, int n) => (float)k / n;
}

/// <summary>
/// <see cref="Binning.Of"/> for a vector of confidences, the same arithmetic lane by lane (this is the template of
/// Binning128 and Binning512). Lanes must hold valid confidences (in [0, 1]).
/// </summary>
[SimdWidthTemplate]
internal static class Binning256
{
    public static Vector256<int> Of(Vector256<float> c, int bins, BinningRule rule)
    {
        var count = Vector256.Create((float)bins);
        var last = Vector256.Create(bins);
        var k = Vector256.Min(Vector256.ConvertToInt32(c * count), last);
        // k / n rounded to float, as Binning.Edge: step down below the lower edge, up at or past the upper one
        var lower = Vector256.ConvertToSingle(k) / count;
        var upper = Vector256.ConvertToSingle(k + Vector256<int>.One) / count;
        k += (Vector256.LessThan(c, lower) & Vector256.GreaterThan(k, Vector256<int>.Zero).AsSingle()).AsInt32();
        k -= (Vector256.GreaterThanOrEqual(c, upper) & Vector256.LessThan(k, last).AsSingle()).AsInt32();
        switch (rule)
        {
            case BinningRule.ClosedLastBin:
                return Vector256.Min(k, Vector256.Create(bins - 1));
            case BinningRule.RightClosed:
            case BinningRule.GuoReference:
            {
                // an edge value belongs to the bin below it; 0 to bin 0 (sklearn) or to none (Guo: -1)
                var onEdge = Vector256.Equals(c, Vector256.ConvertToSingle(k) / count).AsInt32();
                var positive = Vector256.GreaterThan(k, Vector256<int>.Zero);
                k += onEdge & positive;
                if (rule == BinningRule.GuoReference) k |= onEdge & ~positive;
                return k;
            }
            default:
                return k;
        }
    }
}
