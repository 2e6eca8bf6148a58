using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>A generated binary training set: scores from a miscalibrated logistic model, with ties and constant runs.</summary>
public sealed record BinaryCase(int Count, int Seed, bool Ties)
{
    public (float[] Scores, int[] Targets) Data()
    {
        var random = new Random(Seed);
        var scores = new float[Count];
        var targets = new int[Count];
        for (int i = 0; i < Count; i++)
        {
            double s = Ties ? random.Next(-3, 4) : TestData.Normal(random) * 2;
            scores[i] = (float)s;
            targets[i] = random.NextDouble() < 1 / (1 + Math.Exp(-(0.7 * s - 0.3))) ? 1 : 0;
        }
        return (scores, targets);
    }
}

public static class BinaryArbitraries
{
    public static Arbitrary<BinaryCase> Cases() => Arb.From(
        from count in Gen.Choose(1, 400)
        from seed in Gen.Choose(0, int.MaxValue)
        from ties in Gen.Elements(false, true)
        select new BinaryCase(count, seed, ties));
}

[Properties(Arbitrary = new[] { typeof(BinaryArbitraries) }, MaxTest = 60)]
public class BinaryCalibratorTests
{
    /// <summary>
    /// The O(n²) textbook form of isotonic regression: start with one block per distinct score (mean target), and
    /// while any adjacent pair of blocks is out of order, merge the first such pair into their weighted mean.
    /// </summary>
    private static double[] NaiveIsotonic(float[] scores, int[] targets, out double[] xs)
    {
        var groups = scores.Zip(targets).GroupBy(p => (double)p.First).OrderBy(g => g.Key).ToList();
        xs = groups.Select(g => g.Key).ToArray();
        var blocks = groups.Select(g => (Sum: (double)g.Sum(p => p.Second), Weight: (double)g.Count(), Points: 1)).ToList();
        bool merged = true;
        while (merged)
        {
            merged = false;
            for (int i = 0; i + 1 < blocks.Count; i++)
            {
                if (blocks[i].Sum / blocks[i].Weight > blocks[i + 1].Sum / blocks[i + 1].Weight)
                {
                    blocks[i] = (blocks[i].Sum + blocks[i + 1].Sum, blocks[i].Weight + blocks[i + 1].Weight, blocks[i].Points + blocks[i + 1].Points);
                    blocks.RemoveAt(i + 1);
                    merged = true;
                    break;
                }
            }
        }
        return blocks.SelectMany(b => Enumerable.Repeat(b.Sum / b.Weight, b.Points)).ToArray();
    }

