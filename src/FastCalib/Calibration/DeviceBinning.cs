using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Binning of per-row calibration results on the device, so that only a few numbers per bin come back: each thread
/// group keeps its histogram in shared memory (atomic adds), and at the end adds it to the global one. Counts and
/// confidence sums are integers (confidences in units of 2^-40, as on the host), and the NLL and Brier terms are
/// gathered by exponent into integer buckets as on the host (<see cref="ExactSum"/>), so the result does not depend
/// on the order of the atomic adds and equals the host's bit for bit.
/// </summary>
internal static class DeviceBinning
{
    /// <summary>Most bin slots (bins + 1) and thresholds the shared-memory histogram holds; more fall back to host binning.</summary>
    public const int MaxSlots = 64;

    /// <inheritdoc cref="MaxSlots"/>
    public const int MaxThresholds = 16;

    /// <summary>Rows per launch, so that a bin's sum of 2^-40 units (at most 2^40 per row) stays below 2^63.</summary>
    public const int MaxRowsPerLaunch = 1 << 22;


    /// <summary>
    /// Bins rows [0, rows) of per-row results into <paramref name="state"/> (laid out by <paramref name="layout"/>) and
    /// <paramref name="scores"/> (the NLL terms' <see cref="ExactSum"/> buckets, then the Brier terms').
    /// <paramref name="invalid"/>[0] receives the smallest invalid row (confidence NaN or outside [0, 1], NaN score)
    /// and must start at int.MaxValue.
    /// </summary>
    [GpuKernelEntry]
    public static void Bin(ArrayView<float> confidence, ArrayView<float> correct, ArrayView<float> nll, ArrayView<float> brier,
        ArrayView<float> thresholds, ArrayView<long> state, ArrayView<long> scores, ArrayView<int> invalid, int rows, int bins, int rule, int scored,
        BinningLayout layout)
    {
        int slots = layout.Slots;
        int thresholdCount = layout.Thresholds;
        var sharedCount = SharedMemory.Allocate<long>(MaxSlots);
        var sharedRight = SharedMemory.Allocate<long>(MaxSlots);
        var sharedSum = SharedMemory.Allocate<long>(MaxSlots);
        var sharedAbove = SharedMemory.Allocate<long>(2 * MaxThresholds);
        var sharedScores = SharedMemory.Allocate<long>(2 * ExactSum.Buckets);
        for (int b = Group.IdxX; b < MaxSlots; b += Group.DimX)
        {
            sharedCount[b] = 0;
            sharedRight[b] = 0;
            sharedSum[b] = 0;
        }
        for (int t = Group.IdxX; t < 2 * MaxThresholds; t += Group.DimX) sharedAbove[t] = 0;
        for (int k = Group.IdxX; k < 2 * ExactSum.Buckets; k += Group.DimX) sharedScores[k] = 0;
        Group.Barrier();

        long right = 0, units = 0;
        int stride = Grid.DimX * Group.DimX;
        for (int i = Grid.GlobalIndex.X; i < rows; i += stride)
        {
            float c = confidence[i];
            bool bad = !(c >= 0f && c <= 1f) || (scored != 0 && (GpuMath.IsNaN(nll[i]) || GpuMath.IsNaN(brier[i])));
            if (bad)
            {
                Atomic.Min(ref invalid[0], i);
                continue;
            }
            long ok = correct[i] != 0f ? 1 : 0;
            long u = ConfidenceUnits.OfNonNegative(c);
            right += ok;
            units += u;
            int b = Binning.Of(c, bins, (BinningRule)rule);
            if (b >= 0)
            {
                Atomic.Add(ref sharedCount[b], 1L);
                Atomic.Add(ref sharedRight[b], ok);
                Atomic.Add(ref sharedSum[b], u);
            }
            for (int t = 0; t < thresholdCount; t++)
            {
                if (c >= thresholds[t])
                {
                    Atomic.Add(ref sharedAbove[2 * t], 1L);
                    Atomic.Add(ref sharedAbove[2 * t + 1], ok);
                }
            }
            if (scored != 0)
            {
                int l = (int)Interop.FloatAsInt(nll[i]), s = (int)Interop.FloatAsInt(brier[i]);
                Atomic.Add(ref sharedScores[(int)((uint)l >> 23)], (long)ExactSum.Mantissa(l));
                Atomic.Add(ref sharedScores[ExactSum.Buckets + (int)((uint)s >> 23)], (long)ExactSum.Mantissa(s));
            }
        }
        // group totals first: one global atomic per group, not per thread (same-address atomics serialise)
        right = GroupReduce.SumLong(right);
        units = GroupReduce.SumLong(units);
        if (Group.IdxX == 0)
        {
            Atomic.Add(ref state[layout.RowsCorrect], right);
            Atomic.Add(ref state[layout.UnitsTotal], units);
        }
        Group.Barrier();
        for (int b = Group.IdxX; b < slots; b += Group.DimX)
        {
            Atomic.Add(ref state[layout.Count(b)], sharedCount[b]);
            Atomic.Add(ref state[layout.Correct(b)], sharedRight[b]);
            Atomic.Add(ref state[layout.Units(b)], sharedSum[b]);
        }
        for (int t = Group.IdxX; t < thresholdCount; t += Group.DimX)
        {
            Atomic.Add(ref state[layout.AboveCount(t)], sharedAbove[2 * t]);
            Atomic.Add(ref state[layout.AboveCorrect(t)], sharedAbove[2 * t + 1]);
        }
        // scores span few exponents: most buckets stay empty and cost no global atomic
        for (int k = Group.IdxX; k < 2 * ExactSum.Buckets; k += Group.DimX)
        {
            long mantissas = sharedScores[k];
            if (mantissas != 0) Atomic.Add(ref scores[k], mantissas);
        }
    }

