using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>
/// The debiased RMS calibration error against torchmetrics' formula (written out here in float64 from the reference
/// bins), and AURC, E-AURC and AUROC against brute force: every order of tied predictions averaged, the oracle by
/// sorting correct predictions first, and the AUROC by counting pairs.
/// </summary>
public class SelectiveAndDebiasedTests
{
    /// <summary>torchmetrics' l2 with debias=True: Σ prop (acc − conf)² + Σ acc (acc − 1) prop / (prop·N − 1), NaN terms 0, sqrt if > 0.</summary>
    internal static double DebiasedReference(float[] confidence, bool[] correct, int bins, BinningRule rule)
    {
        var r = CalibrationReference.Compute(confidence, correct, bins, rule);
        double n = confidence.Length, ce = 0;
        for (int b = 0; b < r.Counts.Length; b++)
        {
            if (r.Counts[b] == 0) continue;
            double prop = r.Counts[b] / n, acc = r.Accuracy[b];
            ce += Math.Pow(acc - r.Confidence[b], 2) * prop;
            double debias = acc * (acc - 1) * prop / (prop * n - 1);
            ce += double.IsNaN(debias) ? 0 : debias;
        }
        return ce > 0 ? Math.Sqrt(ce) : 0;
    }

    [Theory]
    [InlineData(BinningRule.TorchMetrics, 15)]
    [InlineData(BinningRule.RightClosed, 10)]
    [InlineData(BinningRule.GuoReference, 7)]
    public void Debiased_rms_calibration_error_matches_torchmetrics_formula(BinningRule rule, int bins)
    {
        var random = new Random(bins);
        foreach (int n in new[] { 1, 2, 37, 5_000 })
        {
            // a calibrated source (correct with probability = confidence), plus exact edges, 0 and 1
            var confidence = Enumerable.Range(0, n).Select(i => i % 11 == 0 ? (float)(i % 3) / 2 : (float)random.NextDouble()).ToArray();
            var correct = confidence.Select(c => random.NextDouble() < c).ToArray();
            var accumulator = new CalibrationAccumulator(bins, rule);
            accumulator.AddConfidences(confidence, correct);
            var report = accumulator.Report();
            Assert.Equal(DebiasedReference(confidence, correct, bins, rule), report.RmsceDebiased, 12);
            Assert.True(report.RmsceDebiased <= report.Rmsce + 1e-15);
        }
        Assert.True(double.IsNaN(new CalibrationAccumulator(bins, rule).Report().RmsceDebiased));
    }

    [Fact]
    public void Debiasing_removes_most_of_the_bias_of_a_calibrated_source()
    {
        // on a perfectly calibrated source the true RMS calibration error is 0; with 2,000 predictions in 15 bins the
        // plain estimate is dominated by sampling noise, the debiased one is not
        var random = new Random(4);
        double plain = 0, debiased = 0;
        for (int trial = 0; trial < 50; trial++)
        {
            var confidence = Enumerable.Range(0, 2_000).Select(_ => (float)random.NextDouble()).ToArray();
            var correct = confidence.Select(c => random.NextDouble() < c).ToArray();
            var accumulator = new CalibrationAccumulator(15);
            accumulator.AddConfidences(confidence, correct);
            var report = accumulator.Report();
            plain += report.Rmsce * report.Rmsce;
            debiased += report.RmsceDebiased * report.RmsceDebiased;
        }
        Assert.True(debiased < plain / 4, $"mean squared: debiased {debiased / 50:E3}, plain {plain / 50:E3}");
    }

    // ---- selective prediction ----

    /// <summary>AURC of one order: (1/N) Σ_k errors among the first k / k.</summary>
    internal static double AurcOf(IReadOnlyList<bool> correctInOrder)
    {
        double sum = 0;
        int errors = 0;
        for (int k = 1; k <= correctInOrder.Count; k++)
        {
            if (!correctInOrder[k - 1]) errors++;
            sum += (double)errors / k;
        }
        return sum / correctInOrder.Count;
    }

    /// <summary>Every order that sorts confidence descending, ties in every arrangement: the average AURC.</summary>
    internal static double AurcOverTieOrders(float[] confidence, bool[] correct)
    {
        var groups = Enumerable.Range(0, confidence.Length).GroupBy(i => confidence[i]).OrderByDescending(g => g.Key)
            .Select(g => g.Select(i => correct[i]).ToArray()).ToList();
        var orders = new List<List<bool>> { new() };
        foreach (var group in groups)
            orders = orders.SelectMany(prefix => Permutations(group).Select(p => prefix.Concat(p).ToList())).ToList();
        return orders.Average(AurcOf);
    }

    private static IEnumerable<bool[]> Permutations(bool[] items) =>
        items.Length <= 1 ? [items] : Enumerable.Range(0, items.Length).SelectMany(i =>
            Permutations(items.Where((_, k) => k != i).ToArray()).Select(rest => new[] { items[i] }.Concat(rest).ToArray()));

