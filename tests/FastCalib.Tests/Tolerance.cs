using Xunit;

namespace FastCalib.Tests;

/// <summary>
/// Error bounds from float32 error analysis (unit roundoff u = 2^-24 ≈ 6e-8), with a safety factor of a few:
/// an exponent e^(-a) computed from float operands carries a relative error of about a·2u (rounding of z - max and
/// of the product with 1/T) plus the exponential's own couple of ulp. A float32 sum of n terms split over k partial
/// sums can be off by (n/k)·u when its roundings all lean one way (rows of equal values do that); every path keeps
/// at least 16 partial sums (vector lanes × 4 accumulators, or GPU threads) or sums in float64 (the scalar path),
/// so the bound uses n/16, plus a random-walk √n term for the rest.
/// </summary>
public static class Tolerance
{
    private const double U = 1.0 / (1 << 24);

    private static double SumFactor(int n) => 4 + 4 * Math.Sqrt(n) + n / 16.0;

    /// <summary>Smallest normal float32: GPUs in fast math flush results below it (subnormals) to zero.</summary>
    public const double MinNormal = 1.1754943508222875e-38;

    /// <summary>Bound for a probability whose exponent has size a = max u - u_j (plus subnormals flushed to zero).</summary>
    public static double Probability(double expected, double a, int cols) =>
        5 * U * (a + SumFactor(cols)) * expected + MinNormal;

    /// <summary>Absolute bound for a log-probability.</summary>
    public static double LogProbability(double a, double expected, int cols) =>
        5 * U * (a + Math.Abs(expected) + SumFactor(cols));

    /// <summary>|Σ p - 1| for a row.</summary>
    public static double RowSum(int cols) => 20 * U * SumFactor(cols);

    /// <summary>
    /// Bound for a gradient element given the size of the terms it is made of; the absolute floor allows for a GPU
    /// flushing a subnormal probability to zero before it is multiplied by factors up to about 1e3 (|g|/T).
    /// </summary>
    public static double Gradient(double termScale, int cols) => 10 * U * SumFactor(cols) * termScale + 1e3 * MinNormal;

    public static void AssertClose(double actual, double expected, double tolerance, string what)
    {
        bool ok = Math.Abs(actual - expected) <= tolerance || (double.IsNaN(actual) && double.IsNaN(expected));
        Assert.True(ok, $"{what}: got {actual:R}, expected {expected:R} (difference {Math.Abs(actual - expected):G3}, allowed {tolerance:G3})");
    }
}
