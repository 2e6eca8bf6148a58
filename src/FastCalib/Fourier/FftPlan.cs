using System.Collections.Concurrent;

namespace FastCalib.Fft;

/// <summary>
/// How to compute the forward DFT X_k = Σ_j x_j exp(−2πi jk/n) of one length n: the radices of its Stockham stages
/// and their twiddles, or, where n has a prime factor the butterflies do not cover, Bluestein's algorithm on a
/// length that factors. Plans are immutable and cached per length.
/// </summary>
internal sealed class FftPlan
{
    private static readonly ConcurrentDictionary<int, FftPlan> Cache = new();

    private FftPlan(int length)
    {
        Length = length;
        var radices = Factor(length);
        if (radices is null)
        {
            Radices = [];
            StageTwiddles = [];
            Twiddles = [];
            Bluestein = new BluesteinPlan(length);
            return;
        }
        Radices = radices;
        // stage i of radix p on current length n: twiddles ω_n^(ju) for j < n/p, u = 1..p−1, as (cos, sin) pairs
        StageTwiddles = new int[radices.Length];
        var twiddles = new List<float>();
        int n = length;
        for (int i = 0; i < radices.Length; i++)
        {
            int p = radices[i], m = n / p;
            StageTwiddles[i] = twiddles.Count;
            for (int j = 0; j < m; j++)
            for (int u = 1; u < p; u++)
            {
                // the angle from (j·u mod n) keeps it exact in double before the one rounding to float
                double angle = -2 * Math.PI * ((long)j * u % n) / n;
                twiddles.Add((float)Math.Cos(angle));
                twiddles.Add((float)Math.Sin(angle));
            }
            n = m;
        }
        Twiddles = twiddles.ToArray();
    }

    /// <summary>The transform length n ≥ 1.</summary>
    public int Length { get; }

    /// <summary>Radices of the Stockham stages in order (empty for n = 1 and for Bluestein plans).</summary>
    public int[] Radices { get; }

    /// <summary>Where each stage's twiddles start in <see cref="Twiddles"/>.</summary>
    public int[] StageTwiddles { get; }

    /// <summary>All stages' twiddles, (cos, sin) pairs.</summary>
    public float[] Twiddles { get; }

    /// <summary>Set when n has a prime factor above the largest prime radix.</summary>
    public BluesteinPlan? Bluestein { get; }

    /// <summary>
    /// Lane values per batched column the workspace must hold for each of its real and imaginary parts:
    /// n for the ping-pong of a Stockham plan, 2M for a Bluestein plan of inner length M.
    /// </summary>
    public int WorkLength => Bluestein is { } b ? 2 * b.Inner.Length : Length;

    /// <summary>The plan for length <paramref name="length"/> ≥ 1, built once and cached.</summary>
    public static FftPlan For(int length)
    {
        if (length < 1) throw new ArgumentOutOfRangeException(nameof(length), length, "FFT length must be at least 1.");
        return Cache.GetOrAdd(length, static n => new FftPlan(n));
    }

    /// <summary>
    /// Radices whose product is n, or null when n has a prime factor without butterflies. Powers of two go in
    /// radix-8 stages (a final 2, 4 or 16 for the rest), then 3, 5, 7, 11, 13: the fewest passes over the data.
    /// </summary>
    internal static int[]? Factor(int n)
    {
        var radices = new List<int>();
        int twos = 0;
        while (n % 2 == 0) { n /= 2; twos++; }
        if (twos % 3 == 1 && twos >= 4) { radices.Add(16); twos -= 4; }
        while (twos >= 3) { radices.Add(8); twos -= 3; }
        if (twos > 0) radices.Add(1 << twos);
        foreach (int p in (ReadOnlySpan<int>)[3, 5, 7, 11, 13])
            while (n % p == 0) { radices.Add(p); n /= p; }
        if (n != 1) return null;
        foreach (int p in radices)
            if (!Butterflies.Supports(p)) return null;
        return radices.ToArray();
    }

    /// <summary>The smallest m ≥ <paramref name="atLeast"/> that <see cref="Factor"/> covers.</summary>
    internal static int SmoothAtLeast(int atLeast)
    {
        for (int m = Math.Max(1, atLeast); ; m++)
            if (Factor(m) is not null) return m;
    }
}

/// <summary>
/// Bluestein's algorithm (1970): with the chirp w_j = exp(−iπ j²/n), jk = (j² + k² − (k−j)²)/2 turns the DFT into
/// the convolution X_k = w_k Σ_j (x_j w_j) conj(w_(k−j)), computed circularly with FFTs of a length M ≥ 2n − 1 that
/// factors into the generated radices: X = w · IFFT(FFT(x·w) · FFT(c)), c_j = conj(w_j) for |j| &lt; n (indices mod M).
/// </summary>
internal sealed class BluesteinPlan
{
    public BluesteinPlan(int length)
    {
        int n = length;
        Inner = FftPlan.For(FftPlan.SmoothAtLeast(2 * n - 1));
        int m = Inner.Length;
        ChirpRe = new float[n];
        ChirpIm = new float[n];
        for (int j = 0; j < n; j++)
        {
            // j² mod 2n keeps the angle exact in double (the chirp has period 2n in j²)
            double angle = -Math.PI * ((long)j * j % (2L * n)) / n;
            ChirpRe[j] = (float)Math.Cos(angle);
            ChirpIm[j] = (float)Math.Sin(angle);
        }
        // FFT of the filter c, divided by M so that the inverse FFT needs no scaling afterwards
        var filterRe = new float[m];
        var filterIm = new float[m];
        for (int j = 0; j < n; j++)
        {
            double angle = Math.PI * ((long)j * j % (2L * n)) / n;
            filterRe[j] = (float)Math.Cos(angle);
            filterIm[j] = (float)Math.Sin(angle);
            if (j > 0)
            {
                filterRe[m - j] = filterRe[j];
                filterIm[m - j] = filterIm[j];
            }
        }
        var workRe = new float[Inner.WorkLength];
        var workIm = new float[Inner.WorkLength];
        FftEngine<Kernels.Internals.ScalarLanes, float>.Forward(Inner, filterRe, filterIm, workRe, workIm, block: 1);
        for (int k = 0; k < m; k++)
        {
            filterRe[k] /= m;
            filterIm[k] /= m;
        }
        FilterRe = filterRe;
        FilterIm = filterIm;
    }

    /// <summary>The plan of the convolution length M.</summary>
    public FftPlan Inner { get; }

    /// <summary>w_j = exp(−iπ j²/n), j &lt; n.</summary>
    public float[] ChirpRe { get; }

    /// <inheritdoc cref="ChirpRe"/>
    public float[] ChirpIm { get; }

    /// <summary>FFT(c)/M, length M.</summary>
    public float[] FilterRe { get; }

    /// <inheritdoc cref="FilterRe"/>
    public float[] FilterIm { get; }
}
