using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FastCalib.Kernels;

namespace FastCalib.Fft;

/// <summary>What happens to the magnitude spectrum before it is written (the validated public options).</summary>
internal readonly record struct SpectrumOptions(bool Shift, bool Log1p, bool Standardize, float Clip, bool Half);

/// <summary>
/// The CPU path of the magnitude features: <typeparamref name="TL"/>.Count images at a time, one image per lane,
/// through the row FFTs, the Hermitian split, the column FFTs, the magnitude and the options, in buffers that stay
/// in cache; nothing complex is written to the output.
/// </summary>
internal static unsafe class SpectrumKernel<TL, T>
    where TL : struct, ILanes<T>
    where T : unmanaged
{
    /// <summary>Relative spread below which a spectrum counts as constant (see <see cref="Moments"/>).</summary>
    public const float ConstantSpread = 1e-5f;

    /// <summary>Per-thread buffers for one group of images.</summary>
    public sealed class Workspace(SpectrumPlan plan)
    {
        public readonly T[] ZRe = new T[plan.ZLength], ZIm = new T[plan.ZLength];
        public readonly T[] SRe = new T[plan.SpectrumLength], SIm = new T[plan.SpectrumLength];
        public readonly T[] WorkRe = new T[plan.WorkLength], WorkIm = new T[plan.WorkLength];
        /// <summary>One output row of lane values, and the per-lane mean and 1/deviation.</summary>
        public readonly T[] Row = new T[plan.OutputWidth], Moments = new T[2];
    }

    /// <summary>Whether image rows move in and out of lanes by 8x8 register transposes (else element by element).</summary>
    private static bool Transposes(int count, int cols) => Avx.IsSupported && TL.Count % 8 == 0 && count == TL.Count && cols >= 8;

    /// <summary>
    /// Features of <paramref name="count"/> ≤ lanes images starting at <paramref name="images"/> (each H·W floats,
    /// consecutive) into <paramref name="features"/> (each H·OutputWidth floats, consecutive).
    /// </summary>
    public static void Group(SpectrumPlan plan, SpectrumOptions options, float* images, float* features, int count, Workspace ws)
    {
        int height = plan.Height, width = plan.Width, pairs = plan.Pairs, halfWidth = plan.HalfWidth;
        Load(plan, images, count, ws);
        FftEngine<TL, T>.Forward(plan.Rows, ws.ZRe, ws.ZIm, ws.WorkRe, ws.WorkIm, block: pairs);

        // Hermitian split of each row pair into two half-spectrum rows
        Span<T> zr = ws.ZRe, zi = ws.ZIm, sr = ws.SRe, si = ws.SIm;
        for (int k = 0; k < halfWidth; k++)
        {
            int at = k * pairs, mirror = (width - k) % width * pairs;
            for (int r = 0; r < pairs; r++)
            {
                T ar = zr[at + r], ai = zi[at + r], br = zr[mirror + r], bi = zi[mirror + r];
                int even = 2 * r * halfWidth + k;
                sr[even] = TL.Scale(TL.Add(ar, br), 0.5f);
                si[even] = TL.Scale(TL.Subtract(ai, bi), 0.5f);
                if (2 * r + 1 < height)
                {
                    sr[even + halfWidth] = TL.Scale(TL.Add(ai, bi), 0.5f);
                    si[even + halfWidth] = TL.Scale(TL.Subtract(br, ar), 0.5f);
                }
            }
        }

        FftEngine<TL, T>.Forward(plan.Columns, ws.SRe, ws.SIm, ws.WorkRe, ws.WorkIm, block: halfWidth);

        // magnitude (and log1p) in place of the real part
        for (int i = 0; i < sr.Length; i++)
        {
            T re = sr[i], im = si[i];
            T magnitude = TL.Sqrt(TL.Add(TL.Multiply(re, re), TL.Multiply(im, im)));
            sr[i] = options.Log1p ? TL.Log1p(magnitude) : magnitude;
        }

        if (options.Standardize) Moments(plan, sr, ws.Moments);
        Store(plan, options, ws, features, count);
    }

    /// <summary>Image rows 2r and 2r + 1 into z's real and imaginary parts at z[w · pairs + r], one image per lane.</summary>
    private static void Load(SpectrumPlan plan, float* images, int count, Workspace ws)
    {
        int lanes = TL.Count, height = plan.Height, width = plan.Width, pairs = plan.Pairs;
        long pixels = (long)height * width, columnStride = (long)pairs * lanes;
        fixed (T* zr = ws.ZRe, zi = ws.ZIm)
        {
            float* re = (float*)zr, im = (float*)zi;
            if (!Transposes(count, width))
            {
                // empty lanes and the partner of a last odd row are zeros
                new Span<float>(re, ws.ZRe.Length * lanes).Clear();
                new Span<float>(im, ws.ZIm.Length * lanes).Clear();
            }
            for (int r = 0; r < pairs; r++)
            {
                float* even = images + 2 * r * width;
                bool hasOdd = 2 * r + 1 < height;
                if (Transposes(count, width))
                {
                    for (int l = 0; l < lanes; l += 8)
                    {
                        TileTranspose.Load8(even + l * pixels, pixels, width, re + r * lanes + l, columnStride);
                        if (hasOdd) TileTranspose.Load8(even + l * pixels + width, pixels, width, im + r * lanes + l, columnStride);
                        else for (int w = 0; w < width; w++) new Span<float>(im + w * columnStride + r * lanes + l, 8).Clear();
                    }
                    continue;
                }
                for (int l = 0; l < count; l++)
                for (int w = 0; w < width; w++)
                {
                    re[w * columnStride + r * lanes + l] = even[l * pixels + w];
                    if (hasOdd) im[w * columnStride + r * lanes + l] = even[l * pixels + width + w];
                }
            }
        }
    }

    /// <summary>
    /// Per-lane mean and 1/standard deviation of the full magnitude spectrum (population, from the half with column
    /// weights; two passes for accuracy) into moments[0] and moments[1]. A spectrum whose deviation is below
    /// <see cref="ConstantSpread"/> of its mean is constant up to float32 rounding (an impulse, an all-zero image): its
    /// inverse deviation is 0, so it standardises to zeros instead of to amplified rounding noise.
    /// </summary>
    private static void Moments(SpectrumPlan plan, Span<T> magnitude, Span<T> moments)
    {
        int halfWidth = plan.HalfWidth, height = plan.Height;
        float inverseCount = 1f / ((float)height * plan.Width);
        T sum = TL.Constant(0f);
        for (int h = 0; h < height; h++)
        for (int k = 0; k < halfWidth; k++)
            sum = TL.Add(sum, TL.Scale(magnitude[h * halfWidth + k], plan.ColumnWeights[k]));
        T mean = TL.Scale(sum, inverseCount);
        T squares = TL.Constant(0f);
        for (int h = 0; h < height; h++)
        for (int k = 0; k < halfWidth; k++)
        {
            T d = TL.Subtract(magnitude[h * halfWidth + k], mean);
            squares = TL.Add(squares, TL.Scale(TL.Multiply(d, d), plan.ColumnWeights[k]));
        }
        moments[0] = mean;
        moments[1] = TL.Scale(squares, inverseCount);
        var values = MemoryMarshal.Cast<T, float>(moments);
        int lanes = TL.Count;
        for (int l = 0; l < lanes; l++)
        {
            float std = MathF.Sqrt(values[lanes + l]);
            values[lanes + l] = std > ConstantSpread * MathF.Abs(values[l]) ? 1f / std : 0f;
        }
    }

    /// <summary>
    /// Each output row: its lane values gathered from the half spectrum (shift and mirror by the plan's map),
    /// standardised and clipped, then moved out of lanes into the count output images.
    /// </summary>
    private static void Store(SpectrumPlan plan, SpectrumOptions options, Workspace ws, float* features, int count)
    {
        int lanes = TL.Count, outputWidth = plan.OutputWidth;
        long outputLength = plan.Source.Length;
        T mean = ws.Moments[0], inverseStd = ws.Moments[1];
        T upper = TL.Constant(options.Clip), lower = TL.Constant(-options.Clip);
        bool clip = !float.IsPositiveInfinity(options.Clip);
        var magnitude = ws.SRe;
        var source = plan.Source;
        fixed (T* row = ws.Row)
        {
            float* values = (float*)row;
            for (int y = 0; y < plan.Height; y++)
            {
                for (int x = 0; x < outputWidth; x++)
                {
                    T v = magnitude[source[y * outputWidth + x]];
                    if (options.Standardize) v = TL.Multiply(TL.Subtract(v, mean), inverseStd);
                    if (clip) v = TL.Min(TL.Max(v, lower), upper);
                    row[x] = v;
                }
                float* output = features + (long)y * outputWidth;
                if (Transposes(count, outputWidth))
                {
                    for (int l = 0; l < lanes; l += 8)
                        TileTranspose.Store8(values + l, lanes, outputWidth, output + l * outputLength, outputLength);
                    continue;
                }
                for (int l = 0; l < count; l++)
                for (int x = 0; x < outputWidth; x++)
                    output[l * outputLength + x] = values[x * lanes + l];
            }
        }
    }
}
