using System.ComponentModel;
using ILGPU;

namespace FastCalib.Kernels;

/// <summary>
/// Reductions across one ILGPU thread group, used by generated kernels; every thread of the group gets the result.
/// A warp reduces with a butterfly of shuffles; the warps' partial results meet in shared memory and every warp
/// reduces them again, so no broadcast step is needed. Requires at most as many warps per group as lanes per warp
/// (true for CUDA's 1024/32 and ILGPU's CPU accelerator's 16/4). All threads of the group must call it.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public static class GroupReduce
{
    /// <summary>Sum over the group.</summary>
    public static float Sum(float value)
    {
        value = WarpSum(value);
        int warps = Group.DimX / Warp.WarpSize;
        if (warps == 1) return value;
        var shared = SharedMemory.Allocate<float>(32);
        if (Warp.LaneIdx == 0) shared[Warp.WarpIdx] = value;
        Group.Barrier();
        float partial = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : 0f;
        Group.Barrier();
        return WarpSum(partial);
    }

    /// <summary>Sum over the group in float64.</summary>
    public static double SumDouble(double value)
    {
        value = WarpSumDouble(value);
        int warps = Group.DimX / Warp.WarpSize;
        if (warps == 1) return value;
        var shared = SharedMemory.Allocate<double>(32);
        if (Warp.LaneIdx == 0) shared[Warp.WarpIdx] = value;
        Group.Barrier();
        double partial = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : 0.0;
        Group.Barrier();
        return WarpSumDouble(partial);
    }

    /// <summary>Maximum over the group, NaN if any thread holds NaN.</summary>
    public static float Max(float value)
    {
        value = WarpMax(value);
        int warps = Group.DimX / Warp.WarpSize;
        if (warps == 1) return value;
        var shared = SharedMemory.Allocate<float>(32);
        if (Warp.LaneIdx == 0) shared[Warp.WarpIdx] = value;
        Group.Barrier();
        float partial = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : float.NegativeInfinity;
        Group.Barrier();
        return WarpMax(partial);
    }

    /// <summary>Minimum over the group, NaN if any thread holds NaN.</summary>
    public static float Min(float value)
    {
        value = WarpMin(value);
        int warps = Group.DimX / Warp.WarpSize;
        if (warps == 1) return value;
        var shared = SharedMemory.Allocate<float>(32);
        if (Warp.LaneIdx == 0) shared[Warp.WarpIdx] = value;
        Group.Barrier();
        float partial = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : float.PositiveInfinity;
        Group.Barrier();
        return WarpMin(partial);
    }

    /// <summary>
    /// The first maximum over the group: each thread brings its own best (value, index); the result is the index
    /// with the greatest value (NaN greatest), the smallest index among equals.
    /// </summary>
    public static int ArgMax(float value, int index)
    {
        WarpArgMax(ref value, ref index);
        int warps = Group.DimX / Warp.WarpSize;
        if (warps == 1) return index;
        var sharedValue = SharedMemory.Allocate<float>(32);
        var sharedIndex = SharedMemory.Allocate<int>(32);
        if (Warp.LaneIdx == 0)
        {
            sharedValue[Warp.WarpIdx] = value;
            sharedIndex[Warp.WarpIdx] = index;
        }
        Group.Barrier();
        bool active = Warp.LaneIdx < warps;
        value = active ? sharedValue[Warp.LaneIdx] : float.NegativeInfinity;
        index = active ? sharedIndex[Warp.LaneIdx] : int.MaxValue;
        Group.Barrier();
        WarpArgMax(ref value, ref index);
        return index;
    }

    /// <summary>Whether (value, index) beats (bestValue, bestIndex) under the first-maximum rule.</summary>
    public static bool Beats(float value, int index, float bestValue, int bestIndex)
    {
        bool vNaN = GpuMath.IsNaN(value), bNaN = GpuMath.IsNaN(bestValue);
        bool equal = value == bestValue || (vNaN && bNaN);
        return value > bestValue || (vNaN && !bNaN) || (equal && index < bestIndex);
    }

    private static float WarpSum(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1) value += Warp.ShuffleXor(value, offset);
        return value;
    }

    private static double WarpSumDouble(double value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1) value += Warp.ShuffleXor(value, offset);
        return value;
    }

    private static float WarpMax(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1) value = GpuMath.Max(value, Warp.ShuffleXor(value, offset));
        return value;
    }

    private static float WarpMin(float value)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1) value = GpuMath.Min(value, Warp.ShuffleXor(value, offset));
        return value;
    }

    private static void WarpArgMax(ref float value, ref int index)
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1)
        {
            float otherValue = Warp.ShuffleXor(value, offset);
            int otherIndex = Warp.ShuffleXor(index, offset);
            if (Beats(otherValue, otherIndex, value, index))
            {
                value = otherValue;
                index = otherIndex;
            }
        }
    }
}
