using FsCheck.Xunit;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Entropy;

using Entropy = FastCalib.Entropy;

/// <summary>Entropy, the confidence penalty and prediction diversity against float64 references, on every path.</summary>
[Properties(Arbitrary = new[] { typeof(Arbitraries) }, MaxTest = 20)]
public class EntropyTests
{
    /// <summary>−Σ p ln p in float64, 0 ln 0 = 0.</summary>
    private static double ReferenceEntropy(ReadOnlySpan<float> p)
    {
        double h = 0;
        foreach (float v in p) if (v > 0) h -= v * Math.Log(v);
        return h;
    }

    /// <summary>Error bound: each term carries a couple of ulp from the float log and product, sums add √n·u.</summary>
    private static double Bound(double h, int cols) => 4e-7 * (1 + h) * (4 + Math.Sqrt(cols) + cols / 16.0) + 1e-6;

    [Property]
    public void From_probabilities_matches_the_reference_with_bounds(SoftmaxCase c)
    {
        var p = Softmax.SoftmaxPropertyTests.ReferenceProbabilities(c.Logits(), c);
        foreach (var path in Paths.All)
        {
            var h = TestData.Poisoned(c.Rows, TestData.Poison);
            double mean = Entropy.FromProbabilities(p, h, c.Cols, EntropyUnit.Nats, path.Options);
            double expectedMean = 0;
            for (int r = 0; r < c.Rows; r++)
            {
                double expected = ReferenceEntropy(p.AsSpan(r * c.Cols, c.Cols));
                expectedMean += expected / c.Rows;
                Tolerance.AssertClose(h[r], expected, Bound(expected, c.Cols), $"{path} {c}: H[{r}]");
                Assert.InRange(h[r], -Bound(0, c.Cols), Math.Log(c.Cols) + Bound(Math.Log(c.Cols), c.Cols));
            }
            Tolerance.AssertClose(mean, expectedMean, Bound(expectedMean, c.Cols), $"{path} {c}: mean");
        }
    }

    [Property]
    public void From_logits_equals_the_entropy_of_the_reference_softmax(SoftmaxCase c)
    {
        var z = c.Logits();
        foreach (var path in Paths.All)
        {
            var h = TestData.Poisoned(c.Rows, TestData.Poison);
            Entropy.FromLogits(z, h, c.Cols, c.Temperature, EntropyUnit.Nats, path.Options);
            for (int r = 0; r < c.Rows; r++)
            {
                var logp = Reference.LogSoftmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
                double expected = -logp.Sum(l => Math.Exp(l) * l);
                double spread = logp.Max() - logp.Min();   // size of the exponents
                Tolerance.AssertClose(h[r], expected, Bound(expected, c.Cols) + 2e-7 * Math.Min(spread, 104), $"{path} {c}: H[{r}]");
            }
        }
    }

    [Property]
    public void Confidence_penalty_and_its_gradient_match_the_reference(SoftmaxCase generated)
    {
        var c = generated with { Rows = Math.Min(generated.Rows, 4), Cols = Math.Min(generated.Cols, 40), Scale = Math.Min(generated.Scale, 3), Temperature = Math.Clamp(generated.Temperature, 0.2f, 20f) };
        var z = c.Logits();
        const float beta = 0.7f;
        double Loss(double[] zz)
        {
            double h = 0;
            for (int r = 0; r < c.Rows; r++)
            {
                var row = zz.Skip(r * c.Cols).Take(c.Cols).Select(v => v / c.Temperature).ToArray();
                double max = row.Max(), lse = Math.Log(row.Sum(v => Math.Exp(v - max))) + max;
                h -= row.Sum(v => Math.Exp(v - lse) * (v - lse));
            }
            return beta * (Math.Log(c.Cols) - h / c.Rows);
        }
        var zd = z.Select(v => (double)v).ToArray();
        foreach (var path in Paths.All)
        {
            var grad = TestData.Poisoned(z.Length, TestData.Poison);
            double value = Entropy.ConfidencePenalty(z, grad, c.Cols, beta, c.Temperature, path.Options);
            Assert.Equal(Loss(zd), value, 1e-5);
            for (int i = 0; i < z.Length; i++)
            {
                double step = 1e-4 * Math.Max(1, Math.Abs(zd[i]));
                double keep = zd[i];
                zd[i] = keep + step;
                double up = Loss(zd);
                zd[i] = keep - step;
                double down = Loss(zd);
                zd[i] = keep;
                double numeric = (up - down) / (2 * step);
                Tolerance.AssertClose(grad[i], numeric, 2e-4 * (Math.Abs(numeric) + beta / c.Temperature / c.Rows), $"{path} {c}: grad[{i}]");
            }
        }
    }

