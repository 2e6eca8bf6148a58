using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Mixup;

using Mixup = FastCalib.Mixup;

/// <summary>A generated mixup case: shape, λ distribution, pairing and seed.</summary>
public sealed record MixupCase(int Rows, int Features, float Alpha, MixupLambda Lambda, MixupPairing Pairing, int Seed)
{
    public float[] Batch()
    {
        var random = new Random(Seed);
        return Enumerable.Range(0, Rows * Features).Select(_ => (float)(TestData.Normal(random) * 3)).ToArray();
    }

    public MixupPlan Plan() => MixupPlan.Create(Rows, Alpha, Seed, Lambda, Pairing);

    public override string ToString() => $"[{Rows} x {Features}], alpha {Alpha}, {Lambda}, {Pairing}, seed {Seed}";
}

/// <summary>A generated CutMix case: images, layout, box distribution and seed.</summary>
public sealed record CutMixCase(int Batch, int Channels, int Height, int Width, ImageLayout Layout, float Alpha, MixupPairing Pairing, int Seed)
{
    public override string ToString() => $"{Batch} x {Channels} x {Height} x {Width} {Layout}, alpha {Alpha}, {Pairing}, seed {Seed}";
}

public static class MixupArbitraries
{
    public static Arbitrary<MixupCase> Mixups() => Arb.From(
        from rows in Gen.Choose(1, 40)
        from features in Gen.Elements(1, 2, 3, 7, 16, 31, 33, 100, 257)
        from alpha in Gen.Elements(0f, 0.2f, 0.4f, 1f, 2f)
        from lambda in Gen.Elements(MixupLambda.PerBatch, MixupLambda.PerSample)
        from pairing in Gen.Elements(MixupPairing.Shuffle, MixupPairing.Flip, MixupPairing.Roll)
        from seed in Gen.Choose(0, int.MaxValue)
        select new MixupCase(rows, features, alpha, lambda, pairing, seed));

    public static Arbitrary<CutMixCase> CutMixes() => Arb.From(
        from batch in Gen.Choose(1, 8)
        from channels in Gen.Elements(1, 3)
        from height in Gen.Choose(1, 20)
        from width in Gen.Choose(1, 20)
        from layout in Gen.Elements(ImageLayout.Nchw, ImageLayout.Nhwc)
        from alpha in Gen.Elements(0.3f, 1f, 4f)
        from pairing in Gen.Elements(MixupPairing.Shuffle, MixupPairing.Flip, MixupPairing.Roll)
        from seed in Gen.Choose(0, int.MaxValue)
        select new CutMixCase(batch, channels, height, width, layout, alpha, pairing, seed));
}

/// <summary>
/// Mixup and CutMix against float64 references on generated shapes, λ distributions and pairings, on every path:
/// the blend, in place equal to out of place, soft targets summing to 1 and matching their definition, the fused
/// mixup cross-entropy and its gradient, and CutMix's pasted box and corrected λ.
/// </summary>
[Properties(Arbitrary = new[] { typeof(MixupArbitraries) }, MaxTest = 30)]
public class MixupPropertyTests
{
    [Property]
    public void Blend_matches_the_float64_reference_and_in_place_equals_out_of_place(MixupCase c)
    {
        var x = c.Batch();
        var plan = c.Plan();
        foreach (var path in Paths.All)
        {
            var y = TestData.Poisoned(x.Length, TestData.Poison);
            Mixup.Blend(x, y, c.Features, plan, path.Options);
            for (int i = 0; i < c.Rows; i++)
            {
                double l = plan.Lambda[i];
                for (int j = 0; j < c.Features; j++)
                {
                    double a = x[i * c.Features + j], b = x[plan.Partner[i] * c.Features + j];
                    double expected = l * a + (1 - l) * b;
                    float actual = y[i * c.Features + j];
                    Assert.False(TestData.IsPoison(actual), $"{path} {c}: [{i}, {j}] not written");
                    // two float32 products and a sum (a fused multiply-add on some paths): within a few ulp of the inputs
                    Assert.True(Math.Abs(actual - expected) <= 3e-7 * (Math.Abs(a) + Math.Abs(b)) + 1e-30, $"{path} {c}: [{i}, {j}] {actual} vs {expected}");
                }
            }
            bool permutation = plan.Partner.Order().SequenceEqual(Enumerable.Range(0, c.Rows));
            if (!permutation && path.Options.Backend != Backend.Gpu) continue;   // in place on the CPU needs a permutation
            var inPlace = x.ToArray();
            Mixup.BlendInPlace(inPlace, c.Features, plan, path.Options);
            Assert.Equal(y, inPlace);
        }
    }