    [Property]
    public void Isotonic_is_monotone_and_equals_the_naive_reference(BinaryCase c)
    {
        var (scores, targets) = c.Data();
        var fit = IsotonicCalibrator.Fit(scores, targets);
        var expected = NaiveIsotonic(scores, targets, out var xs);
        Assert.Equal(xs, fit.Thresholds);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], fit.Values[i], 1e-12);
        var sorted = scores.Order().ToArray();
        var applied = fit.Apply(sorted);
        for (int i = 1; i < applied.Length; i++) Assert.True(applied[i] >= applied[i - 1]);
        var grid = Enumerable.Range(0, 101).Select(k => -6f + 0.12f * k).ToArray();
        var onGrid = fit.Apply(grid);
        for (int i = 1; i < onGrid.Length; i++) Assert.True(onGrid[i] >= onGrid[i - 1]);
    }

    /// <summary>Platt's fit against an independent Newton solver in the test (no line search, started at the answer's neighbourhood).</summary>
    [Property]
    public void Platt_matches_a_reference_newton_solver(BinaryCase c)
    {
        var (scores, targets) = c.Data();
        var fit = PlattCalibrator.Fit(scores, targets, smoothTargets: true);
        int positives = targets.Sum(), negatives = targets.Length - positives;
        var t = targets.Select(y => y == 1 ? (positives + 1.0) / (positives + 2.0) : 1.0 / (negatives + 2.0)).ToArray();
        // the gradient of the cross-entropy vanishes at the optimum
        double ga = 0, gb = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            double p = 1 / (1 + Math.Exp(-(fit.A * scores[i] + fit.B)));
            ga += (p - t[i]) * scores[i];
            gb += p - t[i];
        }
        Assert.True(Math.Abs(ga) < 1e-6 * scores.Length && Math.Abs(gb) < 1e-6 * scores.Length, $"gradient ({ga}, {gb}) at A={fit.A}, B={fit.B}");
        // and a plain Newton iteration from the same start reaches the same point
        double a = 0, b = Math.Log((positives + 1.0) / (negatives + 1.0));
        for (int k = 0; k < 200; k++)
        {
            double g1 = 0, g2 = 0, h11 = 1e-12, h12 = 0, h22 = 1e-12;
            for (int i = 0; i < scores.Length; i++)
            {
                double p = 1 / (1 + Math.Exp(-(a * scores[i] + b))), w = p * (1 - p);
                g1 += (p - t[i]) * scores[i];
                g2 += p - t[i];
                h11 += w * scores[i] * scores[i];
                h12 += w * scores[i];
                h22 += w;
            }
            double det = h11 * h22 - h12 * h12;
            double da = -(h22 * g1 - h12 * g2) / det, db = -(h11 * g2 - h12 * g1) / det;
            // damped where a full step would overshoot (keeps the reference simple and convergent)
            double scale = Math.Min(1, 5 / Math.Max(Math.Abs(da), Math.Abs(db)));
            a += scale * da;
            b += scale * db;
        }
        Assert.Equal(a, fit.A, 1e-6 * (1 + Math.Abs(a)));
        Assert.Equal(b, fit.B, 1e-6 * (1 + Math.Abs(b)));
    }

    [Property]
    public void Save_then_load_gives_identical_outputs(BinaryCase c)
    {
        var (scores, targets) = c.Data();
        var probabilities = scores.Select(s => 1 / (1 + MathF.Exp(-s))).ToArray();
        foreach (BinaryCalibrator calibrator in new BinaryCalibrator[]
                 {
                     PlattCalibrator.Fit(scores, targets), IsotonicCalibrator.Fit(scores, targets), HistogramCalibrator.Fit(probabilities, targets, 10),
                 })
        {
            var input = calibrator is HistogramCalibrator ? probabilities : scores;
            var loaded = BinaryCalibrator.FromJson(calibrator.ToJson());
            Assert.Equal(calibrator.GetType(), loaded.GetType());
            Assert.Equal(calibrator.Apply(input), loaded.Apply(input));
        }
    }

    [Fact]
    public void Histogram_bins_hold_the_positive_rate()
    {
        var fit = HistogramCalibrator.Fit([0.05f, 0.1f, 0.15f, 0.6f, 0.65f, 1f], [0, 1, 0, 1, 1, 0], bins: 4);
        Assert.Equal(new[] { 1 / 3.0, 0.375, 1.0, 0.0 }, fit.Values);   // empty bin [0.25, 0.5) maps to its midpoint
        Assert.Equal(new[] { 1 / 3f, 0.375f, 1f, 0f, 1 / 3f }, fit.Apply([0.2f, 0.3f, 0.5f, 0.99f, -1f]));
    }

    [Fact]
    public void Constant_scores_and_single_classes_have_documented_results()
    {
        var platt = PlattCalibrator.Fit([0.3f, 0.3f, 0.3f, 0.3f], [1, 0, 1, 1]);
        Assert.Equal(0, platt.A, 6);
        // B fits the smoothed base rate: sigmoid(B) = mean of smoothed targets = (3 * 4/5 + 1/3) / 4
        Assert.Equal((3 * 0.8 + 1 / 3.0) / 4, 1 / (1 + Math.Exp(-platt.B)), 6);
        var isotonic = IsotonicCalibrator.Fit([2f, 2f], [1, 0]);
        Assert.Equal(new[] { 0.5f, 0.5f }, isotonic.Apply([-5f, 9f]));
        Assert.Throws<ArgumentException>(() => PlattCalibrator.Fit([1f, 2f], [1, 1], smoothTargets: false));
        var onlyPositives = PlattCalibrator.Fit([1f, 2f], [1, 1]);
        Assert.True(double.IsFinite(onlyPositives.A) && double.IsFinite(onlyPositives.B));
    }

    [Fact]
    public void Bad_input_is_rejected()
    {
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => PlattCalibrator.Fit([], [])).ParamName);
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([float.NaN], [1])).ParamName);
        Assert.Equal("targets", Assert.Throws<ArgumentException>(() => IsotonicCalibrator.Fit([0.5f], [2])).ParamName);
        Assert.Equal("targets", Assert.Throws<ArgumentException>(() => PlattCalibrator.Fit([0.5f], [1, 0])).ParamName);
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => HistogramCalibrator.Fit([1.5f], [1])).ParamName);
        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => HistogramCalibrator.Fit([0.5f], [1], 0)).ParamName);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => new PlattCalibrator(1, 0).Apply([1f, 2f], new float[1])).ParamName);
        Assert.Equal("json", Assert.Throws<ArgumentException>(() => BinaryCalibrator.FromJson("{\"kind\":\"nope\"}")).ParamName);
    }

    [Fact]
    public void Evaluation_reports_before_and_after()
    {
        var (z, labels) = TemperatureScalingTests.Synthetic(5000, 10, 2.5, 77);
        var fit = TemperatureScaling.Fit(z, labels, 10);
        var comparison = CalibrationEvaluation.Temperature(z, labels, 10, fit.Temperature);
        Assert.Equal(fit.NllBefore, comparison.Before!.NegativeLogLikelihood, 1e-5);
        Assert.Equal(fit.NllAfter, comparison.After.NegativeLogLikelihood, 1e-5);
        Assert.True(comparison.After.Ece < comparison.Before.Ece, $"ECE {comparison.Before.Ece} -> {comparison.After.Ece}");
        Assert.Equal(comparison.Before.Accuracy, comparison.After.Accuracy);   // temperature does not change the argmax

        var (scores, targets) = new BinaryCase(3000, 5, false).Data();
        var probabilities = scores.Select(s => 1 / (1 + MathF.Exp(-3 * s))).ToArray();   // overconfident
        var logOdds = scores.Select(s => 3 * s).ToArray();
        var platt = PlattCalibrator.Fit(logOdds, targets);
        var binary = CalibrationEvaluation.Binary(platt, logOdds, targets);
        Assert.Null(binary.Before);   // log-odds are not probabilities
        var iso = IsotonicCalibrator.Fit(probabilities, targets);
        var isoComparison = CalibrationEvaluation.Binary(iso, probabilities, targets);
        Assert.True(isoComparison.After.Ece < isoComparison.Before!.Ece);
    }
}
