using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FastCalib.Kernels;

namespace FastCalib.Fft;

/// <summary>
/// Forward complex DFTs of a batch of sequences stored as lane values (<typeparamref name="T"/>, see
/// <see cref="ILanes{TValue}"/>), written once for the scalar path and every SIMD width.
/// </summary>
/// <remarks>
/// Data are split into real and imaginary arrays of n·block values: element k of sequence b sits at k·block + b, so a
/// batch of sequences is one Stockham run with initial stride <c>block</c> (the stride loop of every stage walks the
/// batch contiguously).
/// </remarks>
internal static class FftEngine<TL, T>
    where TL : struct, ILanes<T>
    where T : struct
{
    /// <summary>
    /// Transforms <c>block</c> sequences of length <c>plan.Length</c> in place. <paramref name="workRe"/> and
    /// <paramref name="workIm"/> hold at least <c>plan.WorkLength · block</c> values each; their contents are destroyed.
    /// </summary>
    public static void Forward(FftPlan plan, Span<T> re, Span<T> im, Span<T> workRe, Span<T> workIm, int block)
    {
        if (plan.Bluestein is { } bluestein)
            ForwardBluestein(bluestein, plan.Length, re, im, workRe, workIm, block);
        else
            ForwardStockham(plan, re, im, workRe, workIm, block);
    }

    private static void ForwardStockham(FftPlan plan, Span<T> re, Span<T> im, Span<T> workRe, Span<T> workIm, int block)
    {
        int n = plan.Length, s = block, count = n * block;
        ref T xr = ref MemoryMarshal.GetReference(re), xi = ref MemoryMarshal.GetReference(im);
        ref T yr = ref MemoryMarshal.GetReference(workRe), yi = ref MemoryMarshal.GetReference(workIm);
        bool inWork = false;
        for (int i = 0; i < plan.Radices.Length; i++)
        {
            int p = plan.Radices[i], m = n / p;
            ref float twiddles = ref plan.Twiddles[plan.StageTwiddles[i]];
            if (inWork)
                Butterflies.Stage<TL, T>(p, ref yr, ref yi, ref xr, ref xi, m, s, ref twiddles);
            else
                Butterflies.Stage<TL, T>(p, ref xr, ref xi, ref yr, ref yi, m, s, ref twiddles);
            inWork = !inWork;
            n = m;
            s *= p;
        }
        if (inWork)
        {
            workRe[..count].CopyTo(re);
            workIm[..count].CopyTo(im);
        }
    }

    /// <summary>See <see cref="BluesteinPlan"/>; the workspace holds the padded sequence a (M·block) and the inner FFT's ping-pong.</summary>
    private static void ForwardBluestein(BluesteinPlan plan, int n, Span<T> re, Span<T> im, Span<T> workRe, Span<T> workIm, int block)
    {
        int m = plan.Inner.Length, padded = m * block;
        Span<T> aRe = workRe[..padded], aIm = workIm[..padded];
        Span<T> innerRe = workRe.Slice(padded, padded), innerIm = workIm.Slice(padded, padded);

        // a_j = x_j w_j, zero-padded to M
        for (int j = 0; j < n; j++)
        {
            float wr = plan.ChirpRe[j], wi = plan.ChirpIm[j];
            for (int b = j * block, end = b + block; b < end; b++)
            {
                T xr = re[b], xi = im[b];
                aRe[b] = TL.Subtract(TL.Scale(xr, wr), TL.Scale(xi, wi));
                aIm[b] = TL.Add(TL.Scale(xr, wi), TL.Scale(xi, wr));
            }
        }
        aRe[(n * block)..].Clear();
        aIm[(n * block)..].Clear();

        ForwardStockham(plan.Inner, aRe, aIm, innerRe, innerIm, block);

        // conj(A_k F_k): the inverse FFT as conj(FFT(conj(·))), F already divided by M
        for (int k = 0; k < m; k++)
        {
            float fr = plan.FilterRe[k], fi = plan.FilterIm[k];
            for (int b = k * block, end = b + block; b < end; b++)
            {
                T ar = aRe[b], ai = aIm[b];
                aRe[b] = TL.Subtract(TL.Scale(ar, fr), TL.Scale(ai, fi));
                aIm[b] = TL.Subtract(TL.Constant(0f), TL.Add(TL.Scale(ar, fi), TL.Scale(ai, fr)));
            }
        }

        ForwardStockham(plan.Inner, aRe, aIm, innerRe, innerIm, block);

        // X_k = w_k conj(a_k)
        for (int k = 0; k < n; k++)
        {
            float wr = plan.ChirpRe[k], wi = plan.ChirpIm[k];
            for (int b = k * block, end = b + block; b < end; b++)
            {
                T ar = aRe[b], ai = aIm[b];
                re[b] = TL.Add(TL.Scale(ar, wr), TL.Scale(ai, wi));
                im[b] = TL.Subtract(TL.Scale(ar, wi), TL.Scale(ai, wr));
            }
        }
    }
}
