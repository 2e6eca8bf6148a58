using System.Runtime.Intrinsics;
using FastCalib.Kernels.Internals;

namespace FastCalib;

/// <summary>
/// A block's rows in the order <see cref="ReplicaBinner"/> groups them: rows of one group share their bin slot,
/// threshold tier and correctness, so that within a group each replica's weight and weighted confidence units are
/// sums in registers, added to the tables once a group. Per row, in group order: the row key's halves
/// (<see cref="PoissonWeights.RowKey"/>), its confidence units, and its NLL and Brier terms as integers of the block's
/// windows split into a high part (units of 2^26) and a low part below 2^26 (zeros for rows whose terms are gathered
/// apart).
/// </summary>
internal unsafe struct ReplicaBlock
{
    public uint* KeyLow;
    public uint* KeyHigh;
    public double* Units;
    public double* NllHigh;
    public double* NllLow;
    public double* BrierHigh;
    public double* BrierLow;
    /// <summary>Per group: the end of its rows, its slot's offset in the bin tables and its tier's in the tier tables
    /// (index · stride), and whether its rows are correct.</summary>
    public int* GroupEnd;
    public int* GroupSlotAt;
    public int* GroupTierAt;
    public bool* GroupCorrect;
    public int Groups;
    public bool Scored;

    /// <summary>Rows a group holds at most: a replica's weighted units (below 9 · 2^40 a row) stay exact in float64.</summary>
    public const int MaxGroupRows = 512;
}

/// <summary>
/// Adds a block of rows to every bootstrap replica (the template of ReplicaSums128 and ReplicaSums512): for each vector
/// of replicas, each row's weights from <see cref="PoissonWeights"/>' hash, summed with its confidence units and score
/// parts in registers (all products and sums exact integers in float64), then added to the replicas' tables.
/// </summary>
[SimdWidthTemplate]
internal static unsafe class ReplicaSums256
{
    /// <summary>
    /// Adds the rows of <paramref name="block"/> to the replicas whose keys are <paramref name="replicaKeys"/>
    /// (<paramref name="stride"/> of them, a multiple of the lanes): weight and correct weight to the bin and tier
    /// tables, weighted confidence units to <paramref name="units"/>; the block's weighted score parts, per replica, are
    /// stored at <paramref name="scoreSums"/> + k · stride (k = 0..3: NLL high, NLL low, Brier high, Brier low) when the
    /// block is scored. Weights and correct weights are 32-bit (a row adds at most 9; the binner flushes long before
    /// they could overflow).
    /// </summary>
    public static void AddBlock(ReplicaBlock* block, uint* replicaKeys, int stride, int* count, int* correct, long* units,
        int* tierCount, int* tierCorrect, double* scoreSums)
    {
        int w = Vector256<uint>.Count, h = Vector256<double>.Count;
        bool scored = block->Scored;
        fixed (uint* thresholds = PoissonWeights.Thresholds)
        {
            for (int r = 0; r < stride; r += w)
            {
                var replicaKey = Vector256.Load(replicaKeys + r);
                Vector256<double> nllHighA = default, nllHighB = default, nllLowA = default, nllLowB = default;
                Vector256<double> brierHighA = default, brierHighB = default, brierLowA = default, brierLowB = default;
                int i = 0;
                // each row's weights are drawn one row ahead of their use (the block's arrays have one more entry), so
                // that the long hash-to-sum chain of one row overlaps the sums of the row before it
                var next = Weight(Hash((Vector256.Create(block->KeyLow[0]) ^ replicaKey) + Vector256.Create(block->KeyHigh[0])), thresholds);
                for (int g = 0; g < block->Groups; g++)
                {
                    var weight = Vector256<int>.Zero;
                    Vector256<double> unitsA = default, unitsB = default;
                    for (int end = block->GroupEnd[g]; i < end; i++)
                    {
                        var rowWeight = next;
                        next = Weight(Hash((Vector256.Create(block->KeyLow[i + 1]) ^ replicaKey) + Vector256.Create(block->KeyHigh[i + 1])), thresholds);
                        weight += rowWeight;
                        var (a, b) = SimdMath256.WidenToDouble(rowWeight);
                        var rowUnits = Vector256.Create(block->Units[i]);
                        unitsA = Vector256.FusedMultiplyAdd(a, rowUnits, unitsA);
                        unitsB = Vector256.FusedMultiplyAdd(b, rowUnits, unitsB);
                        if (!scored) continue;
                        var part = Vector256.Create(block->NllHigh[i]);
                        nllHighA = Vector256.FusedMultiplyAdd(a, part, nllHighA);
                        nllHighB = Vector256.FusedMultiplyAdd(b, part, nllHighB);
                        part = Vector256.Create(block->NllLow[i]);
                        nllLowA = Vector256.FusedMultiplyAdd(a, part, nllLowA);
                        nllLowB = Vector256.FusedMultiplyAdd(b, part, nllLowB);
                        part = Vector256.Create(block->BrierHigh[i]);
                        brierHighA = Vector256.FusedMultiplyAdd(a, part, brierHighA);
                        brierHighB = Vector256.FusedMultiplyAdd(b, part, brierHighB);
                        part = Vector256.Create(block->BrierLow[i]);
                        brierLowA = Vector256.FusedMultiplyAdd(a, part, brierLowA);
                        brierLowB = Vector256.FusedMultiplyAdd(b, part, brierLowB);
                    }
                    int slotAt = block->GroupSlotAt[g] + r, tierAt = block->GroupTierAt[g] + r;
                    Add(count + slotAt, weight);
                    Add(tierCount + tierAt, weight);
                    if (block->GroupCorrect[g])
                    {
                        Add(correct + slotAt, weight);
                        Add(tierCorrect + tierAt, weight);
                    }
                    Add(units + slotAt, Vector256.ConvertToInt64(unitsA));
                    Add(units + slotAt + h, Vector256.ConvertToInt64(unitsB));
                }
                if (!scored) continue;
                nllHighA.Store(scoreSums + r);
                nllHighB.Store(scoreSums + r + h);
                nllLowA.Store(scoreSums + stride + r);
                nllLowB.Store(scoreSums + stride + r + h);
                brierHighA.Store(scoreSums + 2 * stride + r);
                brierHighB.Store(scoreSums + 2 * stride + r + h);
                brierLowA.Store(scoreSums + 3 * stride + r);
                brierLowB.Store(scoreSums + 3 * stride + r + h);
            }
        }
    }

