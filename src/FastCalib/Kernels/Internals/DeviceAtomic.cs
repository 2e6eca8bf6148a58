using System.ComponentModel;
using ILGPU;

namespace FastCalib.Kernels.Internals;

/// <summary>Atomic float64 adds for kernels that terminate whatever the values are, NaN and infinities included.</summary>
/// <remarks>
/// <para>ILGPU's <c>Atomic.Add</c> on float64 runs, on its CPU accelerator, as a compare-exchange loop that tests
/// whether the exchange took by comparing values with <c>==</c>. Once the target holds NaN (a NaN row's total, or
/// +∞ + −∞), NaN ≠ NaN and the loop never ends: the kernel hangs. This loop compares bit patterns instead, as CUDA's
/// software float64 add does, so it ends for every value. Its cost is one compare-exchange per try; kernels call it
/// once per group.</para>
/// <para>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class DeviceAtomic
{
    /// <summary>Adds <paramref name="value"/> to <paramref name="target"/> atomically.</summary>
    public static void Add(ref double target, double value)
    {
        double expected = target;
        while (true)
        {
            double seen = Atomic.CompareExchange(ref target, expected, expected + value);
            if (Interop.FloatAsInt(seen) == Interop.FloatAsInt(expected)) return;
            expected = seen;
        }
    }
}