    /// <summary>
    /// Vocabulary-sized rows whose mass sits partly in a long tail of small probabilities (each below e^-20): every
    /// term above float's smallest normal must count, as the float64 reference counts them. Dropping terms below
    /// e^-20 instead of e^-104 is wrong here by about 4e-3 nats.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void From_logits_counts_the_whole_tail_of_vocabulary_sized_rows(KernelPath path)
    {
        const int cols = 131072, rows = 3;
        var z = new float[rows * cols];
        var random = new Random(17);
        for (int r = 0; r < rows; r++)
        {
            // a tail 20.1 to 20.6 below the likely tokens (each term below e^-20; together about 2e-4 of the mass and
            // 4e-3 nats), and a few likely tokens a little apart
            for (int j = 0; j < cols; j++) z[r * cols + j] = 5f * r - 20.1f - 0.5f * (float)random.NextDouble();
            for (int k = 0; k < 5; k++) z[r * cols + random.Next(cols)] = 5f * r - 0.1f * k;
        }
        var h = new float[rows];
        FastCalib.Entropy.FromLogits(z, h, cols, 1f, EntropyUnit.Nats, path.Options);
        for (int r = 0; r < rows; r++)
        {
            var row = z.AsSpan(r * cols, cols).ToArray();
            double max = row.Max(), s = row.Sum(v => Math.Exp(v - max));
            double expected = -row.Sum(v => { double lp = v - max - Math.Log(s); return Math.Exp(lp) * lp; });
            Assert.True(Math.Abs(h[r] - expected) <= 2e-4, $"{path} row {r}: {h[r]} vs {expected}");
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Uniform_one_hot_units_and_masked_logits(KernelPath path)
    {
        foreach (int cols in new[] { 1, 4, 10, 100 })
        {
            var uniform = Enumerable.Repeat(1f / cols, 2 * cols).ToArray();
            var oneHot = new float[2 * cols];
            oneHot[cols - 1] = 1;
            oneHot[cols] = 1;
            var h = new float[2];
            Entropy.FromProbabilities(uniform, h, cols, EntropyUnit.Nats, path.Options);
            Assert.All(h, v => Assert.Equal(Math.Log(cols), v, 1e-5));
            Entropy.FromProbabilities(uniform, h, cols, EntropyUnit.Bits, path.Options);
            Assert.All(h, v => Assert.Equal(Math.Log2(cols), v, 1e-5));
            Entropy.FromProbabilities(uniform, h, cols, EntropyUnit.Normalized, path.Options);
            Assert.All(h, v => Assert.Equal(cols == 1 ? 0 : 1, v, 1e-5));
            Entropy.FromProbabilities(oneHot, h, cols, EntropyUnit.Nats, path.Options);
            Assert.All(h, v => Assert.Equal(0f, v));
            // equal logits are uniform; a -inf logit has probability 0 and adds nothing
            var logits = new float[2 * cols];
            if (cols > 1) logits[cols] = float.NegativeInfinity;
            Entropy.FromLogits(logits, h, cols, 1f, EntropyUnit.Nats, path.Options);
            Assert.Equal(Math.Log(cols), h[0], 1e-5);
            Assert.Equal(cols > 1 ? Math.Log(cols - 1) : 0, h[1], 1e-5);
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void A_negative_or_NaN_entry_anywhere_in_a_row_rejects_it(KernelPath path)
    {
        // 37 columns: positions in the vector body and in the tail at every width
        const int cols = 37;
        var c = new SoftmaxCase(5, cols, 3, 1f, 8, false);
        var p = Softmax.SoftmaxPropertyTests.ReferenceProbabilities(c.Logits(), c);
        var h = new float[5];
        foreach (int j in new[] { 0, 5, 16, 31, 36 })
        foreach (float bad in new[] { -1e-3f, float.NegativeInfinity, float.NaN, -1.17549435e-38f })   // the last: the negative normal nearest 0
        {
            var q = p.ToArray();
            q[2 * cols + j] = bad;
            Assert.Contains("row 2", Assert.Throws<ArgumentException>(() => Entropy.FromProbabilities(q, h, cols, EntropyUnit.Nats, path.Options)).Message);
        }
        // negative zero is zero: one-hot rows written with -0 have entropy 0
        var oneHot = Enumerable.Repeat(-0f, 5 * cols).ToArray();
        for (int r = 0; r < 5; r++) oneHot[r * cols + r * 9] = 1;
        Assert.Equal(0, Entropy.FromProbabilities(oneHot, h, cols, EntropyUnit.Nats, path.Options));
        Assert.All(h, v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void A_NaN_or_infinite_logit_row_gives_NaN_there_and_in_the_mean_and_the_call_returns(KernelPath path)
    {
        // the mean's total is added atomically on the GPU paths; a NaN total must neither hang nor reach other rows
        const int cols = 37, rows = 6;
        var c = new SoftmaxCase(rows, cols, 3, 1f, 11, false);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity })
        {
            var z = c.Logits().ToArray();
            z[1 * cols + 36] = bad;
            z[4 * cols] = bad;
            var h = Enumerable.Repeat(-7f, rows).ToArray();
            double mean = Entropy.FromLogits(z, h, cols, 1f, EntropyUnit.Nats, path.Options);
            Assert.True(double.IsNaN(mean), $"{bad}: mean {mean}");
            for (int r = 0; r < rows; r++)
                Assert.True(r is 1 or 4 ? float.IsNaN(h[r]) : h[r] >= 0 && h[r] <= MathF.Log(cols) * (1 + 1e-6f), $"{bad}: row {r} gave {h[r]}");
        }
    }

    [Fact]
    public void Bad_input_is_rejected()
    {
        var h = new float[2];
        Assert.Contains("row 1", Assert.Throws<ArgumentException>(() => Entropy.FromProbabilities([0.5f, 0.5f, 1.2f, -0.2f], h, 2)).Message);
        Assert.Contains("row 0", Assert.Throws<ArgumentException>(() => Entropy.FromProbabilities([float.NaN, 1f, 0.5f, 0.5f], h, 2)).Message);
        Assert.Contains("row 1", Assert.Throws<ArgumentException>(() => Entropy.FromProbabilities([0.5f, 0.5f, 0.5f, 0.6f], h, 2)).Message);   // sums to 1.1
        Assert.Equal("entropy", Assert.Throws<ArgumentException>(() => Entropy.FromProbabilities([0.5f, 0.5f], h, 2)).ParamName);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Entropy.FromProbabilities([0.5f, 0.5f, 1f], h, 2)).ParamName);
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => Entropy.FromLogits([1f, 2f], new float[1], 2, -1f)).ParamName);
        Assert.Equal("beta", Assert.Throws<ArgumentOutOfRangeException>(() => Entropy.ConfidencePenalty([1f, 2f], new float[2], 2, float.NaN)).ParamName);
        Assert.Equal("gradLogits", Assert.Throws<ArgumentException>(() => Entropy.ConfidencePenalty([1f, 2f], new float[3], 2, 0.1f)).ParamName);
        Assert.True(double.IsNaN(Entropy.FromProbabilities([], [], 3)));
        Assert.Equal(0, Entropy.ConfidencePenalty([], [], 3, 0.5f));
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Diversity_histogram_and_collapse_monitor(KernelPath path)
    {
        var c = new SoftmaxCase(3000, 12, 2, 1f, 8, false);
        var p = Softmax.SoftmaxPropertyTests.ReferenceProbabilities(c.Logits(), c);
        var monitor = new PredictionDiversity(12);
        monitor.AddProbabilities(p, path.Options);
        var r = monitor.Report();
        var expected = new long[12];
        for (int i = 0; i < c.Rows; i++) expected[Reference.ArgMax(p.AsSpan(i * 12, 12))]++;
        Assert.Equal(expected, r.Histogram);
        Assert.Equal(c.Rows, r.Histogram.Sum());
        Assert.Equal(expected.Count(n => n > 0), r.DistinctClasses);
        Assert.Equal(expected.Max() / (double)c.Rows, r.TopShare, 12);
        double histogramEntropy = -expected.Where(n => n > 0).Sum(n => n / (double)c.Rows * Math.Log(n / (double)c.Rows));
        Assert.Equal(histogramEntropy / Math.Log(12), r.NormalizedEntropy, 12);
        Assert.Equal(Entropy.FromProbabilities(p, new float[c.Rows], 12), r.MeanEntropy, 1e-6);

        // merge of halves equals the whole; collapse and uniform extremes
        var a = new PredictionDiversity(12);
        var b = new PredictionDiversity(12);
        a.AddProbabilities(p.AsSpan(0, 1000 * 12), path.Options);
        b.AddProbabilities(p.AsSpan(1000 * 12), path.Options);
        a.Merge(b);
        Assert.Equal(r.Histogram, a.Report().Histogram);
        var collapse = new PredictionDiversity(5);
        collapse.AddPredictions([3, 3, 3, 3]);
        Assert.Equal((1, 3, 1.0, 0.0), (collapse.Report().DistinctClasses, collapse.Report().TopClass, collapse.Report().TopShare, collapse.Report().NormalizedEntropy));
        var uniform = new PredictionDiversity(4);
        uniform.AddPredictions([0, 1, 2, 3, 3, 2, 1, 0]);
        Assert.Equal(1.0, uniform.Report().NormalizedEntropy, 12);
        Assert.Equal("predicted", Assert.Throws<ArgumentOutOfRangeException>(() => uniform.AddPredictions([4])).ParamName);
        Assert.Throws<ArgumentException>(() => uniform.AddProbabilities([0.5f, 0.5f, 0.5f, -0.5f], path.Options));
        Assert.Equal(8, uniform.Count);
    }
}

public class EntropyDeviceTests
{
    public static IEnumerable<object[]> Accelerators() => new[] { new object[] { "ilgpu-cpu" }, new object[] { "cuda" } };

