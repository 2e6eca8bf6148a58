using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using FastCalib.Kernels.Internals;

namespace FastCalib;

/// <summary>
/// The vector half of one pass of <see cref="AffineScaling"/> (the template of AffinePass128 and AffinePass512): rows
/// go through column-major tiles of one row per lane, so that a [1,000,000 x 10] matrix runs as full vectors. Per
/// tile: the inputs x (logits, or their log-softmax), the scaled logits s = A x + b (A diagonal for vector scaling),
/// the softmax p, the NLL ln Σe^s − s_y, the residual r = p − onehot(y), and the lane sums the fit needs: Σ NLL,
/// the gradient (Σ r xᵀ or Σ r ⊙ x, and Σ r) and, for vector scaling, the pieces of the exact Hessian (see
/// <see cref="AffineLayout"/>). Lanes past the last row are masked out.
/// </summary>
[SimdWidthTemplate]
internal static unsafe class AffinePass256
{
    /// <summary>
    /// Adds the lane sums of rows [0, <paramref name="rows"/>) of <paramref name="z"/> into <paramref name="acc"/>
    /// (<see cref="AffineLayout.Slots"/> vectors), in float32 lanes; the caller flushes them to float64 often enough
    /// (<see cref="AffineLayout.TilesPerFlush"/>). <paramref name="scratch"/> holds <see cref="AffineLayout.ScratchFloats"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Tile(float* z, int* y, int rows, long available, in AffineLayout layout, float* parameters, float* acc, float* scratch)
    {
        int lanes = Vector256<float>.Count, c = layout.Classes;
        float* x = scratch, s = scratch + c * lanes, q = s + c * lanes;
        SimdMath256.LoadTile(z, c, rows, available, x);
        var mask = SimdMath256.FirstLanes(rows) & Vector256<float>.One;
        var label = SimdMath256.LoadRows(y, rows);
        if (layout.LogSoftmaxInput)
        {
            var top = Vector256.Load(x);
            for (int j = 1; j < c; j++) top = Vector256.Max(top, Vector256.Load(x + j * lanes));
            var total = Vector256<float>.Zero;
            for (int j = 0; j < c; j++) total += SimdMath256.Exp(Vector256.Load(x + j * lanes) - top);
            var shift = top + SimdMath256.Log(total);
            for (int j = 0; j < c; j++) (Vector256.Load(x + j * lanes) - shift).Store(x + j * lanes);
        }

        float* bias = parameters + (layout.Full ? c * c : c);
        var max = Vector256.Create(float.NegativeInfinity);
        var atLabel = Vector256<float>.Zero;
        for (int i = 0; i < c; i++)
        {
            Vector256<float> si;
            if (layout.Full)
            {
                si = Vector256.Create(bias[i]);
                float* row = parameters + i * c;
                for (int j = 0; j < c; j++) si = Vector256.FusedMultiplyAdd(Vector256.Create(row[j]), Vector256.Load(x + j * lanes), si);
            }
            else
            {
                si = Vector256.FusedMultiplyAdd(Vector256.Create(parameters[i]), Vector256.Load(x + i * lanes), Vector256.Create(bias[i]));
            }
            si.Store(s + i * lanes);
            max = Vector256.Max(max, si);
            atLabel += Vector256.ConditionalSelect(Vector256.Equals(label, Vector256.Create(i)).AsSingle(), si, Vector256<float>.Zero);
        }
        var sum = Vector256<float>.Zero;
        for (int i = 0; i < c; i++)
        {
            var e = SimdMath256.Exp(Vector256.Load(s + i * lanes) - max);
            e.Store(s + i * lanes);
            sum += e;
        }
        var scale = mask / sum;
        Add(acc, mask * (SimdMath256.Log(sum) + max - atLabel));

        float* gradient = acc + lanes;
        float* gradientBias = gradient + (layout.Full ? c * c : c) * lanes;
        for (int i = 0; i < c; i++)
        {
            var p = Vector256.Load(s + i * lanes) * scale;
            var r = p - (Vector256.Equals(label, Vector256.Create(i)).AsSingle() & mask);
            Add(gradientBias + i * lanes, r);
            if (layout.Full)
            {
                float* gi = gradient + i * c * lanes;
                for (int j = 0; j < c; j++) Add(gi + j * lanes, r * Vector256.Load(x + j * lanes));
            }
            else
            {
                var xi = Vector256.Load(x + i * lanes);
                Add(gradient + i * lanes, r * xi);
                if (layout.Hessian)
                {
                    var px = p * xi;
                    float* d = acc + layout.DiagonalSlot * lanes;
                    Add(d + i * lanes, px * xi);
                    Add(d + (c + i) * lanes, px);
                    Add(d + (2 * c + i) * lanes, p);
                    if (layout.Exact)
                    {
                        px.Store(q + i * lanes);
                        p.Store(q + (c + i) * lanes);
                    }
                    else
                    {
                        // each class's 2 x 2 Hessian block directly, p (1 − p) · (x², x, 1): no cancellation
                        float* block = acc + layout.OuterSlot * lanes;
                        var spread = p * (Vector256<float>.One - p);
                        Add(block + i * lanes, spread * xi * xi);
                        Add(block + (c + i) * lanes, spread * xi);
                        Add(block + (2 * c + i) * lanes, spread);
                    }
                }
            }
        }
        if (!layout.Exact) return;
        // the rank-one part Σ q qᵀ of the Hessian, q = [p ⊙ x, p], upper triangle row by row
        float* outer = acc + layout.OuterSlot * lanes;
        int n = 2 * c;
        for (int a = 0; a < n; a++)
        {
            var qa = Vector256.Load(q + a * lanes);
            for (int b = a; b < n; b++, outer += lanes) Add(outer, qa * Vector256.Load(q + b * lanes));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Add(float* slot, Vector256<float> v) => (Vector256.Load(slot) + v).Store(slot);
}
