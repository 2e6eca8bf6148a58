namespace FastCalib.Tests.Fourier;

/// <summary>
/// The 2D DFT by its definition, in float64: X[v, k] = Σ_h Σ_w x[h, w] exp(−2πi (hv/H + wk/W)), computed as the
/// direct O(n²) DFT along each row, then along each column (the 2D DFT is separable). Written for clarity only.
/// </summary>
public static class DftReference
{
    /// <summary>The spectrum of one image [H, W] stored at <paramref name="offset"/>, as (re, im) [H, W].</summary>
    public static (double[] Re, double[] Im) Spectrum(float[] images, int offset, int height, int width)
    {
        var (cosW, sinW) = Table(width);
        var (cosH, sinH) = Table(height);
        var rowsRe = new double[height * width];
        var rowsIm = new double[height * width];
        for (int h = 0; h < height; h++)
        for (int k = 0; k < width; k++)
        {
            double re = 0, im = 0;
            for (int w = 0; w < width; w++)
            {
                int e = (int)((long)w * k % width);
                double x = images[offset + h * width + w];
                re += x * cosW[e];
                im += x * sinW[e];
            }
            rowsRe[h * width + k] = re;
            rowsIm[h * width + k] = im;
        }
        var re2 = new double[height * width];
        var im2 = new double[height * width];
        for (int v = 0; v < height; v++)
        for (int k = 0; k < width; k++)
        {
            double re = 0, im = 0;
            for (int h = 0; h < height; h++)
            {
                int e = (int)((long)h * v % height);
                double c = cosH[e], s = sinH[e];
                double a = rowsRe[h * width + k], b = rowsIm[h * width + k];
                re += a * c - b * s;
                im += a * s + b * c;
            }
            re2[v * width + k] = re;
            im2[v * width + k] = im;
        }
        return (re2, im2);
    }

    /// <summary>|X| of one image, [H, W].</summary>
    public static double[] Magnitude(float[] images, int offset, int height, int width)
    {
        var (re, im) = Spectrum(images, offset, height, width);
        var m = new double[re.Length];
        for (int i = 0; i < m.Length; i++) m[i] = Math.Sqrt(re[i] * re[i] + im[i] * im[i]);
        return m;
    }

    /// <summary>NumPy's fftshift of [H, W]: element (y, x) moves to ((y + ⌊H/2⌋) mod H, (x + ⌊W/2⌋) mod W).</summary>
    public static double[] Shift(double[] values, int height, int width, bool rowsOnly = false)
    {
        var shifted = new double[values.Length];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            int ty = (y + height / 2) % height, tx = rowsOnly ? x : (x + width / 2) % width;
            shifted[ty * width + tx] = values[y * width + x];
        }
        return shifted;
    }

    /// <summary>Columns 0..W/2 of [H, W].</summary>
    public static double[] Half(double[] values, int height, int width)
    {
        int half = width / 2 + 1;
        var result = new double[height * half];
        for (int y = 0; y < height; y++)
        for (int x = 0; x < half; x++)
            result[y * half + x] = values[y * width + x];
        return result;
    }

    /// <summary>(v − mean) / std with the population standard deviation; zeros when std is 0.</summary>
    public static double[] Standardize(double[] values)
    {
        double mean = values.Average();
        double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Length);
        return values.Select(v => std > 0 ? (v - mean) / std : 0).ToArray();
    }

    /// <summary>cos and sin of −2πe/n for e &lt; n (exponents are reduced mod n first, so angles stay exact).</summary>
    private static (double[] Cos, double[] Sin) Table(int n)
    {
        var c = new double[n];
        var s = new double[n];
        for (int e = 0; e < n; e++)
        {
            c[e] = Math.Cos(-2 * Math.PI * e / n);
            s[e] = Math.Sin(-2 * Math.PI * e / n);
        }
        return (c, s);
    }
}
