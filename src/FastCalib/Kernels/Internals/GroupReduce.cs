using System.ComponentModel;
using ILGPU;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Reductions across one ILGPU thread group, used by generated kernels; every thread of the group gets the result.
/// A warp reduces with a butterfly of shuffles; the warps' partial results meet in shared memory and every warp
/// reduces them again, so no broadcast step is needed. Requires at most as many warps per group as lanes per warp
/// (true for CUDA's 1024/32 and ILGPU's CPU accelerator's 16/4). All threads of the group must call it.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class GroupReduce
{
    /// <summary>An associative operation with its identity, for <see cref="AllReduce{T, TOp}"/>.</summary>
    public interface IOperation<T>
        where T : unmanaged
    {
        /// <summary>The value that leaves any other unchanged.</summary>
        static abstract T Identity { get; }

        /// <summary>Combines two values.</summary>
        static abstract T Apply(T a, T b);
    }

    /// <summary>Float sum.</summary>
    public readonly struct Add : IOperation<float>
    {
        /// <inheritdoc/>
        public static float Identity => 0f;

        /// <inheritdoc/>
        public static float Apply(float a, float b) => a + b;
    }

    /// <summary>Float64 sum.</summary>
    public readonly struct AddDouble : IOperation<double>
    {
        /// <inheritdoc/>
        public static double Identity => 0.0;

        /// <inheritdoc/>
        public static double Apply(double a, double b) => a + b;
    }

    /// <summary>64-bit integer sum.</summary>
    public readonly struct AddLong : IOperation<long>
    {
        /// <inheritdoc/>
        public static long Identity => 0L;

        /// <inheritdoc/>
        public static long Apply(long a, long b) => a + b;
    }

    /// <summary>Maximum, NaN if either is NaN.</summary>
    public readonly struct Maximum : IOperation<float>
    {
        /// <inheritdoc/>
        public static float Identity => float.NegativeInfinity;

        /// <inheritdoc/>
        public static float Apply(float a, float b) => GpuMath.Max(a, b);
    }

    /// <summary>Minimum, NaN if either is NaN.</summary>
    public readonly struct Minimum : IOperation<float>
    {
        /// <inheritdoc/>
        public static float Identity => float.PositiveInfinity;

        /// <inheritdoc/>
        public static float Apply(float a, float b) => GpuMath.Min(a, b);
    }

    /// <summary>Sum over the group.</summary>
    public static float Sum(float value) => AllReduce<float, Add>(value);

    /// <summary>Sum over the group in float64.</summary>
    public static double SumDouble(double value) => AllReduce<double, AddDouble>(value);

    /// <summary>64-bit integer sum over the group.</summary>
    public static long SumLong(long value) => AllReduce<long, AddLong>(value);

    /// <summary>Maximum over the group, NaN if any thread holds NaN.</summary>
    public static float Max(float value) => AllReduce<float, Maximum>(value);

    /// <summary>Minimum over the group, NaN if any thread holds NaN.</summary>
    public static float Min(float value) => AllReduce<float, Minimum>(value);

    /// <summary>
    /// Sum over a team: the <paramref name="team"/> lanes (a power of two up to the warp size, aligned) that share a
    /// row in kernels giving each row a team of lanes; every lane of the team gets it. All lanes of the warp must call.
    /// </summary>
    public static float TeamSum(float value, int team) => TeamReduce<float, Add>(value, team);

    /// <summary>Maximum over a team (see <see cref="TeamSum"/>), NaN if any lane holds NaN.</summary>
    public static float TeamMax(float value, int team) => TeamReduce<float, Maximum>(value, team);

    /// <summary>Minimum over a team (see <see cref="TeamSum"/>), NaN if any lane holds NaN.</summary>
    public static float TeamMin(float value, int team) => TeamReduce<float, Minimum>(value, team);

    /// <summary>The first maximum over a team (see <see cref="ArgMax"/> and <see cref="TeamSum"/>).</summary>
    public static int TeamArgMax(float value, int index, int team)
    {
        for (int offset = team / 2; offset > 0; offset >>= 1)
        {
            float otherValue = Warp.ShuffleXor(value, offset);
            int otherIndex = Warp.ShuffleXor(index, offset);
            if (Beats(otherValue, otherIndex, value, index))
            {
                value = otherValue;
                index = otherIndex;
            }
        }
        return index;
    }

    private static T TeamReduce<T, TOp>(T value, int team)
        where T : unmanaged
        where TOp : struct, IOperation<T>
    {
        // xor with offsets below the team size stays within an aligned team
        for (int offset = team / 2; offset > 0; offset >>= 1) value = TOp.Apply(value, Warp.ShuffleXor(value, offset));
        return value;
    }

    /// <summary>Combines every thread's value with <typeparamref name="TOp"/>; all threads get the result.</summary>
    public static T AllReduce<T, TOp>(T value)
        where T : unmanaged
        where TOp : struct, IOperation<T>
    {
        value = WarpAllReduce<T, TOp>(value);
        int warps = Group.DimX / Warp.WarpSize;
        if (warps == 1) return value;
        var shared = SharedMemory.Allocate<T>(32);
        if (Warp.LaneIdx == 0) shared[Warp.WarpIdx] = value;
        Group.Barrier();
        T partial = Warp.LaneIdx < warps ? shared[Warp.LaneIdx] : TOp.Identity;
        Group.Barrier();
        return WarpAllReduce<T, TOp>(partial);
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

    private static T WarpAllReduce<T, TOp>(T value)
        where T : unmanaged
        where TOp : struct, IOperation<T>
    {
        for (int offset = Warp.WarpSize / 2; offset > 0; offset >>= 1) value = TOp.Apply(value, Warp.ShuffleXor(value, offset));
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
