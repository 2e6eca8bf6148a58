using FsCheck;
using ILGPU;
using ILGPU.Runtime;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Fourier;

/// <summary>A batch of images: shape, pixel scale and kind, and a seed.</summary>
public sealed record ImageCase(int Count, int Height, int Width, double Scale, bool NonNegative, int Seed)
{
    /// <summary>Pixels ~ Normal(0, Scale), or Uniform(0, Scale) like photographs (a dominant zero frequency).</summary>
    public float[] Images()
    {
        var random = new Random(Seed);
        var x = new float[Count * Height * Width];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(Scale * (NonNegative ? random.NextDouble() : TestData.Normal(random)));
        return x;
    }

    public override string ToString() => $"{Count} x [{Height} x {Width}] scale {Scale:G3}{(NonNegative ? " uniform" : "")} seed {Seed}";
}

public static class ImageCases
{
    public static Gen<ImageCase> Any =>
        from h in Gen.Choose(1, 70)
        from w in Gen.Choose(1, 70)
        from count in Gen.Choose(1, 19)
        from scale in Gen.Elements(1e-3, 1.0, 1e4)
        from nonNegative in Gen.Elements(false, true)
        from seed in Gen.Choose(0, int.MaxValue)
        select new ImageCase(count, h, w, scale, nonNegative, seed);

    public static Arbitrary<ImageCase> Arbitrary() => Arb.From(Any);
}

/// <summary>
/// The magnitude features on every path against the float64 DFT by definition, and the identities any correct
/// transform satisfies (Parseval, shift invariance, Hermitian symmetry, linearity, the impulse).
/// </summary>
public class FourierFeaturesTests
{
    private const double U = 1.0 / (1 << 24);

    /// <summary>
    /// Allowed error relative to an image's largest magnitude: float32 FFT error grows like u·log2(n) (normwise);
    /// Bluestein sizes go through three transforms of a longer length and the chirp products.
    /// </summary>
    private static double RelativeTolerance(int height, int width)
    {
        double t = 8 * U * (4 + 2 * Math.Log2((double)height * width));
        return NeedsBluestein(height) || NeedsBluestein(width) ? 4 * t : t;
    }

    private static bool NeedsBluestein(int n)
    {
        foreach (int p in new[] { 2, 3, 5, 7, 11, 13 })
            while (n % p == 0) n /= p;
        return n != 1;
    }

    /// <summary>Runs the kernel into a poisoned output and checks every element was written.</summary>
    internal static float[] Run(float[] images, int height, int width, FourierFeatureOptions options, ComputeOptions compute)
    {
        long count = images.Length / (height * width);
        var features = TestData.Poisoned((int)FourierFeatures.OutputLength(count, height, width, options.HalfSpectrum), TestData.Poison);
        FourierFeatures.Magnitude(images, features, height, width, options, compute);
        int unwritten = features.Count(TestData.IsPoison);
        Assert.True(unwritten == 0, $"{unwritten} of {features.Length} outputs were not written");
        return features;
    }

    private static double[][] References(ImageCase c, float[] images) =>
        Enumerable.Range(0, c.Count).Select(n => DftReference.Magnitude(images, n * c.Height * c.Width, c.Height, c.Width)).ToArray();

    private static void AssertMatches(ImageCase c, double[][] references, float[] actual, Func<double[], double[]> transform, int outputWidth, string path, double extraRelative = 0)
    {
        int outputs = c.Height * outputWidth;
        double tolerance = RelativeTolerance(c.Height, c.Width);
        for (int n = 0; n < c.Count; n++)
        {
            var magnitude = references[n];
            double peak = magnitude.Max();
            var expected = transform(magnitude);
            for (int i = 0; i < outputs; i++)
            {
                double e = expected[i], a = actual[n * outputs + i];
                double allowed = tolerance * peak + extraRelative * Math.Abs(e) + 1e-30;
                Assert.True(Math.Abs(a - e) <= allowed,
                    $"{path} {c}: image {n} element ({i / outputWidth}, {i % outputWidth}) is {a:R}, expected {e:R} (error {Math.Abs(a - e):G3}, allowed {allowed:G3})");
            }
        }
    }

