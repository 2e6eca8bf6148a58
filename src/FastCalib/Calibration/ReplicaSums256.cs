using System.Runtime.Intrinsics;

namespace FastCalib;

/// <summary>
/// Adds one row to every bootstrap replica at once (the template of ReplicaSums128 and ReplicaSums512): the weights of
/// a vector of replicas from <see cref="PoissonWeights"/>' hash, then weight, correct weight, weighted confidence units
/// and weighted NLL and Brier mantissas added to the replicas' tables, all exact integers.
/// </summary>
[SimdWidthTemplate]
internal static unsafe class ReplicaSums256
{
    /// <summary>
    /// Adds a row, keyed by <paramref name="rowKey"/> (<see cref="PoissonWeights.RowKey"/>), to the replicas whose keys
    /// are <paramref name="replicaKeys"/> (<paramref name="stride"/> of them, a multiple of the lanes). <paramref name="count"/>,
    /// <paramref name="correct"/> and <paramref name="units"/> point at the row's slot in the weight tables,
    /// <paramref name="rowUnits"/> is its confidence units (at most 2^40); <paramref name="nll"/> and <paramref name="brier"/>
    /// at its terms' buckets (null when the row is not scored), with their mantissas; <paramref name="tierCount"/> and
    /// <paramref name="tierCorrect"/> at its threshold tier. Weights and correct weights are
    /// 32-bit (a row adds at most 9; the binner flushes long before they could overflow).
    /// </summary>
    public static void AddRow(ulong rowKey, uint* replicaKeys, int stride, int* count, int* correct, bool ok, long* units, double rowUnits,
        long* nll, int nllMantissa, long* brier, int brierMantissa, int* tierCount, int* tierCorrect)
    {
        int w = Vector256<uint>.Count;
        var low = Vector256.Create((uint)rowKey);
        var high = Vector256.Create((uint)(rowKey >> 32));
        var rowUnitsVector = Vector256.Create(rowUnits);
        // an integer-valued double x in [0, 2^52) has the bits of x + 2^52 minus those of 2^52
        var magic = Vector256.Create(4503599627370496.0);
        fixed (uint* thresholds = PoissonWeights.Thresholds)
        {
            for (int r = 0; r < stride; r += w)
            {
                var u = Hash((low ^ Vector256.Load(replicaKeys + r)) + high);
                var weight = Weight(u, thresholds);
                (Vector256.Load(count + r) + weight).Store(count + r);
                (Vector256.Load(tierCount + r) + weight).Store(tierCount + r);
                if (ok)
                {
                    (Vector256.Load(correct + r) + weight).Store(correct + r);
                    (Vector256.Load(tierCorrect + r) + weight).Store(tierCorrect + r);
                }
                // weight · units is exact in float64 (at most 9 · 2^40)
                var (floatLow, floatHigh) = Vector256.Widen(Vector256.ConvertToSingle(weight));
                Add(units + r,
                    (floatLow * rowUnitsVector + magic).AsInt64() - magic.AsInt64(),
                    (floatHigh * rowUnitsVector + magic).AsInt64() - magic.AsInt64());
                if (nll is null) continue;
                // weight · mantissa < 9 · 2^24 fits an int
                var (nllLow, nllHigh) = Vector256.Widen(weight * Vector256.Create(nllMantissa));
                Add(nll + r, nllLow, nllHigh);
                var (brierLow, brierHigh) = Vector256.Widen(weight * Vector256.Create(brierMantissa));
                Add(brier + r, brierLow, brierHigh);
            }
        }
    }

    /// <summary>
    /// The number of the 9 thresholds each lane's u reaches, without compare masks: u and the thresholds are below
    /// 2^31, so u − T is negative exactly when u &lt; T, and its sign, shifted down arithmetically, is −1 or 0.
    /// </summary>
    private static Vector256<int> Weight(Vector256<uint> hash, uint* t)
    {
        var u = Vector256.ShiftRightLogical(hash, 1).AsInt32();
        Vector256<int> Below(int k) => Vector256.ShiftRightArithmetic(u - Vector256.Create((int)t[k]), 31);
        var a = (Below(0) + Below(1)) + (Below(2) + Below(3));
        var b = (Below(4) + Below(5)) + (Below(6) + Below(7));
        return Vector256.Create(PoissonWeights.MaxWeight) + (a + b + Below(8));
    }

    private static void Add(long* at, Vector256<long> low, Vector256<long> high)
    {
        (Vector256.Load(at) + low).Store(at);
        (Vector256.Load(at + Vector256<long>.Count) + high).Store(at + Vector256<long>.Count);
    }

    /// <summary><see cref="PoissonWeights.Hash32"/> lane by lane.</summary>
    private static Vector256<uint> Hash(Vector256<uint> x)
    {
        x ^= Vector256.ShiftRightLogical(x, 16);
        x *= Vector256.Create(0x7feb352dU);
        x ^= Vector256.ShiftRightLogical(x, 15);
        x *= Vector256.Create(0x846ca68bU);
        return x ^ Vector256.ShiftRightLogical(x, 16);
    }
}