    [Property]
    public void Mixed_targets_are_distributions_that_mix_the_smoothed_labels(MixupCase c)
    {
        int classes = Math.Max(2, c.Features % 13);
        var random = new Random(c.Seed);
        var labels = Enumerable.Range(0, c.Rows).Select(_ => random.Next(classes)).ToArray();
        var plan = c.Plan();
        foreach (float epsilon in new[] { 0f, 0.1f, 0.3f })
        {
            var targets = TestData.Poisoned(c.Rows * classes, TestData.Poison);
            Mixup.MixedTargets(labels, targets, classes, plan, epsilon);
            for (int i = 0; i < c.Rows; i++)
            {
                double sum = 0;
                for (int k = 0; k < classes; k++)
                {
                    double smoothA = (k == labels[i] ? 1 - epsilon : 0) + epsilon / classes;
                    double smoothB = (k == labels[plan.Partner[i]] ? 1 - epsilon : 0) + epsilon / classes;
                    double expected = plan.Lambda[i] * smoothA + (1 - plan.Lambda[i]) * smoothB;
                    float actual = targets[i * classes + k];
                    Assert.True(actual >= 0 && Math.Abs(actual - expected) <= 1e-6, $"{c} epsilon {epsilon}: target[{i}, {k}] {actual} vs {expected}");
                    sum += actual;
                }
                Assert.True(Math.Abs(sum - 1) <= 1e-5, $"{c} epsilon {epsilon}: row {i} sums to {sum}");
            }
        }
    }

    [Property]
    public void Mixed_cross_entropy_and_its_gradient_match_the_float64_reference(MixupCase c)
    {
        int classes = Math.Max(2, c.Features % 40);
        var random = new Random(c.Seed);
        var z = Enumerable.Range(0, c.Rows * classes).Select(_ => (float)(TestData.Normal(random) * 4)).ToArray();
        var labels = Enumerable.Range(0, c.Rows).Select(_ => random.Next(classes)).ToArray();
        var plan = c.Plan();
        const float epsilon = 0.1f;
        // reference: mean over rows of λ CE(z, smooth(a)) + (1 − λ) CE(z, smooth(b)), and its gradient p − q over rows
        double loss = 0;
        var gradient = new double[z.Length];
        for (int i = 0; i < c.Rows; i++)
        {
            var row = z.AsSpan(i * classes, classes).ToArray().Select(v => (double)v).ToArray();
            double max = row.Max(), lse = max + Math.Log(row.Sum(v => Math.Exp(v - max)));
            for (int k = 0; k < classes; k++)
            {
                double q = plan.Lambda[i] * ((k == labels[i] ? 1 - epsilon : 0) + epsilon / classes)
                    + (1 - plan.Lambda[i]) * ((k == labels[plan.Partner[i]] ? 1 - epsilon : 0) + epsilon / classes);
                loss -= q * (row[k] - lse);
                gradient[i * classes + k] = (Math.Exp(row[k] - lse) - q) / c.Rows;
            }
        }
        loss /= c.Rows;
        foreach (var path in Paths.All)
        {
            var grad = TestData.Poisoned(z.Length, TestData.Poison);
            double value = Mixup.MixedCrossEntropy(z, labels, grad, classes, plan, epsilon, path.Options);
            Assert.True(Math.Abs(value - loss) <= 1e-5 * (1 + loss), $"{path} {c}: loss {value} vs {loss}");
            for (int i = 0; i < z.Length; i++)
                Assert.True(Math.Abs(grad[i] - gradient[i]) <= 2e-6 / c.Rows + 1e-7, $"{path} {c}: gradient[{i}] {grad[i]} vs {gradient[i]}");
        }
    }

    [Property]
    public void CutMix_pastes_exactly_the_box_and_lambda_is_the_share_kept(CutMixCase c)
    {
        var plan = CutMixPlan.Create(c.Batch, c.Height, c.Width, c.Alpha, c.Seed, c.Pairing);
        // λ is a float: the share kept, rounded once (within 2^-25 of it; comparing decimal roundings fails at their boundaries)
        double kept = 1 - (double)plan.BoxHeight * plan.BoxWidth / (c.Height * c.Width);
        Assert.True(Math.Abs(plan.Lambda - kept) <= 3e-8, $"{c}: lambda {plan.Lambda:R}, share kept {kept:R}");
        Assert.InRange(plan.Top, 0, c.Height - plan.BoxHeight);
        Assert.InRange(plan.Left, 0, c.Width - plan.BoxWidth);
        var random = new Random(c.Seed);
        int image = c.Channels * c.Height * c.Width;
        var x = Enumerable.Range(0, c.Batch * image).Select(_ => (float)random.NextDouble()).ToArray();
        foreach (var path in Paths.All)
        {
            var y = TestData.Poisoned(x.Length, TestData.Poison);
            FastCalib.CutMix.Apply(x, y, c.Channels, c.Height, c.Width, c.Layout, plan, path.Options);
            for (int i = 0; i < c.Batch; i++)
                for (int ch = 0; ch < c.Channels; ch++)
                    for (int r = 0; r < c.Height; r++)
                        for (int col = 0; col < c.Width; col++)
                        {
                            bool inBox = r >= plan.Top && r < plan.Top + plan.BoxHeight && col >= plan.Left && col < plan.Left + plan.BoxWidth;
                            int source = inBox ? plan.Partner[i] : i;
                            long at = c.Layout == ImageLayout.Nchw
                                ? ((long)(ch * c.Height + r) * c.Width + col)
                                : ((long)(r * c.Width + col) * c.Channels + ch);
                            Assert.Equal(x[source * image + at], y[i * image + at]);
                        }
        }
    }
}