    /// <summary>
    /// Adds one row's NLL and Brier terms, weighted, to every replica's buckets (<paramref name="nll"/> and
    /// <paramref name="brier"/> point at the terms' buckets, the terms' mantissas beside them): the path of terms
    /// outside a block's window (infinities, terms far below the block's largest).
    /// </summary>
    public static void AddScores(ulong rowKey, uint* replicaKeys, int stride, long* nll, int nllMantissa, long* brier, int brierMantissa)
    {
        int w = Vector256<uint>.Count;
        var low = Vector256.Create((uint)rowKey);
        var high = Vector256.Create((uint)(rowKey >> 32));
        fixed (uint* thresholds = PoissonWeights.Thresholds)
        {
            for (int r = 0; r < stride; r += w)
            {
                var weight = Weight(Hash((low ^ Vector256.Load(replicaKeys + r)) + high), thresholds);
                // weight · mantissa < 9 · 2^24 fits an int
                var (nllLow, nllHigh) = Vector256.Widen(weight * Vector256.Create(nllMantissa));
                Add(nll + r, nllLow);
                Add(nll + r + w / 2, nllHigh);
                var (brierLow, brierHigh) = Vector256.Widen(weight * Vector256.Create(brierMantissa));
                Add(brier + r, brierLow);
                Add(brier + r + w / 2, brierHigh);
            }
        }
    }

    /// <summary>
    /// The number of the 9 thresholds each lane's u (the hash's top 31 bits) reaches, counted by compares (a masked add
    /// each under AVX-512). The last five thresholds (P(X ≤ 4) and above) are tested only when a lane reaches the
    /// fifth, which a vector of 16 lanes does about once in 17 rows.
    /// </summary>
    private static Vector256<int> Weight(Vector256<uint> hash, uint* t)
    {
        var u = Vector256.ShiftRightLogical(hash, 1).AsInt32();
        var one = Vector256<int>.One;
        Vector256<int> Count(Vector256<int> weight, int k) => Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(u, Vector256.Create((int)t[k])), weight + one, weight);
        var weight = Count(Count(Count(Count(Vector256<int>.Zero, 0), 1), 2), 3);
        if (Vector256.GreaterThanOrEqualAny(u, Vector256.Create((int)t[4])))
            weight = Count(Count(Count(Count(Count(weight, 4), 5), 6), 7), 8);
        return weight;
    }

    private static void Add(int* at, Vector256<int> value) => (Vector256.Load(at) + value).Store(at);

    private static void Add(long* at, Vector256<long> value) => (Vector256.Load(at) + value).Store(at);

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
