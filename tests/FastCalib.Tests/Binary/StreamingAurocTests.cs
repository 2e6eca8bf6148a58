using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Binary;

/// <summary>The histogram AUROC against the exact one (which is tested against scikit-learn's definition) within its own bound.</summary>
public class StreamingAurocTests
{
    /// <summary>Scores in [0, 1] on a grid of 2^k levels (ties, and bins holding both classes) or continuous.</summary>
    public static Arbitrary<(float[] Scores, int[] Labels, int Bins)> Cases() => Arb.From(
        from n in Gen.Choose(1, 3000)
        from levels in Gen.Elements(2, 16, 1000, 0)
        from bins in Gen.Elements(2, 7, 64, 1 << 16)
        from seed in Gen.Choose(0, int.MaxValue)
        select Make(n, levels, bins, seed));

    private static (float[], int[], int) Make(int n, int levels, int bins, int seed)
    {
        var random = new Random(seed);
        var labels = Enumerable.Range(0, n).Select(_ => random.Next(3) == 0 ? 1 : 0).ToArray();
        var scores = labels.Select(y =>
        {
            double v = Math.Clamp((y == 1 ? 0.62 : 0.45) + 0.2 * TestData.Normal(random), 0, 1);
            return levels == 0 ? (float)v : (float)(Math.Round(v * (levels - 1)) / (levels - 1));
        }).ToArray();
        return (scores, labels, bins);
    }

    [Property(Arbitrary = new[] { typeof(StreamingAurocTests) }, MaxTest = 40)]
    public void The_estimate_is_within_its_bound_of_the_exact_auroc((float[] Scores, int[] Labels, int Bins) c)
    {
        var streaming = new StreamingAuroc(c.Bins);
        streaming.Add(c.Scores, c.Labels);
        var estimate = streaming.Result();
        double exact = BinaryCurves.Thresholds(c.Scores, c.Labels).Auroc;
        Assert.Equal(c.Labels.Count(v => v == 1), estimate.Positives);
        if (double.IsNaN(exact))
        {
            Assert.True(double.IsNaN(estimate.Auroc));
            return;
        }
        Assert.True(Math.Abs(estimate.Auroc - exact) <= estimate.ErrorBound + 1e-12,
            $"estimate {estimate.Auroc} vs exact {exact}: off by {Math.Abs(estimate.Auroc - exact)}, bound {estimate.ErrorBound}");
        Assert.InRange(estimate.ErrorBound, 0, 0.5);

        // any split, merged, and many threads: the same counts, so the same numbers bit for bit
        int half = c.Scores.Length / 2;
        var a = new StreamingAuroc(c.Bins);
        var b = new StreamingAuroc(c.Bins);
        a.Add(c.Scores.AsSpan(0, half), c.Labels.AsSpan(0, half));
        b.Add(c.Scores.AsSpan(half), c.Labels.AsSpan(half), new ComputeOptions { MaxThreads = 1 });
        b.Merge(a);
        Assert.Equal(estimate, b.Result());
    }

    [Fact]
    public void Large_batches_on_all_threads_count_as_one_thread_does_and_separated_classes_have_no_error()
    {
        var (scores, labels, _) = Make(600_000, 0, 1 << 16, 5);
        var parallel = new StreamingAuroc();
        parallel.Add(scores, labels);
        var serial = new StreamingAuroc();
        serial.Add(scores, labels, new ComputeOptions { MaxThreads = 1 });
        Assert.Equal(serial.Result(), parallel.Result());
        Assert.True(parallel.Result().ErrorBound < 1e-4, $"bound {parallel.Result().ErrorBound}");

        var separated = new StreamingAuroc(4);
        separated.Add([0.1f, 0.2f, 0.9f, 1f], [0, 0, 1, 1]);
        Assert.Equal(new AurocEstimate(1, 0, 2, 2), separated.Result());
        var correct = new StreamingAuroc(4);
        correct.Add([0.1f, 0.9f], [false, true]);
        Assert.Equal(1, correct.Result().Auroc);
    }

    [Fact]
    public void Bad_scores_labels_and_bins_are_refused_by_name()
    {
        var s = new StreamingAuroc(8);
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => s.Add([0.5f, 1.5f], [0, 1])).ParamName);
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => s.Add([float.NaN], [0])).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => s.Add([0.5f], [3])).ParamName);
        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => new StreamingAuroc(1)).ParamName);
        Assert.Throws<ArgumentException>(() => s.Merge(new StreamingAuroc(16)));
        Assert.True(double.IsNaN(s.Result().Auroc));
    }
}
