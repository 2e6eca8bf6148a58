using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Binary;

/// <summary>ROC and precision–recall curves, their areas and threshold choices, against scikit-learn's definitions.</summary>
public class BinaryCurvesTests
{
    private static void Near(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i].Equals(actual[i]) || Math.Abs(expected[i] - actual[i]) <= 1e-12, $"{what}[{i}]: {actual[i]} vs {expected[i]}");
    }

    private static double[] Doubles(params float[] v) => v.Select(x => (double)x).ToArray();

    [Fact]
    public void Scikit_learns_documented_example_gives_its_documented_curves()
    {
        // scikit-learn's docstrings of precision_recall_curve, roc_curve and average_precision_score use these four
        // predictions and print precision [0.5, 0.667, 0.5, 1, 1], recall [1, 1, 0.5, 0.5, 0], thresholds
        // [0.1, 0.35, 0.4, 0.8]; fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1], thresholds [inf, 0.8, 0.4, 0.35, 0.1];
        // average precision 0.83. AUROC by counting pairs: 3 of the 4 (positive, negative) pairs are ordered.
        float[] scores = [0.1f, 0.4f, 0.35f, 0.8f];
        int[] labels = [0, 0, 1, 1];
        var pr = BinaryCurves.PrecisionRecall(scores, labels);
        Near([0.5, 2.0 / 3, 0.5, 1, 1], pr.Precision, "precision");
        Near([1, 1, 0.5, 0.5, 0], pr.Recall, "recall");
        Near(Doubles(0.1f, 0.35f, 0.4f, 0.8f), pr.Thresholds, "thresholds");
        var roc = BinaryCurves.Roc(scores, labels);
        Near([0, 0, 0.5, 0.5, 1], roc.FalsePositiveRate, "fpr");
        Near([0, 0.5, 0.5, 1, 1], roc.TruePositiveRate, "tpr");
        Near([double.PositiveInfinity, .. Doubles(0.8f, 0.4f, 0.35f, 0.1f)], roc.Thresholds, "roc thresholds");
        var t = BinaryCurves.Thresholds(scores, labels);
        Assert.Equal(0.75, t.Auroc, 12);
        Assert.Equal(5.0 / 6, t.AveragePrecision, 12);
    }

    [Fact]
    public void Tied_scores_move_together()
    {
        // by hand: thresholds 0.9, 0.5, 0.1 give (TP, FP) = (1, 1), (3, 2), (3, 3) of 3 positives and 3 negatives.
        // AUROC: trapezoids in counts 0.5 + 2 + 3 = 5.5 of 9 (the Mann–Whitney count with ties one half, also 5.5).
        // AP = (1 - 1)·3/6 + (1 - 1/3)·3/5 + (1/3 - 0)·1/2 = 17/30. J = TPR - FPR: 0, 1/3, 0 -> 0.5;
        // F1: 0.4, 0.75, 2/3 -> 0.5; precision >= 0.55 only at 0.5; recall >= 0.3 from 0.9 down -> 0.9.
        float[] scores = [0.9f, 0.9f, 0.5f, 0.5f, 0.5f, 0.1f];
        int[] labels = [1, 0, 1, 0, 1, 0];
        var roc = BinaryCurves.Roc(scores, labels, dropIntermediate: false);
        Near([0, 1.0 / 3, 2.0 / 3, 1], roc.FalsePositiveRate, "fpr");
        Near([0, 1.0 / 3, 1, 1], roc.TruePositiveRate, "tpr");
        Assert.Equal(4, BinaryCurves.Roc(scores, labels).Thresholds.Length);   // the middle point is a corner: kept
        var pr = BinaryCurves.PrecisionRecall(scores, labels);
        Near([0.5, 0.6, 0.5, 1], pr.Precision, "precision");
        Near([1, 1, 1.0 / 3, 0], pr.Recall, "recall");
        var t = BinaryCurves.Thresholds(scores, labels, targetPrecision: 0.55, targetRecall: 0.3);
        Assert.Equal(5.5 / 9, t.Auroc, 12);
        Assert.Equal(17.0 / 30, t.AveragePrecision, 12);
        Assert.Equal(0.5f, (float)t.Youden!.Value.Threshold);
        Assert.Equal(0.5f, (float)t.MaxF1!.Value.Threshold);
        Assert.Equal(0.6, t.MaxF1.Value.Precision, 12);
        Assert.Equal(2.0 / 3, t.MaxF1.Value.FalsePositiveRate, 12);
        Assert.Equal(0.5f, (float)t.TargetPrecision!.Value.Threshold);
        Assert.Equal(0.9f, (float)t.TargetRecall!.Value.Threshold);
        Assert.Null(BinaryCurves.Thresholds(scores, labels, targetPrecision: 0.99).TargetPrecision);   // no threshold reaches it
    }

    /// <summary>Scores drawn from few values (many ties), both classes or one.</summary>
    public static Arbitrary<(float[] Scores, int[] Labels)> Cases() => Arb.From(
        from n in Gen.Choose(1, 60)
        from levels in Gen.Choose(1, 8)
        from scores in Gen.Choose(0, levels).Select(v => v / (float)levels - 0.3f).ArrayOf(n)
        from share in Gen.Choose(0, 4)
        from labels in Gen.Choose(0, 3).Select(v => v < share ? 1 : 0).ArrayOf(n)
        select (scores, labels));

    [Property(Arbitrary = new[] { typeof(BinaryCurvesTests) }, MaxTest = 60)]
    public void Curves_and_areas_match_counting_at_every_distinct_score((float[] Scores, int[] Labels) c)
    {
        var (s, y) = c;
        long positives = y.Count(v => v == 1), negatives = y.Length - positives;
        var distinct = s.Distinct().OrderByDescending(v => v).ToArray();
        long Tp(float t) => s.Where((v, i) => v >= t && y[i] == 1).LongCount();
        long Fp(float t) => s.Where((v, i) => v >= t && y[i] == 0).LongCount();

        var roc = BinaryCurves.Roc(s, y, dropIntermediate: false);
        Assert.Equal(distinct.Length + 1, roc.Thresholds.Length);
        for (int k = 0; k < distinct.Length; k++)
        {
            Assert.Equal(distinct[k], (float)roc.Thresholds[k + 1]);
            Assert.Equal(negatives == 0 ? double.NaN : (double)Fp(distinct[k]) / negatives, roc.FalsePositiveRate[k + 1]);
            Assert.Equal(positives == 0 ? double.NaN : (double)Tp(distinct[k]) / positives, roc.TruePositiveRate[k + 1]);
        }
        // the dropped curve: a subsequence with the same ends
        var dropped = BinaryCurves.Roc(s, y);
        Assert.Equal(roc.Thresholds[0], dropped.Thresholds[0]);
        Assert.Equal(roc.Thresholds[^1], dropped.Thresholds[^1]);
        Assert.True(dropped.Thresholds.All(roc.Thresholds.Contains));

        var pr = BinaryCurves.PrecisionRecall(s, y);
        var ascending = distinct.Reverse().ToArray();
        for (int i = 0; i < ascending.Length; i++)
        {
            long tp = Tp(ascending[i]), fp = Fp(ascending[i]);
            Assert.Equal(tp + fp == 0 ? 0 : (double)tp / (tp + fp), pr.Precision[i]);
            Assert.Equal(positives == 0 ? 1 : (double)tp / positives, pr.Recall[i]);
        }

        var t = BinaryCurves.Thresholds(s, y);
        // AUROC: the probability that a positive outscores a negative, ties one half, by counting every pair
        double pairs = 0;
        for (int i = 0; i < s.Length; i++)
            for (int j = 0; j < s.Length; j++)
                if (y[i] == 1 && y[j] == 0) pairs += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
        if (positives == 0 || negatives == 0) Assert.True(double.IsNaN(t.Auroc));
        else Assert.Equal(pairs / (positives * negatives), t.Auroc, 12);
        // AP: precision at each threshold weighted by the recall it adds
        double ap = 0, previousRecall = 0;
        foreach (float th in distinct)
        {
            double recall = positives == 0 ? 1 : (double)Tp(th) / positives;
            long predicted = Tp(th) + Fp(th);
            ap += (recall - previousRecall) * (predicted == 0 ? 0 : (double)Tp(th) / predicted);
            previousRecall = recall;
        }
        Assert.Equal(positives == 0 ? 0 : ap, t.AveragePrecision, 12);
        // the chosen points are best over every threshold
        if (t.Youden is { } youden)
            Assert.True(distinct.All(th => (double)Tp(th) / positives - (double)Fp(th) / negatives <= youden.Recall - youden.FalsePositiveRate + 1e-12));
        else Assert.True(positives == 0 || negatives == 0);
        Assert.Equal(positives == 0, t.MaxF1 is null);
    }

    [Fact]
    public void Bad_input_is_refused_by_name()
    {
        Assert.Equal("scores", Assert.Throws<ArgumentException>(() => BinaryCurves.Roc([0.5f, float.NaN], [0, 1])).ParamName);
        Assert.Contains("labels[1] is 2", Assert.Throws<ArgumentException>(() => BinaryCurves.PrecisionRecall([0.5f, 0.2f], [0, 2])).Message);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => BinaryCurves.Thresholds([0.5f, 0.2f], [0])).ParamName);
        Assert.Equal("targetRecall", Assert.Throws<ArgumentOutOfRangeException>(() => BinaryCurves.Thresholds([0.5f], [1], targetRecall: 1.5)).ParamName);
        var empty = BinaryCurves.Thresholds([], []);
        Assert.True(double.IsNaN(empty.Auroc));
        Assert.Null(empty.Youden);
    }
}
