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

    /// <summary>
    /// The bin of c in [0, 1] under custom edges e_0 = 0 &lt; e_1 &lt; … &lt; e_n = 1, by the same rule: left-closed
    /// bins [e_k, e_{k+1}) (1 in an extra bin n under torchmetrics' rule, in bin n − 1 when the last is closed), or
    /// right-closed (e_k, e_{k+1}] with 0 in bin 0 (sklearn) or in none (Guo: −1). With e_k = k / n it is <see cref="Of(float, int, BinningRule)"/>.
    /// </summary>
    public static int Of(float c, float[] edges, BinningRule rule)
    {
        int n = edges.Length - 1;
        if (rule is BinningRule.TorchMetrics or BinningRule.ClosedLastBin)
        {
            // k = how many of e_1..e_n are ≤ c
            int low = 1, high = n + 1;
            while (low < high)
            {
                int mid = (low + high) >>> 1;
                if (edges[mid] <= c) low = mid + 1; else high = mid;
            }
            int k = low - 1;
            return rule == BinningRule.ClosedLastBin ? Math.Min(k, n - 1) : k;
        }
        if (c == 0) return rule == BinningRule.RightClosed ? 0 : -1;
        {
            // k = how many of the inner edges e_1..e_{n-1} are < c
            int low = 1, high = n;
            while (low < high)
            {
                int mid = (low + high) >>> 1;
                if (edges[mid] < c) low = mid + 1; else high = mid;
            }
            return low - 1;
        }
    }

    /// <summary>The bin of c under equal-width bins, or under <paramref name="edges"/> when given.</summary>
    public static int Of(float c, int n, BinningRule rule, float[]? edges) => edges is null ? Of(c, n, rule) : Of(c, edges, rule);

    /// <summary>Edges for an accumulator: at least two, strictly increasing, from exactly 0 to exactly 1.</summary>
    public static float[] CheckEdges(IReadOnlyList<float> edges, string op)
    {
        if (edges.Count < 2 || edges.Count - 1 > MaxBins)
            throw new ArgumentOutOfRangeException(nameof(edges), edges.Count, $"{op}: edges must number from 2 to {MaxBins + 1:N0} (one more than the bins), got {edges.Count}.");
        if (edges[0] != 0 || edges[^1] != 1)
            throw new ArgumentException($"{op}: edges must start at 0 and end at 1, got {edges[0]} to {edges[^1]}.", nameof(edges));
        for (int k = 1; k < edges.Count; k++)
            if (!(edges[k] > edges[k - 1]))
                throw new ArgumentException($"{op}: edges must increase strictly; edge {k} is {edges[k]} after {edges[k - 1]}.", nameof(edges));
        return edges.ToArray();
    }
}

/// <summary>
/// <see cref="Binning.Of(float, int, BinningRule)"/> for a vector of confidences, the same arithmetic lane by lane (this is the template of
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

    /// <summary>
    /// <see cref="Binning.Of(float, float[], BinningRule)"/> lane by lane, by counting the edges each lane reaches
    /// (<paramref name="edges"/> holds e_0..e_n; the binner uses this for up to 64 bins, a binary search beyond).
    /// </summary>
    public static unsafe Vector256<int> Of(Vector256<float> c, float* edges, int n, BinningRule rule)
    {
        var k = Vector256<int>.Zero;
        if (rule is BinningRule.TorchMetrics or BinningRule.ClosedLastBin)
        {
            for (int j = 1; j <= n; j++) k -= Vector256.GreaterThanOrEqual(c, Vector256.Create(edges[j])).AsInt32();
            return rule == BinningRule.ClosedLastBin ? Vector256.Min(k, Vector256.Create(n - 1)) : k;
        }
        for (int j = 1; j < n; j++) k -= Vector256.GreaterThan(c, Vector256.Create(edges[j])).AsInt32();
        // 0 is in bin 0 (already) for sklearn's rule, in none for Guo's
        return rule == BinningRule.GuoReference ? k | Vector256.Equals(c, Vector256<float>.Zero).AsInt32() : k;
    }
}