    [SkippableTheory]
    [MemberData(nameof(Accelerators))]
    public void Device_views_match_the_host_api(string name)
    {
        var maybe = Paths.Device(name);
        Skip.If(maybe is null, Paths.NoCuda);
        var accelerator = maybe!;
        var host = new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator };
        var c = new SoftmaxCase(40, 50, 3, 0.8f, 5, false);
        var z = c.Logits();
        var p = Softmax.SoftmaxPropertyTests.ReferenceProbabilities(z, c);
        var h = new float[c.Rows];
        var g = new float[z.Length];
        double meanP = FastCalib.Entropy.FromProbabilities(p, h, c.Cols, EntropyUnit.Bits, host);
        double meanZ = FastCalib.Entropy.FromLogits(z, new float[c.Rows], c.Cols, c.Temperature, EntropyUnit.Nats, host);
        double penalty = FastCalib.Entropy.ConfidencePenalty(z, g, c.Cols, 0.3f, c.Temperature, host);

        using var dp = accelerator.Allocate1D(p);
        using var dz = accelerator.Allocate1D(z);
        using var dh = accelerator.Allocate1D<float>(c.Rows);
        using var dg = accelerator.Allocate1D<float>(z.Length);
        using var dt = accelerator.Allocate1D<double>(1);
        var stream = accelerator.DefaultStream;
        FastCalib.Entropy.FromProbabilities(stream, dp.View, dh.View, dt.View, c.Cols, EntropyUnit.Bits);
        stream.Synchronize();
        Assert.Equal(h, dh.GetAsArray1D());
        Assert.Equal(meanP, dt.GetAsArray1D()[0], 1e-12);   // the same quantity as the host overload: the mean
        FastCalib.Entropy.FromLogits(stream, dz.View, dh.View, dt.View, c.Cols, c.Temperature);
        stream.Synchronize();
        Assert.Equal(meanZ, dt.GetAsArray1D()[0], 1e-12);
        FastCalib.Entropy.ConfidencePenalty(stream, dz.View, dg.View, dt.View, c.Cols, 0.3f, c.Temperature);
        stream.Synchronize();
        Assert.Equal(g, dg.GetAsArray1D());
        Assert.Equal(penalty, dt.GetAsArray1D()[0], 1e-12);   // the penalty itself, as the host overload returns it
    }
}
