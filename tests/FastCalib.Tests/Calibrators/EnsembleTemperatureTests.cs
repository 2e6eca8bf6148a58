using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>Ensemble temperature scaling: the temperature is TemperatureScaling's, the weights minimise the float64 mixture NLL over the simplex.</summary>
public class EnsembleTemperatureTests
{
    /// <summary>Logits N(0, 3²); labels drawn from w₀ softmax(z / t) + w₁ softmax(z) + w₂ / C.</summary>
    private static (float[] Z, int[] Labels) Mixture(int rows, int c, double t, double[] w, int seed)
    {
        var random = new Random(seed);
        var z = new float[rows * c];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < c; j++) z[r * c + j] = (float)(3 * TestData.Normal(random));
            var tempered = Reference.Softmax(z.AsSpan(r * c, c), t);
            var raw = Reference.Softmax(z.AsSpan(r * c, c), 1);
            double u = random.NextDouble(), acc = 0;
            labels[r] = c - 1;
            for (int j = 0; j < c; j++) if ((acc += w[0] * tempered[j] + w[1] * raw[j] + w[2] / c) > u) { labels[r] = j; break; }
        }
        return (z, labels);
    }

    /// <summary>Mean NLL of the mixture in float64 as a function of the weights, from the reference softmax at t and at 1.</summary>
    private static Func<double[], double> Nll(float[] z, int[] y, int c, double t)
    {
        var tempered = y.Select((label, r) => Reference.Softmax(z.AsSpan(r * c, c), t)[label]).ToArray();
        var raw = y.Select((label, r) => Reference.Softmax(z.AsSpan(r * c, c), 1)[label]).ToArray();
        return w =>
        {
            double sum = 0;
            for (int r = 0; r < y.Length; r++) sum -= Math.Log(w[0] * tempered[r] + w[1] * raw[r] + w[2] / c);
            return sum / y.Length;
        };
    }

    public static IEnumerable<object[]> Sources() =>
    [
        [new double[] { 0.6, 0.25, 0.15 }],   // inside the simplex
        [new double[] { 0, 0.7, 0.3 }],       // on an edge
        [new double[] { 1, 0, 0 }],           // at a vertex: plain temperature scaling
    ];

    [Theory]
    [MemberData(nameof(Sources))]
    public void The_weights_minimise_the_mixture_NLL_over_the_simplex(double[] source)
    {
        const int rows = 3000, c = 6;
        var (z, y) = Mixture(rows, c, 2.5, source, 17);
        foreach (var path in Paths.All)
        {
            var fit = EnsembleTemperatureCalibrator.Fit(z, y, c, path.Options);
            var calibrator = fit.Calibrator;
            Assert.Equal(TemperatureScaling.Fit(z, y, c, path.Options).Temperature, calibrator.Temperature);
            double[] w = [.. calibrator.Weights.Select(v => (double)v)];
            Assert.All(w, v => Assert.InRange(v, 0, 1));
            Assert.Equal(1, w.Sum(), 1e-6);
            var nll = Nll(z, y, c, calibrator.Temperature);
            double ours = nll(w);
            Assert.Equal(ours, fit.NllAfter, 1e-5);
            // no point of a grid over the simplex, nor any nearby point, is better (F is convex in w)
            for (int i = 0; i <= 40; i++)
                for (int j = 0; i + j <= 40; j++)
                {
                    double[] grid = [i / 40.0, j / 40.0, (40 - i - j) / 40.0];
                    Assert.True(ours <= nll(grid) + 1e-9, $"{path}: {string.Join(", ", w)} ({ours:R}) loses to {string.Join(", ", grid)}");
                }
            foreach (var (d0, d1) in new[] { (1e-3, 0.0), (-1e-3, 0.0), (0.0, 1e-3), (0.0, -1e-3), (1e-3, -1e-3), (-1e-3, 1e-3) })
            {
                double[] near = [w[0] + d0, w[1] + d1, 1 - w[0] - d0 - w[1] - d1];
                if (near.All(v => v >= 0)) Assert.True(ours <= nll(near) + 1e-9, $"{path}: a neighbour {string.Join(", ", near)} is better");
            }
        }
    }

    /// <summary>Every output is the float64 mixture w₀ softmax(z / T) + w₁ softmax(z) + w₂ / C (poison or a wrong value fails).</summary>
    private static void AssertMixture(EnsembleTemperatureCalibrator calibrator, float[] z, int c, float[] output, string what)
    {
        for (int r = 0; r < z.Length / c; r++)
        {
            var tempered = Reference.Softmax(z.AsSpan(r * c, c), calibrator.Temperature);
            var raw = Reference.Softmax(z.AsSpan(r * c, c), 1);
            for (int j = 0; j < c; j++)
            {
                double expected = calibrator.Weights[0] * tempered[j] + calibrator.Weights[1] * raw[j] + calibrator.Weights[2] / c;
                Assert.True(Math.Abs(output[r * c + j] - expected) <= 1e-6 + 1e-5 * expected, $"{what} [{r}, {j}]: {output[r * c + j]} vs {expected}");
            }
        }
    }

    [Fact]
    public void Applied_saved_and_loaded_it_gives_the_mixture()
    {
        const int rows = 257, c = 9;
        var (z, y) = Mixture(rows, c, 0.5, [0.5, 0.3, 0.2], 4);
        var calibrator = EnsembleTemperatureCalibrator.Fit(z, y, c).Calibrator;
        var output = TestData.Poisoned(z.Length, TestData.Poison);
        calibrator.Apply(z, output, c);
        AssertMixture(calibrator, z, c, output, "host");
        var loaded = MulticlassCalibrator.FromJson(calibrator.ToJson());
        Assert.Equal(calibrator, loaded);
        Assert.NotEqual(calibrator, calibrator with { Weights = [1, 0, 0] });
        Assert.Contains("\"kind\": \"ets\"", calibrator.ToJson());
        var again = new float[z.Length];
        loaded.Apply(z, again, c);
        Assert.Equal(output, again);
        var inPlace = z.ToArray();
        calibrator.Apply(inPlace, inPlace, c);
        Assert.Equal(output, inPlace);
    }

    public static IEnumerable<object[]> GpuAccelerators() => FastCalib.Tests.Backends.GpuTests.Accelerators();

    /// <summary>
    /// On device views the fit gives the scalar path's temperature and weights (within the temperature's stopping
    /// tolerance), and the mixture and temperature calibrators apply as the float64 reference, in place too.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(GpuAccelerators))]
    public void Device_views_fit_and_apply_as_host_spans(string name)
    {
        var accelerator = Paths.Device(name);
        Skip.If(accelerator is null, Paths.NoCuda);
        var stream = accelerator!.DefaultStream;
        const int rows = 1500, c = 7;
        var (z, y) = Mixture(rows, c, 2.0, [0.5, 0.3, 0.2], 23);
        using var dz = accelerator.Allocate1D(z);
        using var dy = accelerator.Allocate1D(y);
        var device = EnsembleTemperatureCalibrator.Fit(stream, dz.View, dy.View, c);
        var host = EnsembleTemperatureCalibrator.Fit(z, y, c, new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 });
        Assert.Equal(host.Calibrator.Temperature, device.Calibrator.Temperature, 1e-5f * host.Calibrator.Temperature);
        for (int k = 0; k < 3; k++) Assert.Equal(host.Calibrator.Weights[k], device.Calibrator.Weights[k], 1e-4f);
        Assert.Equal(host.NllAfter, device.NllAfter, 1e-6);
        Assert.Equal(host.NllBefore, device.NllBefore, 1e-6);

        var calibrator = device.Calibrator;
        using var dp = accelerator.Allocate1D(TestData.Poisoned(z.Length, TestData.Poison));
        calibrator.Apply(stream, dz.View, dp.View, c);
        stream.Synchronize();
        var output = dp.GetAsArray1D();
        AssertMixture(calibrator, z, c, output, name);
        var temperature = new TemperatureCalibrator(1.7f);
        var expectedTemperature = new float[z.Length];
        temperature.Apply(z, expectedTemperature, c, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
        temperature.Apply(stream, dz.View, dp.View, c);
        stream.Synchronize();
        Assert.Equal(expectedTemperature, dp.GetAsArray1D());
        calibrator.Apply(stream, dz.View, dz.View, c);
        stream.Synchronize();
        Assert.Equal(output, dz.GetAsArray1D());
    }
}