    /// <summary>Every size from 1 to 70 on each axis (the other axis drawn at random), a few images per call.</summary>
    [Fact]
    public void Every_axis_size_from_1_to_70_matches_the_float64_dft()
    {
        var random = new Random(70);
        for (int size = 1; size <= 70; size++)
        {
            foreach (var (h, w) in new[] { (size, random.Next(1, 71)), (random.Next(1, 71), size) })
            {
                var c = new ImageCase(random.Next(1, 4) + (size % 10 == 0 ? 16 : 0), h, w, 1.0, size % 2 == 0, random.Next());
                var images = c.Images();
                var expected = References(c, images);
                foreach (var path in Paths.All)
                    AssertMatches(c, expected, Run(images, h, w, default, path.Options), m => m, w, path.Name);
            }
        }
    }

    [Property(Arbitrary = new[] { typeof(ImageCases) }, MaxTest = 25)]
    public void Magnitude_matches_the_float64_dft_on_every_path(ImageCase c)
    {
        var images = c.Images();
        var expected = References(c, images);
        foreach (var path in Paths.All)
            AssertMatches(c, expected, Run(images, c.Height, c.Width, default, path.Options), m => m, c.Width, path.Name);
    }

    [Property(Arbitrary = new[] { typeof(ImageCases) }, MaxTest = 25)]
    public void Options_match_the_reference_pipeline(ImageCase c, bool shift, bool log1p, bool standardize, bool half)
    {
        var images = c.Images();
        var options = new FourierFeatureOptions { Shift = shift, Log1p = log1p, Standardize = standardize, HalfSpectrum = half, Clip = standardize ? 2.5f : 0 };
        int outputWidth = half ? c.Width / 2 + 1 : c.Width;
        double[] Pipeline(double[] m)
        {
            var v = log1p ? m.Select(x => Math.Log(1 + x)).ToArray() : m;
            if (standardize) v = DftReference.Standardize(v).Select(x => Math.Clamp(x, -2.5, 2.5)).ToArray();
            if (shift) v = DftReference.Shift(v, c.Height, c.Width, rowsOnly: half);
            return half ? DftReference.Half(v, c.Height, c.Width) : v;
        }
        var references = References(c, images);
        foreach (var path in Paths.All)
        {
            var actual = Run(images, c.Height, c.Width, options, path.Options);
            // log1p and standardisation rescale the error: bound it by the magnitude error mapped through them
            int outputs = c.Height * outputWidth;
            for (int n = 0; n < c.Count; n++)
            {
                var magnitude = references[n];
                double magnitudeError = RelativeTolerance(c.Height, c.Width) * magnitude.Max();
                var scaled = log1p ? magnitude.Select(x => Math.Log(1 + x)).ToArray() : magnitude;
                double mean = scaled.Average();
                double std = Math.Sqrt(scaled.Sum(v => (v - mean) * (v - mean)) / scaled.Length);
                var expected = Pipeline(magnitude);
                for (int i = 0; i < outputs; i++)
                {
                    double e = expected[i], a = actual[n * outputs + i];
                    double allowed = magnitudeError + 1e-6 * Math.Abs(e) + 1e-30;
                    if (standardize) allowed = std > 1e-3 * (Math.Abs(mean) + 1e-30) ? 2 * allowed / std + 1e-4 : double.PositiveInfinity;
                    Assert.True(Math.Abs(a - e) <= allowed,
                        $"{path} {c} {options}: image {n} element ({i / outputWidth}, {i % outputWidth}) is {a:R}, expected {e:R} (allowed {allowed:G3})");
                }
            }
        }
    }

    [Property(Arbitrary = new[] { typeof(ImageCases) }, MaxTest = 30)]
    public void Parseval_energy_is_preserved(ImageCase c)
    {
        var images = c.Images();
        int pixels = c.Height * c.Width;
        foreach (var path in Paths.All)
        {
            var m = Run(images, c.Height, c.Width, default, path.Options);
            for (int n = 0; n < c.Count; n++)
            {
                double energy = 0, spectral = 0;
                for (int i = 0; i < pixels; i++)
                {
                    energy += (double)images[n * pixels + i] * images[n * pixels + i];
                    spectral += (double)m[n * pixels + i] * m[n * pixels + i];
                }
                // Σ|X|² = H·W·Σx²
                Tolerance.AssertClose(spectral, pixels * energy, 4 * RelativeTolerance(c.Height, c.Width) * pixels * energy, $"{path} {c} image {n} energy");
            }
        }
    }

