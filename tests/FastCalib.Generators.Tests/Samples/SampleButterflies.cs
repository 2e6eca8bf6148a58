using System;
using System.Linq;
using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using FastCalib.Kernels;
using FastCalib.Kernels.Internals;

namespace Samples;

/// <summary>Butterflies for many radices (powers of two, odd primes, composites, a prime past the engine's 13) and wrappers that run one stage on each path.</summary>
[FftRadices(2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 16, 17, 32)]
public static partial class SampleButterflies
{
    public static int[] All() => Radices.ToArray();

    public static bool Has(int radix) => Supports(radix);

    public static void RunScalar(int p, float[] xr, float[] xi, float[] yr, float[] yi, int m, int s, float[] tw) =>
        Stage<ScalarLanes, float>(p, ref xr[0], ref xi[0], ref yr[0], ref yi[0], m, s, ref tw[0]);

    /// <summary>Lane l carries the input times (l + 1); returns the 8 lanes' outputs.</summary>
    public static (float[] Re, float[] Im)[] RunLanes256(int p, float[] xr, float[] xi, int m, int s, float[] tw)
    {
        var vr = xr.Select(v => Vector256.Create(v) * (Vector256<float>.Indices + Vector256<float>.One)).ToArray();
        var vi = xi.Select(v => Vector256.Create(v) * (Vector256<float>.Indices + Vector256<float>.One)).ToArray();
        var yr = new Vector256<float>[xr.Length];
        var yi = new Vector256<float>[xr.Length];
        Stage<Lanes256, Vector256<float>>(p, ref vr[0], ref vi[0], ref yr[0], ref yi[0], m, s, ref tw[0]);
        return Enumerable.Range(0, 8).Select(l => (yr.Select(v => v[l]).ToArray(), yi.Select(v => v[l]).ToArray())).ToArray();
    }

    public static void RunGpu(Accelerator accelerator, int p, float[] xr, float[] xi, float[] yr, float[] yi, int m, int s, float[] tw)
    {
        var kernel = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>(Kernel);
        using var dxr = accelerator.Allocate1D(xr);
        using var dxi = accelerator.Allocate1D(xi);
        using var dyr = accelerator.Allocate1D<float>(yr.Length);
        using var dyi = accelerator.Allocate1D<float>(yi.Length);
        using var dtw = accelerator.Allocate1D(tw);
        kernel(m * s, dxr.View, dxi.View, dyr.View, dyi.View, dtw.View, p, m, s);
        accelerator.Synchronize();
        dyr.View.CopyToCPU(yr);
        dyi.View.CopyToCPU(yi);
    }

    public static void Kernel(Index1D index, ArrayView<float> xr, ArrayView<float> xi, ArrayView<float> yr, ArrayView<float> yi, ArrayView<float> tw, int p, int m, int s) =>
        GpuButterfly(p, xr, xi, yr, yi, m, s, tw, index);
}
