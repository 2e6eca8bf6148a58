using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Mixup;

using Mixup = FastCalib.Mixup;

/// <summary>Mixup, soft targets, the fused mixup loss and CutMix, on every path, against direct references.</summary>
public class MixupTests
{
    private static float[] Batch(int rows, int features, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * features).Select(_ => (float)TestData.Normal(random)).ToArray();
    }

    [Fact]
    public void Plans_pair_as_documented_and_are_reproducible()
    {
        Assert.Equal(new[] { 4, 3, 2, 1, 0 }, MixupPlan.Create(5, 0.4f, 1, pairing: MixupPairing.Flip).Partner);
        Assert.Equal(new[] { 4, 0, 1, 2, 3 }, MixupPlan.Create(5, 0.4f, 1, pairing: MixupPairing.Roll).Partner);
        var shuffle = MixupPlan.Create(1000, 0.4f, 7);
        Assert.Equal(Enumerable.Range(0, 1000), shuffle.Partner.Order());
        Assert.Equal(shuffle.Partner, MixupPlan.Create(1000, 0.4f, 7).Partner);
        Assert.Equal(shuffle.Lambda, MixupPlan.Create(1000, 0.4f, 7).Lambda);
        Assert.Single(shuffle.Lambda.Distinct());
        Assert.True(MixupPlan.Create(1000, 0.4f, 7, MixupLambda.PerSample).Lambda.Distinct().Count() > 900);
        Assert.All(MixupPlan.Create(10, 0f, 3).Lambda, l => Assert.Equal(1f, l));
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => MixupPlan.Create(3, -1f, 0)).ParamName);
        Assert.Equal("alpha", Assert.Throws<ArgumentOutOfRangeException>(() => MixupPlan.Create(3, float.NaN, 0)).ParamName);
    }

    /// <summary>
    /// Beta(α, α) has mean 1/2 and variance 1 / (4 (2α + 1)). With n = 200,000 draws the sample mean's standard error
    /// is σ/√n and the sample variance's is below σ²·√(2/n) (Beta(α, α) has no heavier tails than a normal); the test
    /// allows six standard errors, so it fails by chance less than once in 10^8 runs.
    /// </summary>
    [Theory]
    [InlineData(0.2)]
    [InlineData(1.0)]
    [InlineData(3.0)]
    public void Beta_sampler_has_the_right_mean_and_variance(double alpha)
    {
        const int n = 200_000;
        var plan = MixupPlan.Create(n, (float)alpha, 42, MixupLambda.PerSample);
        double mean = plan.Lambda.Average(l => (double)l);
        double variance = plan.Lambda.Sum(l => (l - mean) * (l - mean)) / (n - 1);
        double sigma2 = 1 / (4 * (2 * alpha + 1));
        Assert.True(Math.Abs(mean - 0.5) <= 6 * Math.Sqrt(sigma2 / n), $"mean {mean}");
        Assert.True(Math.Abs(variance - sigma2) <= 6 * sigma2 * Math.Sqrt(2.0 / n), $"variance {variance} vs {sigma2}");
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Blend_matches_the_reference_in_and_out_of_place(KernelPath path)
    {
        foreach (var (rows, features) in new[] { (1, 1), (7, 5), (33, 31), (16, 784), (5, 3 * 64 * 64) })
        {
            var x = Batch(rows, features, rows * features);
            foreach (var lambda in new[] { MixupLambda.PerBatch, MixupLambda.PerSample })
            {
                var plan = MixupPlan.Create(rows, 0.4f, rows + features, lambda);
                var y = TestData.Poisoned(x.Length, TestData.Poison);
                Mixup.Blend(x, y, features, plan, path.Options);
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < features; j++)
                    {
                        // exact on the CPU paths; a GPU may fuse the multiply-add (one rounding fewer)
                        double l = plan.Lambda[i], a = x[i * features + j] * l, b = x[plan.Partner[i] * features + j] * (1 - (float)l);
                        Tolerance.AssertClose(y[i * features + j], a + b, 2.4e-7 * (Math.Abs(a) + Math.Abs(b)), $"{path} y[{i},{j}]");
                    }
                var inPlace = (float[])x.Clone();
                Mixup.BlendInPlace(inPlace, features, plan, path.Options);
                Assert.Equal(y, inPlace);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Lambda_one_gives_the_input_and_zero_the_partner(KernelPath path)
    {
        var x = Batch(9, 40, 5);
        var plan = MixupPlan.Create(9, 0.4f, 3);
        var one = plan with { Lambda = Enumerable.Repeat(1f, 9).ToArray() };
        var zero = plan with { Lambda = new float[9] };
        var y = new float[x.Length];
        Mixup.Blend(x, y, 40, one, path.Options);
        Assert.Equal(x, y);
        Mixup.Blend(x, y, 40, zero, path.Options);
        for (int i = 0; i < 9; i++) Assert.Equal(x.AsSpan(plan.Partner[i] * 40, 40).ToArray(), y.AsSpan(i * 40, 40).ToArray());
    }

    [SkippableTheory]
    [InlineData("ilgpu-cpu")]
    [InlineData("cuda")]
    public void Device_view_blend_matches_the_host_api(string name)
    {
        var accelerator = Paths.Device(name);
        Skip.If(accelerator is null, Paths.NoCuda);
        foreach (var (rows, features) in new[] { (1, 1), (7, 5), (33, 257) })
        {
            var x = Batch(rows, features, 3 * rows + features);
            var plan = MixupPlan.Create(rows, 0.4f, rows, MixupLambda.PerSample);
            var expected = new float[x.Length];
            Mixup.Blend(x, expected, features, plan, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
            using var device = plan.Upload(accelerator!);
            using var input = accelerator!.Allocate1D(x);
            using var output = accelerator.Allocate1D(TestData.Poisoned(x.Length, TestData.Poison));
            Mixup.Blend(accelerator.DefaultStream, input.View, output.View, features, device);
            accelerator.DefaultStream.Synchronize();
            Assert.Equal(expected, output.GetAsArray1D());
        }
        var other = MixupPlan.Create(4, 0.4f, 1).Upload(accelerator!);
        using var small = accelerator!.Allocate1D<float>(6);
        Assert.Equal("plan", Assert.Throws<ArgumentException>(() => Mixup.Blend(accelerator.DefaultStream, small.View, small.View, 2, other)).ParamName);
        other.Dispose();
        Assert.Equal("plan", Assert.Throws<ArgumentException>(() => new MixupPlan([0, 5], [1, 1]).Upload(accelerator)).ParamName);
    }

    [Fact]
    public void Same_seed_gives_identical_outputs_on_every_cpu_backend_and_the_ilgpu_cpu_accelerator()
    {
        var x = Batch(20, 100, 8);
        var plan = MixupPlan.Create(20, 0.3f, 99, MixupLambda.PerSample);
        float[]? first = null;
        foreach (var path in Paths.All.Where(p => p.Name != "cuda"))
        {
            var y = new float[x.Length];
            Mixup.Blend(x, y, 100, plan, path.Options);
            first ??= y;
            Assert.Equal(first, y);
        }
    }

    [Fact]
    public void Soft_targets_sum_to_one_and_mix_as_documented()
    {
        int[] labels = [2, 0, 1, 2];
        var smooth = new float[12];
        Mixup.SmoothLabels(labels, smooth, 3, 0.1f);
        Assert.Equal(new[] { 0.1f / 3, 0.1f / 3, 0.9f + 0.1f / 3 }, smooth.AsSpan(0, 3).ToArray());
        var plan = MixupPlan.Create(4, 0.4f, 2, MixupLambda.PerSample);
        var mixed = new float[12];
        Mixup.MixedTargets(labels, mixed, 3, plan, 0.1f);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(1f, mixed.AsSpan(i * 3, 3).ToArray().Sum(), 5);
            for (int c = 0; c < 3; c++)
            {
                double expected = plan.Lambda[i] * smooth[i * 3 + c] + (1 - plan.Lambda[i]) * smooth[plan.Partner[i] * 3 + c];
                Assert.Equal(expected, mixed[i * 3 + c], 6);
            }
        }
        Assert.Equal("epsilon", Assert.Throws<ArgumentOutOfRangeException>(() => Mixup.SmoothLabels(labels, smooth, 3, 1f)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => Mixup.SmoothLabels([3], new float[3], 3, 0f)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => Mixup.SmoothLabels(labels, new float[11], 3, 0f)).ParamName);
    }

    /// <summary>The fused mixup loss equals λ CE(a) + (1 − λ) CE(b) with smoothed targets in float64, and its gradient the finite differences.</summary>
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Mixed_cross_entropy_and_gradient_match_the_reference(KernelPath path)
    {
        foreach (var (rows, classes) in new[] { (6, 10), (3, 40), (2, 2) })
        {
            var c = new SoftmaxCase(rows, classes, 2, 1f, rows * classes, false);
            var z = c.Logits();
            var random = new Random(rows);
            var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
            var plan = MixupPlan.Create(rows, 0.5f, 4, MixupLambda.PerSample);
            const float epsilon = 0.1f;
            var targets = new float[rows * classes];
            Mixup.MixedTargets(labels, targets, classes, plan, epsilon);
            double Loss(double[] zz)
            {
                double loss = 0;
                for (int r = 0; r < rows; r++)
                {
                    var row = zz.Skip(r * classes).Take(classes).ToArray();
                    double max = row.Max(), lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
                    for (int j = 0; j < classes; j++) loss -= targets[r * classes + j] * (row[j] - lse);
                }
                return loss / rows;
            }
            var grad = TestData.Poisoned(z.Length, TestData.Poison);
            double value = Mixup.MixedCrossEntropy(z, labels, grad, classes, plan, epsilon, path.Options);
            var zd = z.Select(v => (double)v).ToArray();
            Assert.Equal(Loss(zd), value, 1e-5);
            for (int i = 0; i < z.Length; i++)
            {
                double keep = zd[i];
                zd[i] = keep + 1e-4;
                double up = Loss(zd);
                zd[i] = keep - 1e-4;
                double down = Loss(zd);
                zd[i] = keep;
                Assert.Equal((up - down) / 2e-4, grad[i], 2e-5);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void CutMix_pastes_the_box_and_corrects_lambda(KernelPath path)
    {
        foreach (var (h, w) in new[] { (28, 28), (7, 11), (1, 1) })
        {
            const int batch = 6, channels = 3;
            var nchw = Batch(batch, channels * h * w, h * w);
            var plan = CutMixPlan.Create(batch, h, w, 1f, h * 31 + w);
            double kept = 1 - (double)plan.BoxHeight * plan.BoxWidth / (h * w);
            Assert.True(Math.Abs(plan.Lambda - kept) <= 3e-8, $"lambda {plan.Lambda:R}, share kept {kept:R}");
            var outNchw = new float[nchw.Length];
            FastCalib.CutMix.Apply(nchw, outNchw, channels, h, w, ImageLayout.Nchw, plan, path.Options);
            // NHWC: the same images transposed must give the same result transposed
            var nhwc = ToNhwc(nchw, batch, channels, h, w);
            var outNhwc = new float[nhwc.Length];
            FastCalib.CutMix.Apply(nhwc, outNhwc, channels, h, w, ImageLayout.Nhwc, plan, path.Options);
            Assert.Equal(ToNhwc(outNchw, batch, channels, h, w), outNhwc);
            for (int i = 0; i < batch; i++)
                for (int ch = 0; ch < channels; ch++)
                    for (int y = 0; y < h; y++)
                        for (int x = 0; x < w; x++)
                        {
                            bool inBox = y >= plan.Top && y < plan.Top + plan.BoxHeight && x >= plan.Left && x < plan.Left + plan.BoxWidth;
                            int source = inBox ? plan.Partner[i] : i;
                            Assert.Equal(nchw[((source * channels + ch) * h + y) * w + x], outNchw[((i * channels + ch) * h + y) * w + x]);
                        }
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => CutMixPlan.Create(2, 0, 5, 1f, 1));
    }

    [Fact]
    public void Bad_shapes_and_plans_are_rejected()
    {
        var plan = MixupPlan.Create(3, 0.4f, 1);
        Assert.Equal("plan", Assert.Throws<ArgumentException>(() => Mixup.Blend(new float[8], new float[8], 2, plan)).ParamName);
        Assert.Equal("outputs", Assert.Throws<ArgumentException>(() => Mixup.Blend(new float[6], new float[5], 2, plan)).ParamName);
        Assert.Equal("inputs", Assert.Throws<ArgumentException>(() => Mixup.Blend(new float[7], new float[7], 2, plan)).ParamName);
        var notPermutation = new MixupPlan([0, 0, 1], [0.5f, 0.5f, 0.5f]);
        var y = new float[6];
        Mixup.Blend(new float[6], y, 2, notPermutation);   // out of place any partners are fine
        Assert.Equal("plan", Assert.Throws<ArgumentException>(() => Mixup.BlendInPlace(new float[6], 2, notPermutation)).ParamName);
        Assert.Equal("plan", Assert.Throws<ArgumentException>(() => Mixup.Blend(new float[6], y, 2, new MixupPlan([0, 1, 3], [1, 1, 1]))).ParamName);
        Assert.Equal("plan", Assert.Throws<ArgumentException>(() => Mixup.Blend(new float[6], y, 2, new MixupPlan([0, 1, 2], [1, 2, 1]))).ParamName);
    }

    private static float[] ToNhwc(float[] nchw, int batch, int channels, int h, int w)
    {
        var nhwc = new float[nchw.Length];
        for (int i = 0; i < batch; i++)
            for (int c = 0; c < channels; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        nhwc[((i * h + y) * w + x) * channels + c] = nchw[((i * channels + c) * h + y) * w + x];
        return nhwc;
    }
}