    [Property(Arbitrary = new[] { typeof(ImageCases) }, MaxTest = 30)]
    public void Magnitude_is_invariant_under_circular_shifts(ImageCase c, int dy, int dx)
    {
        var images = c.Images();
        int h = c.Height, w = c.Width, pixels = h * w;
        int sy = ((dy % h) + h) % h, sx = ((dx % w) + w) % w;
        var shifted = new float[images.Length];
        for (int n = 0; n < c.Count; n++)
        for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            shifted[n * pixels + (y + sy) % h * w + (x + sx) % w] = images[n * pixels + y * w + x];
        foreach (var path in Paths.All)
        {
            var a = Run(images, h, w, default, path.Options);
            var b = Run(shifted, h, w, default, path.Options);
            for (int n = 0; n < c.Count; n++)
            {
                double peak = a.Skip(n * pixels).Take(pixels).Max();
                for (int i = 0; i < pixels; i++)
                    Tolerance.AssertClose(b[n * pixels + i], a[n * pixels + i], 2 * RelativeTolerance(h, w) * peak, $"{path} {c} shift ({sy}, {sx}) image {n} element {i}");
            }
        }
    }

    [Property(Arbitrary = new[] { typeof(ImageCases) }, MaxTest = 30)]
    public void Magnitude_of_a_real_image_is_point_symmetric(ImageCase c)
    {
        var images = c.Images();
        int h = c.Height, w = c.Width, pixels = h * w;
        foreach (var path in Paths.All)
        {
            var m = Run(images, h, w, default, path.Options);
            for (int n = 0; n < c.Count; n++)
            {
                // columns 0 and W/2 of both halves are computed separately, so equal up to rounding
                double tolerance = 2 * RelativeTolerance(h, w) * m.Skip(n * pixels).Take(pixels).Max();
                for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    float a = m[n * pixels + y * w + x], b = m[n * pixels + (h - y) % h * w + (w - x) % w];
                    Assert.True(Math.Abs(a - b) <= tolerance, $"{path} {c}: |X({y},{x})| = {a:R} but |X(-{y},-{x})| = {b:R}");
                }
            }
        }
    }

    [Property(Arbitrary = new[] { typeof(ImageCases) }, MaxTest = 30)]
    public void Scaling_the_image_scales_the_magnitude(ImageCase c, bool negative, int exponent)
    {
        var images = c.Images();
        // a power of two scales every float operation exactly, so the results must be exactly |a| times as large
        float a = (negative ? -1 : 1) * MathF.ScaleB(1f, exponent % 8);
        var scaled = images.Select(x => a * x).ToArray();
        foreach (var path in Paths.All)
        {
            var m = Run(images, c.Height, c.Width, default, path.Options);
            var ms = Run(scaled, c.Height, c.Width, default, path.Options);
            for (int i = 0; i < m.Length; i++)
                Assert.True(ms[i] == Math.Abs(a) * m[i], $"{path} {c}: |F({a} x)| element {i} is {ms[i]:R}, |{a}|·|F(x)| is {Math.Abs(a) * m[i]:R}");
        }
        // a general factor: equal up to rounding
        var general = images.Select(x => -3.7f * x).ToArray();
        var reference = Run(images, c.Height, c.Width, default, default);
        var actual = Run(general, c.Height, c.Width, default, default);
        double tolerance = 2 * RelativeTolerance(c.Height, c.Width) * 3.7 * reference.Max();
        for (int i = 0; i < actual.Length; i++)
            Tolerance.AssertClose(actual[i], 3.7 * reference[i], tolerance, $"{c} |F(-3.7 x)| element {i}");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 9)]
    [InlineData(9, 1)]
    [InlineData(28, 28)]
    [InlineData(64, 64)]
    [InlineData(30, 45)]
    [InlineData(61, 67)]
    [InlineData(17, 32)]
    public void An_impulse_anywhere_gives_all_ones(int height, int width)
    {
        int pixels = height * width;
        var random = new Random(height * 100 + width);
        int count = 19;
        var images = new float[count * pixels];
        for (int n = 0; n < count; n++) images[n * pixels + random.Next(pixels)] = 1f;
        foreach (var path in Paths.All)
        {
            var m = Run(images, height, width, default, path.Options);
            for (int i = 0; i < m.Length; i++)
                Tolerance.AssertClose(m[i], 1.0, RelativeTolerance(height, width), $"{path} [{height} x {width}] element {i}");
        }
    }

    [Fact]
    public void Common_sizes_and_large_values_on_every_path()
    {
        foreach (var (h, w) in new[] { (28, 28), (64, 64), (30, 45), (97, 5), (128, 3) })
        {
            var c = new ImageCase(21, h, w, 1e4, false, h * w);
            var images = c.Images();
            var expected = References(c, images);
            foreach (var path in Paths.All)
                AssertMatches(c, expected, Run(images, h, w, default, path.Options), m => m, w, path.Name);
        }
    }

    /// <summary>Images that do not fit in a group's shared memory run from device scratch memory, with the same results.</summary>
    [Fact]
    public void Device_scratch_path_matches_the_reference()
    {
        var gpu = new ComputeOptions { Backend = Backend.Gpu, Accelerator = Paths.CpuAccelerator.Value };
        try
        {
            FastCalib.Fft.FourierGpu.SharedMemoryLimit = 0;
            foreach (var (h, w) in new[] { (28, 28), (61, 67), (9, 1) })
            {
                var c = new ImageCase(37, h, w, 1, false, h + w);
                var images = c.Images();
                AssertMatches(c, References(c, images), Run(images, h, w, default, gpu), m => m, w, "ilgpu-cpu, device scratch");
                var options = new FourierFeatureOptions { Shift = true, Log1p = true, Standardize = true, Clip = 2 };
                var shared = Run(images, h, w, options, new ComputeOptions { Backend = Backend.Scalar });
                var scratch = Run(images, h, w, options, gpu);
                for (int i = 0; i < shared.Length; i++) Tolerance.AssertClose(scratch[i], shared[i], 1e-3, $"[{h} x {w}] element {i}");
            }
        }
        finally
        {
            FastCalib.Fft.FourierGpu.SharedMemoryLimit = null;
        }
    }

    /// <summary>The device-view overload gives what the host overload gives.</summary>
    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void Device_views_match_the_host_api(string name)
    {
        var accelerator = Paths.Device(name);
        Skip.If(accelerator is null, Paths.NoCuda);
        var c = new ImageCase(50, 30, 45, 1, true, 8);
        var images = c.Images();
        var options = new FourierFeatureOptions { Shift = true, HalfSpectrum = true };
        var expected = Run(images, 30, 45, options, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
        using var x = accelerator!.Allocate1D(images);
        using var y = accelerator.Allocate1D<float>(expected.Length);
        FourierFeatures.Magnitude(accelerator.DefaultStream, x.View, y.View, 30, 45, options);
        accelerator.DefaultStream.Synchronize();
        Assert.Equal(expected, y.GetAsArray1D());
        Assert.Throws<ArgumentException>(() => { FourierFeatures.Magnitude(accelerator.DefaultStream, x.View, y.View, 30, 45); });
    }

    [Fact]
    public void Results_do_not_depend_on_threads_and_half_is_the_left_part_of_full()
    {
        var c = new ImageCase(300, 28, 28, 1, true, 5);
        var images = c.Images();
        foreach (var width in new[] { 0, 128, 256, 512 })
        {
            var options = new FourierFeatureOptions { Log1p = true, Standardize = true, Clip = 3 };
            var one = Run(images, 28, 28, options, new ComputeOptions { VectorWidth = width, MaxThreads = 1 });
            var all = Run(images, 28, 28, options, new ComputeOptions { VectorWidth = width });
            Assert.Equal(one, all);
            var half = Run(images, 28, 28, options with { HalfSpectrum = true }, new ComputeOptions { VectorWidth = width });
            for (int n = 0; n < c.Count; n++)
            for (int y = 0; y < 28; y++)
            for (int x = 0; x < 15; x++)
                Assert.Equal(all[(n * 28 + y) * 28 + x], half[(n * 28 + y) * 15 + x]);
        }
    }

    [Fact]
    public void Channels_are_images()
    {
        // [N = 3, C = 2, H, W] is 6 images: each channel's features equal that channel alone
        var c = new ImageCase(6, 12, 10, 1, false, 9);
        var images = c.Images();
        var all = Run(images, 12, 10, new FourierFeatureOptions { Shift = true }, default);
        for (int i = 0; i < 6; i++)
        {
            var one = Run(images.Skip(i * 120).Take(120).ToArray(), 12, 10, new FourierFeatureOptions { Shift = true }, default);
            Assert.Equal(one, all.Skip(i * 120).Take(120).ToArray());
        }
    }

    [Fact]
    public void A_constant_spectrum_standardises_to_zeros_and_an_empty_batch_is_fine()
    {
        foreach (var path in Paths.All)
        {
            var zeros = Run(new float[4 * 7 * 5], 7, 5, new FourierFeatureOptions { Standardize = true }, path.Options);
            Assert.All(zeros, v => Assert.Equal(0f, v));
            var impulse = new float[7 * 5];
            impulse[0] = 3;
            Assert.All(Run(impulse, 7, 5, new FourierFeatureOptions { Standardize = true, Log1p = true }, path.Options), v => Assert.Equal(0f, v));
            FourierFeatures.Magnitude(ReadOnlySpan<float>.Empty, Span<float>.Empty, 28, 28, default, path.Options);
        }
    }

    [Fact]
    public void NaN_in_one_image_stays_in_that_image()
    {
        var c = new ImageCase(20, 16, 16, 1, false, 3);
        var images = c.Images();
        var clean = Run(images, 16, 16, default, default);
        images[5 * 256 + 77] = float.NaN;
        foreach (var path in Paths.All)
        {
            var dirty = Run(images, 16, 16, default, path.Options);
            var reference = Run(c.Images(), 16, 16, default, path.Options);
            for (int n = 0; n < c.Count; n++)
            {
                var image = dirty.Skip(n * 256).Take(256).ToArray();
                if (n == 5) Assert.All(image, v => Assert.True(float.IsNaN(v), $"{path}: image 5 has {v}"));
                else Assert.Equal(reference.Skip(n * 256).Take(256), image);
            }
        }
        Assert.NotNull(clean);
    }

    [Fact]
    public void Bad_arguments_are_clear_errors()
    {
        var images = new float[2 * 28 * 28];
        var features = new float[2 * 28 * 28];
        var e1 = Assert.Throws<ArgumentOutOfRangeException>(() => FourierFeatures.Magnitude(images, features, 0, 28));
        Assert.Contains("height must be at least 1", e1.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => FourierFeatures.Magnitude(images, features, 28, -1));
        var e2 = Assert.Throws<ArgumentException>(() => FourierFeatures.Magnitude(images.AsSpan(1), features, 28, 28));
        Assert.Contains("not a whole number of 28x28 images", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => FourierFeatures.Magnitude(images, features.AsSpan(1), 28, 28));
        Assert.Contains("need 1568", e3.Message);
        var e4 = Assert.Throws<ArgumentException>(() => FourierFeatures.Magnitude(images, features, 28, 28, new FourierFeatureOptions { HalfSpectrum = true }));
        Assert.Contains("[2, 28, 15]", e4.Message);
        foreach (float clip in new[] { -1f, float.NaN, float.NegativeInfinity })
        {
            var e5 = Assert.Throws<ArgumentOutOfRangeException>(() => FourierFeatures.Magnitude(images, features, 28, 28, new FourierFeatureOptions { Clip = clip }));
            Assert.Contains("Clip must be greater than 0", e5.Message);
        }
        var e6 = Assert.Throws<ArgumentException>(() => FourierFeatures.Magnitude(images, images, 28, 28));
        Assert.Contains("overlaps", e6.Message);
        var e7 = Assert.Throws<ArgumentOutOfRangeException>(() => FourierFeatures.OutputLength(1, 1 << 15, 1 << 15));
        Assert.Contains("more than", e7.Message);
        Assert.Equal(3L * 40 * 21, FourierFeatures.OutputLength(3, 40, 40, halfSpectrum: true));
        Assert.Equal(5_000_000_000L * 64 * 64, FourierFeatures.OutputLength(5_000_000_000L, 64, 64));
    }
}