    internal static double AurocByPairs(float[] confidence, bool[] correct)
    {
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < confidence.Length; i++)
            for (int j = 0; j < confidence.Length; j++)
                if (correct[i] && !correct[j])
                {
                    pairs++;
                    wins += confidence[i] > confidence[j] ? 1 : confidence[i] == confidence[j] ? 0.5 : 0;
                }
        return pairs == 0 ? double.NaN : wins / pairs;
    }

    [Property(MaxTest = 200)]
    public void Aurc_eaurc_and_auroc_match_brute_force(byte[] raw)
    {
        // up to 7 predictions on a coarse confidence grid, so ties are common
        var pairs = raw.Take(7).ToArray();
        var confidence = pairs.Select(b => (b >> 1 & 3) / 3f).ToArray();
        var correct = pairs.Select(b => (b & 1) == 1).ToArray();
        var report = SelectivePrediction.Compute(confidence, correct);
        if (pairs.Length == 0)
        {
            Assert.True(double.IsNaN(report.Aurc));
            return;
        }
        Assert.Equal(AurcOverTieOrders(confidence, correct), report.Aurc, 12);
        var oracle = AurcOf(correct.OrderByDescending(c => c).ToList());
        Assert.Equal(AurcOverTieOrders(confidence, correct) - oracle, report.ExcessAurc, 12);
        Assert.True(report.ExcessAurc >= -1e-12);
        double auroc = AurocByPairs(confidence, correct);
        if (double.IsNaN(auroc)) Assert.True(double.IsNaN(report.Auroc));
        else Assert.Equal(auroc, report.Auroc, 12);
        Assert.Equal(correct.Count(c => !c), report.Errors);
    }

    [Fact]
    public void Selective_metrics_on_known_rankings_and_without_ties()
    {
        // a perfect ranking: E-AURC 0, AUROC 1; the reverse: AUROC 0
        float[] confidence = [0.9f, 0.8f, 0.7f, 0.6f, 0.5f];
        bool[] ranked = [true, true, true, false, false];
        var perfect = SelectivePrediction.Compute(confidence, ranked);
        Assert.Equal(0, perfect.ExcessAurc, 15);
        Assert.Equal(1, perfect.Auroc);
        Assert.Equal((0 + 0 + 0 + 1 / 4.0 + 2 / 5.0) / 5, perfect.Aurc, 15);
        var reversed = SelectivePrediction.Compute(confidence, [false, false, true, true, true]);
        Assert.Equal(0, reversed.Auroc);
        // one tie group: every k has expected risk equal to the error rate; AUROC one half
        var tied = SelectivePrediction.Compute([0.7f, 0.7f, 0.7f, 0.7f], [true, false, true, true]);
        Assert.Equal(0.25, tied.Aurc, 15);
        Assert.Equal(0.5, tied.Auroc);
        // continuous confidences of 20,000 rows: the plain definition in the sorted order
        var random = new Random(3);
        var c = Enumerable.Range(0, 20_000).Select(_ => (float)random.NextDouble()).ToArray();
        var ok = c.Select(v => random.NextDouble() < v).ToArray();
        var order = Enumerable.Range(0, c.Length).OrderByDescending(i => c[i]).Select(i => ok[i]).ToList();
        Assert.Equal(AurcOf(order), SelectivePrediction.Compute(c, ok).Aurc, 12);
        // all correct: AUROC undefined
        Assert.True(double.IsNaN(SelectivePrediction.Compute([0.5f, 0.6f], [true, true]).Auroc));
        Assert.Throws<ArgumentException>(() => SelectivePrediction.Compute([0.5f, float.NaN], [true, false]));
        Assert.Throws<ArgumentException>(() => SelectivePrediction.Compute([0.5f], [true, false]));
    }

    [Fact]
    public void The_risk_coverage_curve_follows_its_definition_and_thins_evenly()
    {
        var random = new Random(6);
        // coarse confidences (many ties) and continuous ones
        foreach (bool coarse in new[] { true, false })
        {
            var c = Enumerable.Range(0, 3_000).Select(_ => coarse ? MathF.Round((float)random.NextDouble(), 2) : (float)random.NextDouble()).ToArray();
            var ok = c.Select(v => random.NextDouble() < v).ToArray();
            foreach (int maxPoints in new[] { 2, 50, 100_000 })
            {
                var curve = SelectivePrediction.Curve(c, ok, maxPoints);
                Assert.InRange(curve.Count, 2, maxPoints);
                if (maxPoints == 100_000) Assert.Equal(c.Distinct().Count(), curve.Count);
                Assert.Equal(1.0, curve[^1].Coverage);
                Assert.Equal(c.Max(), curve[0].Threshold);
                for (int i = 0; i < curve.Count; i++)
                {
                    var point = curve[i];
                    var kept = Enumerable.Range(0, c.Length).Where(k => c[k] >= point.Threshold).ToArray();
                    Assert.Equal((double)kept.Length / c.Length, point.Coverage, 15);
                    Assert.Equal(kept.Count(k => !ok[k]) / (double)kept.Length, point.Risk, 15);
                    if (i > 0) Assert.True(point.Threshold < curve[i - 1].Threshold);
                }
            }
            if (!coarse)
            {
                // without ties and thinning, AURC is the mean risk over the curve's points
                var full = SelectivePrediction.Curve(c, ok, 100_000);
                Assert.Equal(SelectivePrediction.Compute(c, ok).Aurc, full.Average(p => p.Risk), 12);
            }
        }
        Assert.Empty(SelectivePrediction.Curve([], []));
        Assert.Throws<ArgumentOutOfRangeException>(() => SelectivePrediction.Curve([0.5f], [true], 1));
    }
}
