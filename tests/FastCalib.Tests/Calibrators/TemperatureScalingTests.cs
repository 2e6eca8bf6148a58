using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>Temperature fitting against a float64 reference optimiser, on every path.</summary>
public class TemperatureScalingTests
{
    /// <summary>Mean NLL of softmax(z β) in float64 (β = 1/T), through the reference log-softmax.</summary>
    private static double ReferenceNll(float[] z, int[] labels, int cols, double beta)
    {
        double nll = 0;
        for (int r = 0; r < labels.Length; r++) nll -= Reference.LogSoftmax(z.AsSpan(r * cols, cols), 1 / beta)[labels[r]];
        return nll / labels.Length;
    }

    /// <summary>Golden-section search of the reference NLL over log β in [ln 0.01, ln 100] (independent of the library's Newton).</summary>
    private static double ReferenceOptimum(float[] z, int[] labels, int cols)
    {
        double a = Math.Log(0.01), b = Math.Log(100), phi = (Math.Sqrt(5) - 1) / 2;
        double c = b - phi * (b - a), d = a + phi * (b - a);
        double fc = ReferenceNll(z, labels, cols, Math.Exp(c)), fd = ReferenceNll(z, labels, cols, Math.Exp(d));
        while (b - a > 1e-11)
        {
            if (fc < fd) { b = d; d = c; fd = fc; c = b - phi * (b - a); fc = ReferenceNll(z, labels, cols, Math.Exp(c)); }
            else { a = c; c = d; fc = fd; d = a + phi * (b - a); fd = ReferenceNll(z, labels, cols, Math.Exp(d)); }
        }
        return 1 / Math.Exp((a + b) / 2);   // T
    }

    /// <summary>Logits N(0, 3²) per class; labels drawn from softmax(z / t0) (a source calibrated at temperature t0).</summary>
    internal static (float[] Z, int[] Labels) Synthetic(int rows, int cols, double t0, int seed)
    {
        var random = new Random(seed);
        var z = new float[rows * cols];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++) z[r * cols + j] = (float)(3 * TestData.Normal(random));
            var p = Reference.Softmax(z.AsSpan(r * cols, cols), t0);
            double u = random.NextDouble(), acc = 0;
            labels[r] = cols - 1;
            for (int j = 0; j < cols; j++) if ((acc += p[j]) > u) { labels[r] = j; break; }
        }
        return (z, labels);
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Fits_the_reference_optimum_to_1e6_relative(KernelPath path)
    {
        foreach (var (rows, cols, t0) in new[] { (2000, 10, 2.5), (1500, 3, 0.6), (400, 50, 1.3) })
        {
            var (z, labels) = Synthetic(rows, cols, t0, rows + cols);
            var fit = TemperatureScaling.Fit(z, labels, cols, path.Options);
            double expected = ReferenceOptimum(z, labels, cols);
            Assert.True(Math.Abs(fit.Temperature - expected) <= 1e-6 * expected, $"{path} [{rows}x{cols}]: T* {fit.Temperature:R} vs {expected:R}");
            Assert.Equal(ReferenceNll(z, labels, cols, 1), fit.NllBefore, 1e-5);
            Assert.Equal(ReferenceNll(z, labels, cols, 1 / expected), fit.NllAfter, 1e-5);
            Assert.True(fit.NllAfter <= fit.NllBefore);
            Assert.False(fit.AtBoundary);
            Assert.InRange(fit.Passes, 2, 15);
        }
    }

    /// <summary>
    /// On data drawn from softmax(z / T0) the fit recovers T0 within its sampling error: β̂ = 1/T̂ has standard
    /// deviation about 1 / sqrt(N · mean f''(β0)) (the inverse Fisher information), and the test allows five of them.
    /// </summary>
    [Theory]
    [InlineData(0.5)]
    [InlineData(1.7)]
    [InlineData(4.0)]
    public void Recovers_the_source_temperature_within_sampling_error(double t0)
    {
        const int rows = 20000, cols = 10;
        var (z, labels) = Synthetic(rows, cols, t0, (int)(t0 * 1000));
        var fit = TemperatureScaling.Fit(z, labels, cols);
        var (_, _, second) = TemperatureScaling.Evaluate(z, labels, cols, 1 / t0);
        double sd = 1 / Math.Sqrt(rows * second);
        Assert.True(Math.Abs(1 / fit.Temperature - 1 / t0) <= 5 * sd, $"T* {fit.Temperature} vs T0 {t0} (sd of 1/T: {sd:G3})");
    }

    [Fact]
    public void Derivatives_match_finite_differences_of_the_reference()
    {
        var (z, labels) = Synthetic(500, 7, 1.5, 3);
        foreach (double beta in new[] { 0.3, 1.0, 2.5 })
        {
            var (f, g, h) = TemperatureScaling.Evaluate(z, labels, 7, beta);
            double step = 1e-4 * beta;
            double up = ReferenceNll(z, labels, 7, beta + step), down = ReferenceNll(z, labels, 7, beta - step), mid = ReferenceNll(z, labels, 7, beta);
            Assert.Equal(mid, f, 1e-5);
            Assert.Equal((up - down) / (2 * step), g, 1e-4);
            Assert.Equal((up - 2 * mid + down) / (step * step), h, 2e-3 * (1 + h));
        }
    }

    [Fact]
    public void Separable_data_reports_the_boundary()
    {
        // every label is the clear argmax: the NLL keeps falling as T -> 0
        var z = new float[] { 5, 0, 0, 0, 4, 1, 1, 0, 6 };
        var fit = TemperatureScaling.Fit(z, [0, 1, 2], 3);
        Assert.True(fit.AtBoundary);
        Assert.Equal(TemperatureScaling.MinTemperature, fit.Temperature, 1e-5);
    }

    [Fact]
    public void Bad_input_is_rejected()
    {
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => TemperatureScaling.Fit([], [], 3)).ParamName);
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => TemperatureScaling.Fit([1f, 2f], [0, 0], 1)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => TemperatureScaling.Fit([1f, 2f], [2], 2)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => TemperatureScaling.Fit([1f, 2f], [0, 1], 2)).ParamName);
        Assert.Contains("[1, 0]", Assert.Throws<ArgumentException>(() => TemperatureScaling.Fit([1f, 2f, float.NaN, 0f], [0, 1], 2)).Message);
        Assert.Contains("[0, 1]", Assert.Throws<ArgumentException>(() => TemperatureScaling.Fit([1f, float.NegativeInfinity], [0], 2)).Message);
    }

    public static IEnumerable<object[]> Accelerators() => new[] { new object[] { "ilgpu-cpu" }, new object[] { "cuda" } };

    [SkippableTheory]
    [MemberData(nameof(Accelerators))]
    public void Device_views_fit_the_same_temperature(string name)
    {
        var maybe = Paths.Device(name);
        Skip.If(maybe is null, Paths.NoCuda);
        var accelerator = maybe!;
        var (z, labels) = Synthetic(3000, 10, 2.0, 9);
        var host = TemperatureScaling.Fit(z, labels, 10, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
        using var dz = accelerator.Allocate1D(z);
        using var dy = accelerator.Allocate1D(labels);
        var device = TemperatureScaling.Fit(accelerator.DefaultStream, dz.View, dy.View, 10);
        Assert.Equal(host.Temperature, device.Temperature, 1e-6);
        Assert.Equal(ReferenceOptimum(z, labels, 10), device.Temperature, 1e-5);
    }
}
