using System.Collections.Concurrent;

namespace FastCalib.Fft;

/// <summary>
/// Everything about one image size and output layout that does not depend on the pixels: the row and column FFT
/// plans, where each output element comes from in the half spectrum, and the weights that give full-spectrum
/// statistics from the half. Cached per (height, width, shift, half).
/// </summary>
/// <remarks>
/// <para>Real input: two image rows go through one complex FFT as z = x_(2r) + i x_(2r+1); with Z_k its DFT and
/// Z*_(−k) the conjugate of its mirror, the two real rows' DFTs are X_(2r) = (Z_k + Z*_(−k))/2 and
/// X_(2r+1) = (Z_k − Z*_(−k))/(2i). Only columns k ≤ W/2 are kept (the rest is the Hermitian mirror
/// X_(h,k) = conj X_(−h,−k)); the column FFTs then run on those W/2 + 1 columns only.</para>
/// <para>Layouts (element index, batched sequences innermost): z[w · pairs + r] for the row FFTs (pairs = ⌈H/2⌉),
/// S[h · (W/2+1) + k] for the half spectrum and the column FFTs.</para>
/// </remarks>
internal sealed class SpectrumPlan
{
    private static readonly ConcurrentDictionary<(int, int, bool, bool), SpectrumPlan> Cache = new();

    private SpectrumPlan(int height, int width, bool shift, bool half)
    {
        Height = height;
        Width = width;
        Pairs = (height + 1) / 2;
        HalfWidth = width / 2 + 1;
        OutputWidth = half ? HalfWidth : width;
        Rows = FftPlan.For(width);
        Columns = FftPlan.For(height);

        // output (oy, ox) ← spectrum (y, x): fftshift puts index 0 at ⌊n/2⌋, so y = (oy + ⌈H/2⌉) mod H; columns
        // past W/2 read the Hermitian mirror (−y, −x) (same magnitude); a half output is shifted along rows only
        Source = new int[height * OutputWidth];
        for (int oy = 0; oy < height; oy++)
        for (int ox = 0; ox < OutputWidth; ox++)
        {
            int y = shift ? (oy + (height + 1) / 2) % height : oy;
            int x = shift && !half ? (ox + (width + 1) / 2) % width : ox;
            Source[oy * OutputWidth + ox] = x < HalfWidth ? y * HalfWidth + x : (height - y) % height * HalfWidth + (width - x);
        }

        // half-spectrum column k stands for itself and, when 1 ≤ k ≤ W − (W/2 + 1), for its mirror W − k
        ColumnWeights = new float[HalfWidth];
        for (int k = 0; k < HalfWidth; k++)
            ColumnWeights[k] = k >= 1 && k <= width - HalfWidth ? 2f : 1f;

        ZLength = width * Pairs;
        SpectrumLength = height * HalfWidth;
        WorkLength = Math.Max(Rows.WorkLength * Pairs, Columns.WorkLength * HalfWidth);
    }

    public int Height { get; }
    public int Width { get; }

    /// <summary>Row pairs ⌈H/2⌉ (a last odd row is paired with zeros).</summary>
    public int Pairs { get; }

    /// <summary>W/2 + 1 columns of the half spectrum.</summary>
    public int HalfWidth { get; }

    /// <summary>W, or W/2 + 1 for the half spectrum.</summary>
    public int OutputWidth { get; }

    public FftPlan Rows { get; }
    public FftPlan Columns { get; }

    /// <summary>For each output element (row-major [H, OutputWidth]), its index in the half spectrum [H, W/2 + 1].</summary>
    public int[] Source { get; }

    /// <summary>How many full-spectrum elements each half-spectrum column stands for (1 or 2).</summary>
    public float[] ColumnWeights { get; }

    /// <summary>Lane values in each of z's real and imaginary parts.</summary>
    public int ZLength { get; }

    /// <summary>Lane values in each of the half spectrum's real and imaginary parts.</summary>
    public int SpectrumLength { get; }

    /// <summary>Lane values in each of the FFT workspace's real and imaginary parts.</summary>
    public int WorkLength { get; }

    /// <summary>Lane values of all buffers together (for choosing how many images share a vector).</summary>
    public long TotalLength => 2L * (ZLength + SpectrumLength + WorkLength);

    public static SpectrumPlan For(int height, int width, bool shift, bool half) =>
        Cache.GetOrAdd((height, width, shift, half), static key => new SpectrumPlan(key.Item1, key.Item2, key.Item3, key.Item4));
}
