using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Binary;

/// <summary>The histogram AUROC and AURC against the exact ones (BinaryCurves, SelectivePrediction; tested against their definitions) within their own bounds.</summary>
public class ScoreHistogramTests
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

    [Property(Arbitrary = new[] { typeof(ScoreHistogramTests) }, MaxTest = 40)]
    public void The_estimate_is_within_its_bound_of_the_exact_auroc((float[] Scores, int[] Labels, int Bins) c)
    {
        var streaming = new ScoreHistogram(c.Bins);
        streaming.Add(c.Scores, c.Labels);
        var estimate = streaming.Auroc();
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
        var a = new ScoreHistogram(c.Bins);
        var b = new ScoreHistogram(c.Bins);
        a.Add(c.Scores.AsSpan(0, half), c.Labels.AsSpan(0, half));
        b.Add(c.Scores.AsSpan(half), c.Labels.AsSpan(half), new ComputeOptions { MaxThreads = 1 });
        b.Merge(a);
        Assert.Equal(estimate, b.Auroc());
    }

    [Fact]
    public void Large_batches_on_all_threads_count_as_one_thread_does_and_separated_classes_have_no_error()
    {
        var (scores, labels, _) = Make(600_000, 0, 1 << 16, 5);
        var parallel = new ScoreHistogram();
        parallel.Add(scores, labels);
        var serial = new ScoreHistogram();
        serial.Add(scores, labels, new ComputeOptions { MaxThreads = 1 });
        Assert.Equal(serial.Auroc(), parallel.Auroc());
        Assert.True(parallel.Auroc().ErrorBound < 1e-4, $"bound {parallel.Auroc().ErrorBound}");

        var separated = new ScoreHistogram(4);
        separated.Add([0.1f, 0.2f, 0.9f, 1f], [0, 0, 1, 1]);
        Assert.Equal(new AurocEstimate(1, 0, 2, 2), separated.Auroc());
        var correct = new ScoreHistogram(4);
        correct.Add([0.1f, 0.9f], [false, true]);
        Assert.Equal(1, correct.Auroc().Auroc);
    }

    [Fact]
    public void Bad_scores_labels_and_bins_are_refused_by_name()
    {
        var s = new ScoreHistogram(8);
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => s.Add([0.5f, 1.5f], [0, 1])).ParamName);
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => s.Add([float.NaN], [0])).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => s.Add([0.5f], [3])).ParamName);
        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => new ScoreHistogram(1)).ParamName);
        Assert.Throws<ArgumentException>(() => s.Merge(new ScoreHistogram(16)));
        Assert.True(double.IsNaN(s.Auroc().Auroc));
    }

    [Property(Arbitrary = new[] { typeof(ScoreHistogramTests) }, MaxTest = 40)]
    public void Aurc_and_eaurc_are_within_their_bound_of_the_exact_values((float[] Scores, int[] Labels, int Bins) c)
    {
        var correct = c.Labels.Select(v => v == 1).ToArray();
        var histogram = new ScoreHistogram(c.Bins);
        histogram.Add(c.Scores, correct);
        var estimate = histogram.Selective();
        var exact = SelectivePrediction.Compute(c.Scores, correct);
        Assert.Equal(exact.Count, estimate.Count);
        Assert.Equal(exact.Errors, estimate.Errors);
        Assert.True(Math.Abs(estimate.Aurc - exact.Aurc) <= estimate.ErrorBound + 1e-9,
            $"AURC {estimate.Aurc} vs exact {exact.Aurc}: off by {Math.Abs(estimate.Aurc - exact.Aurc)}, bound {estimate.ErrorBound}");
        Assert.True(Math.Abs(estimate.ExcessAurc - exact.ExcessAurc) <= estimate.ErrorBound + 1e-9, $"E-AURC {estimate.ExcessAurc} vs {exact.ExcessAurc}");
        Assert.InRange(estimate.ErrorBound, 0, 1);
    }

    [Fact]
    public void One_confidence_per_bin_gives_the_exact_aurc()
    {
        // every value at a bin's centre: the bins are exactly the groups of equal confidence the exact AURC uses
        var random = new Random(3);
        const int bins = 64;
        var confidence = Enumerable.Range(0, 5000).Select(_ => (random.Next(bins) + 0.5f) / bins).ToArray();
        var correct = confidence.Select(v => random.NextDouble() < v).ToArray();
        var histogram = new ScoreHistogram(bins);
        histogram.Add(confidence, correct);
        var estimate = histogram.Selective();
        var exact = SelectivePrediction.Compute(confidence, correct);
        Assert.Equal(exact.Aurc, estimate.Aurc, 1e-10);
        Assert.Equal(exact.ExcessAurc, estimate.ExcessAurc, 1e-10);
        Assert.Equal(exact.Auroc, histogram.Auroc().Auroc, 1e-12);
        Assert.True(double.IsNaN(new ScoreHistogram(8).Selective().Aurc));
        // inside each bin the wrong predictions are the more confident ones: the exact AURC is the errors-first order,
        // which the bound must reach (it is the farther end here)
        var adversarial = new ScoreHistogram(4);
        var worst = Enumerable.Range(0, 400).Select(i => (i % 4) / 4f + (i % 3 == 0 ? 0.24f : 0.01f)).ToArray();
        var worstCorrect = worst.Select(v => v % 0.25f < 0.1f).ToArray();
        adversarial.Add(worst, worstCorrect);
        var worstEstimate = adversarial.Selective();
        double worstExact = SelectivePrediction.Compute(worst, worstCorrect).Aurc;
        Assert.True(Math.Abs(worstEstimate.Aurc - worstExact) <= worstEstimate.ErrorBound + 1e-12);
        Assert.True(Math.Abs(worstEstimate.Aurc - worstExact) >= 0.99 * worstEstimate.ErrorBound, $"off by {Math.Abs(worstEstimate.Aurc - worstExact)}, bound {worstEstimate.ErrorBound}");
        // no bin holding both a correct and a wrong prediction: nothing unknown, no error allowed
        var separated = new ScoreHistogram(8);
        separated.Add([0.05f, 0.1f, 0.6f, 0.7f, 0.95f], [false, false, true, false, true]);
        var s = separated.Selective();
        Assert.Equal(0, s.ErrorBound, 1e-15);
        Assert.Equal(SelectivePrediction.Compute([0.05f, 0.1f, 0.6f, 0.7f, 0.95f], [false, false, true, false, true]).Aurc, s.Aurc, 1e-12);
    }

    [Property(Arbitrary = new[] { typeof(ScoreHistogramTests) }, MaxTest = 40)]
    public void The_average_precision_estimate_is_within_its_bound_of_the_exact_one((float[] Scores, int[] Labels, int Bins) c)
    {
        var streaming = new ScoreHistogram(c.Bins);
        streaming.Add(c.Scores, c.Labels);
        var estimate = streaming.AveragePrecision();
        double exact = BinaryCurves.Thresholds(c.Scores, c.Labels).AveragePrecision;
        Assert.Equal((c.Labels.Count(v => v == 1), c.Labels.Count(v => v == 0)), (estimate.Positives, estimate.Negatives));
        Assert.True(Math.Abs(estimate.AveragePrecision - exact) <= estimate.ErrorBound + 1e-12,
            $"estimate {estimate.AveragePrecision} vs exact {exact}: off by {Math.Abs(estimate.AveragePrecision - exact)}, bound {estimate.ErrorBound}");
        Assert.InRange(estimate.ErrorBound, 0, 1);
        // the histogram's thresholds report the same estimate as its own AP
        Assert.Equal(estimate.AveragePrecision, streaming.Thresholds().AveragePrecision, 12);
        Assert.Equal(streaming.Auroc().Auroc, streaming.Thresholds().Auroc, 12);
    }

    /// <summary>Each score moved down to its bin's lower edge, as the histogram bins it (floor(s · B), 1 in the last bin).</summary>
    private static float[] ToEdges(float[] scores, int bins) => scores.Select(s => (float)((double)Math.Min((int)(s * bins), bins - 1) / bins)).ToArray();

    [Property(Arbitrary = new[] { typeof(ScoreHistogramTests) }, MaxTest = 40)]
    public void Curves_and_thresholds_are_the_exact_ones_of_the_scores_at_their_bins_edges((float[] Scores, int[] Labels, int Bins) c)
    {
        var streaming = new ScoreHistogram(c.Bins);
        streaming.Add(c.Scores, c.Labels);
        var edges = ToEdges(c.Scores, c.Bins);
        var roc = streaming.Roc();
        var exactRoc = BinaryCurves.Roc(edges, c.Labels);
        Assert.Equal(exactRoc.FalsePositiveRate, roc.FalsePositiveRate);
        Assert.Equal(exactRoc.TruePositiveRate, roc.TruePositiveRate);
        Assert.Equal(exactRoc.Thresholds, roc.Thresholds, (a, b) => Math.Abs(a - b) <= 1e-7 || a == b);
        var pr = streaming.PrecisionRecall();
        var exactPr = BinaryCurves.PrecisionRecall(edges, c.Labels);
        Assert.Equal(exactPr.Precision, pr.Precision);
        Assert.Equal(exactPr.Recall, pr.Recall);
        Assert.Equal(exactPr.Thresholds, pr.Thresholds, (a, b) => Math.Abs(a - b) <= 1e-7);
        var chosen = streaming.Thresholds(targetPrecision: 0.7, targetRecall: 0.8);
        var exact = BinaryCurves.Thresholds(edges, c.Labels, targetPrecision: 0.7, targetRecall: 0.8);
        Assert.Equal((exact.Count, exact.Positives), (chosen.Count, chosen.Positives));
        foreach (var (mine, theirs) in new[] { (chosen.Youden, exact.Youden), (chosen.MaxF1, exact.MaxF1), (chosen.TargetPrecision, exact.TargetPrecision), (chosen.TargetRecall, exact.TargetRecall) })
        {
            Assert.Equal(theirs is null, mine is null);
            if (mine is not { } m || theirs is not { } t) continue;
            Assert.Equal((t.Precision, t.Recall, t.FalsePositiveRate), (m.Precision, m.Recall, m.FalsePositiveRate));
            Assert.Equal(t.Threshold, m.Threshold, 7);
        }
        // scores on the edges already: the estimates are the exact values
        if ((c.Bins & (c.Bins - 1)) == 0)
        {
            var onEdges = new ScoreHistogram(c.Bins);
            onEdges.Add(edges, c.Labels);
            Assert.Equal(exact.AveragePrecision, onEdges.AveragePrecision().AveragePrecision, 12);
            if (!double.IsNaN(exact.Auroc)) Assert.Equal(exact.Auroc, onEdges.Auroc().Auroc, 12);
        }
    }

    [Fact]
    public void A_bin_holding_both_classes_bounds_the_average_precision_by_its_two_orders()
    {
        // one bin, 2 positives and 2 negatives: the exact AP is 1 with the positives first (scores 0.9, 0.9, 0.8, 0.8)
        // and (1/3 + 2/4)/2 = 5/12 with the negatives first; the estimate ties them all: 2/4 = 1/2
        var h = new ScoreHistogram(2);
        h.Add([0.9f, 0.9f, 0.8f, 0.8f], [1, 1, 0, 0]);
        var e = h.AveragePrecision();
        Assert.Equal(0.5, e.AveragePrecision, 15);
        Assert.Equal(0.5, e.ErrorBound, 15);                      // max(1 − 1/2, 1/2 − 5/12)
        Assert.Equal(1.0, BinaryCurves.Thresholds([0.9f, 0.9f, 0.8f, 0.8f], [1, 1, 0, 0]).AveragePrecision);
        Assert.Equal(5.0 / 12, BinaryCurves.Thresholds([0.6f, 0.7f, 0.8f, 0.9f], [1, 1, 0, 0]).AveragePrecision, 15);
        // no positives: 0, as the exact value; a bad target is refused by name
        var none = new ScoreHistogram(8);
        none.Add([0.2f, 0.7f], [0, 0]);
        Assert.Equal((0.0, 0.0), (none.AveragePrecision().AveragePrecision, none.AveragePrecision().ErrorBound));
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => none.Thresholds(targetPrecision: 1.5));
        Assert.Equal("targetPrecision", bad.ParamName);
        Assert.Empty(new ScoreHistogram(4).PrecisionRecall().Thresholds);
    }
}