    /// <summary>Whether an accumulator's shape fits the device histogram.</summary>
    public static bool Fits(int slots, int thresholds) => slots <= MaxSlots && thresholds <= MaxThresholds;

    /// <summary>The launch shape: groups of the accumulator's preferred size, a few per multiprocessor.</summary>
    public static KernelConfig Shape(Accelerator accelerator, long rows)
    {
        int group = Math.Min(accelerator.MaxNumThreadsPerGroup, 256);
        long groups = Math.Clamp((rows + group - 1) / group, 1, Math.Max(1, accelerator.NumMultiprocessors) * 8L);
        return new KernelConfig((int)groups, group);
    }
}

/// <summary>
/// Where each number of the device binning state lives (one array of 64-bit integers): per slot the count, the correct
/// count and the confidence units; the correct rows and the confidence units of all rows; per threshold the count and
/// the correct count at or above it. The kernel writes by it and <see cref="Decode"/> reads by it.
/// </summary>
internal readonly struct BinningLayout(int slots, int thresholds)
{
    public int Slots { get; } = slots;

    public int Thresholds { get; } = thresholds;

    public int Length => 3 * Slots + 2 + 2 * Thresholds;

    public int Count(int slot) => slot;

    public int Correct(int slot) => Slots + slot;

    public int Units(int slot) => 2 * Slots + slot;

    public int RowsCorrect => 3 * Slots;

    public int UnitsTotal => 3 * Slots + 1;

    public int AboveCount(int threshold) => 3 * Slots + 2 + 2 * threshold;

    public int AboveCorrect(int threshold) => 3 * Slots + 3 + 2 * threshold;

    /// <summary>Adds a state of <paramref name="rows"/> binned rows to <paramref name="into"/>.</summary>
    public void Decode(ReadOnlySpan<long> state, long rows, CalibrationTotals into)
    {
        for (int b = 0; b < Slots; b++)
        {
            into.Count[b] += state[Count(b)];
            into.Correct[b] += state[Correct(b)];
            into.Units[b] += state[Units(b)];
        }
        for (int t = 0; t < Thresholds; t++)
        {
            into.AboveCount[t] += state[AboveCount(t)];
            into.AboveCorrect[t] += state[AboveCorrect(t)];
        }
        into.Rows += rows;
        into.RowsCorrect += state[RowsCorrect];
        into.UnitsTotal += state[UnitsTotal];
    }
}
