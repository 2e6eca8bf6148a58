namespace FastCalib.Tests;

/// <summary>
/// Float64 reference implementations, written for clarity rather than speed, independent of the library:
/// each row is converted to double, shifted by its maximum and evaluated by the textbook formula.
/// </summary>
public static class Reference
{
    /// <summary>softmax(z / T) of one row: exp of the log-softmax below.</summary>
    public static double[] Softmax(ReadOnlySpan<float> z, double temperature) =>
        LogSoftmax(z, temperature).Select(Math.Exp).ToArray();

    /// <summary>log softmax(z / T) of one row.</summary>
    public static double[] LogSoftmax(ReadOnlySpan<float> z, double temperature)
    {
        var u = new double[z.Length];
        for (int j = 0; j < z.Length; j++) u[j] = z[j] / temperature;
        double max = u.Max();
        double sum = 0;
        for (int j = 0; j < u.Length; j++) sum += Math.Exp(u[j] - max);
        double logSum = Math.Log(sum);
        return u.Select(x => x - max - logSum).ToArray();
    }

    /// <summary>Exponent sizes a_j = (max u - u_j) ≥ 0 for z / T.</summary>
    public static double[] ExponentSizes(ReadOnlySpan<float> z, double temperature)
    {
        double max = double.NegativeInfinity;
        foreach (float v in z) max = Math.Max(max, v / temperature);
        var a = new double[z.Length];
        for (int j = 0; j < z.Length; j++) a[j] = max - z[j] / temperature;
        return a;
    }

    /// <summary>First index of the maximum (exact comparison of the float inputs).</summary>
    public static int ArgMax(ReadOnlySpan<float> z)
    {
        int best = 0;
        for (int j = 1; j < z.Length; j++)
            if (z[j] > z[best]) best = j;
        return best;
    }

    /// <summary>dL/dz for L with dL/dp = g, p = softmax(z / T) given as <paramref name="p"/>: p_j (g_j - Σ g_k p_k) / T.</summary>
    public static double[] SoftmaxBackward(ReadOnlySpan<float> p, ReadOnlySpan<float> g, double temperature)
    {
        double dot = 0;
        for (int j = 0; j < p.Length; j++) dot += (double)g[j] * p[j];
        var dz = new double[p.Length];
        for (int j = 0; j < p.Length; j++) dz[j] = p[j] * (g[j] - dot) / temperature;
        return dz;
    }

    /// <summary>dL/dz for L with dL/dlogp = g: (g_j - exp(logp_j) Σ g_k) / T.</summary>
    public static double[] LogSoftmaxBackward(ReadOnlySpan<float> logp, ReadOnlySpan<float> g, double temperature)
    {
        double gsum = 0;
        foreach (float v in g) gsum += v;
        var dz = new double[logp.Length];
        for (int j = 0; j < logp.Length; j++) dz[j] = (g[j] - Math.Exp(logp[j]) * gsum) / temperature;
        return dz;
    }

    /// <summary>dL/dT contribution of one row: -(1/T) Σ_j dz_j z_j.</summary>
    public static double TemperatureGradient(double[] dz, ReadOnlySpan<float> z, double temperature)
    {
        double s = 0;
        for (int j = 0; j < z.Length; j++) s += dz[j] * z[j];
        return -s / temperature;
    }
}
