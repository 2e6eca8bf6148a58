using ILGPU;
using ILGPU.Runtime.CPU;

namespace FastCalib.Generators.Tests;

/// <summary>
/// The generated FFT butterflies: one Stockham stage of every radix on every path (scalar, Vector256 lanes, ILGPU)
/// against the stage's definition evaluated in float64, with and without twiddles; and the FCG009 diagnostics.
/// </summary>
public class FftCodeletTests
{
    private static readonly Lazy<Type> Samples = new(() =>
        GeneratorHarness.BuildNamed("SampleButterflies", GeneratorHarness.Sample("SampleButterflies.cs")).GetType("Samples.SampleButterflies")!);

    private static readonly Lazy<ILGPU.Runtime.Accelerator> Accelerator = new(() =>
        Context.Create(builder => builder.Default().EnableAlgorithms()).CreateCPUAccelerator(0));

    private static object? Call(string method, params object?[] args) => Samples.Value.GetMethod(method)!.Invoke(null, args);

    /// <summary>y[q + s(pj + u)] = ω_n^(ju) Σ_t x[q + s(j + tm)] ω_p^(tu), n = pm, ω_k = exp(−2πi/k), in float64.</summary>
    private static (double[] Re, double[] Im) Stage(int p, float[] xr, float[] xi, int m, int s)
    {
        int n = p * m;
        var yr = new double[xr.Length];
        var yi = new double[xr.Length];
        for (int j = 0; j < m; j++)
        for (int q = 0; q < s; q++)
        for (int u = 0; u < p; u++)
        {
            double re = 0, im = 0;
            for (int t = 0; t < p; t++)
            {
                double angle = -2 * Math.PI * (t * u % p) / p;
                double a = xr[q + s * (j + t * m)], b = xi[q + s * (j + t * m)];
                re += a * Math.Cos(angle) - b * Math.Sin(angle);
                im += a * Math.Sin(angle) + b * Math.Cos(angle);
            }
            double w = -2 * Math.PI * (j * u % n) / n;
            yr[q + s * (p * j + u)] = re * Math.Cos(w) - im * Math.Sin(w);
            yi[q + s * (p * j + u)] = re * Math.Sin(w) + im * Math.Cos(w);
        }
        return (yr, yi);
    }

    private static float[] Twiddles(int p, int m)
    {
        int n = p * m;
        var tw = new float[Math.Max(2, 2 * (p - 1) * m)];
        for (int j = 0; j < m; j++)
        for (int u = 1; u < p; u++)
        {
            double angle = -2 * Math.PI * (j * u % n) / n;
            tw[2 * ((p - 1) * j + u - 1)] = (float)Math.Cos(angle);
            tw[2 * ((p - 1) * j + u - 1) + 1] = (float)Math.Sin(angle);
        }
        return tw;
    }

    public static IEnumerable<object[]> Cases()
    {
        foreach (int p in new[] { 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 16, 17, 32 })
            foreach (var (m, s) in new[] { (1, 1), (3, 2), (2, 5) })
                yield return new object[] { p, m, s };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_radix_computes_its_stage_on_every_path(int p, int m, int s)
    {
        var random = new Random(p * 100 + m * 10 + s);
        int length = p * m * s;
        var xr = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var xi = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var tw = Twiddles(p, m);
        var (er, ei) = Stage(p, xr, xi, m, s);
        // float32 error of a length-p DFT: a few ulp per term, terms of size ≤ 1
        double tolerance = 4e-7 * p + 1e-6;

        void Check(string path, float[] yr, float[] yi, double scale)
        {
            for (int i = 0; i < length; i++)
            {
                Assert.True(Math.Abs(yr[i] - scale * er[i]) <= scale * tolerance, $"{path} radix {p} m {m} s {s}: re[{i}] = {yr[i]}, expected {scale * er[i]}");
                Assert.True(Math.Abs(yi[i] - scale * ei[i]) <= scale * tolerance, $"{path} radix {p} m {m} s {s}: im[{i}] = {yi[i]}, expected {scale * ei[i]}");
            }
        }

        var sr = new float[length];
        var si = new float[length];
        Call("RunScalar", p, xr, xi, sr, si, m, s, tw);
        Check("scalar", sr, si, 1);

        var lanes = ((float[] Re, float[] Im)[])Call("RunLanes256", p, xr, xi, m, s, tw)!;
        for (int l = 0; l < 8; l++) Check($"lane {l}", lanes[l].Re, lanes[l].Im, l + 1);

        var gr = new float[length];
        var gi = new float[length];
        Call("RunGpu", Accelerator.Value, p, xr, xi, gr, gi, m, s, tw);
        Check("ilgpu-cpu", gr, gi, 1);
    }

    [Fact]
    public void Radices_are_listed_and_supported()
    {
        Assert.Equal(new[] { 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 15, 16, 17, 32 }, (int[])Call("All")!);
        Assert.True((bool)Call("Has", 17)!);
        Assert.False((bool)Call("Has", 11)!);
    }

    [Theory]
    [InlineData("[FftRadices(2, 40)] static partial class B { }", "radix 40 is not supported")]
    [InlineData("[FftRadices(1)] static partial class B { }", "radix 1 is not supported")]
    [InlineData("[FftRadices(3, 3)] static partial class B { }", "named more than once")]
    [InlineData("[FftRadices] static partial class B { }", "names no radix")]
    [InlineData("[FftRadices(2)] static class B { }", "must be 'static partial'")]
    public void Bad_radix_lists_are_reported(string source, string messagePart)
    {
        var (_, diagnostics, run) = GeneratorHarness.Generate("using FastCalib.Kernels;\n" + source);
        Assert.NotEmpty(diagnostics);
        Assert.All(diagnostics, d => Assert.Equal("FCG009", d.Id));
        Assert.Contains(diagnostics, d => d.GetMessage().Contains(messagePart));
        Assert.Empty(run.GeneratedTrees);
    }
}
