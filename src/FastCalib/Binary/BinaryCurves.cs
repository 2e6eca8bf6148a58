namespace FastCalib;

/// <summary>The ROC curve as scikit-learn's roc_curve returns it: rates at decreasing thresholds, the first threshold +∞ (the point (0, 0)).</summary>
/// <param name="FalsePositiveRate">Increasing false positive rates: negatives with score ≥ the threshold over all negatives (NaN if there are none).</param>
/// <param name="TruePositiveRate">Increasing true positive rates (NaN if there are no positives).</param>
/// <param name="Thresholds">Decreasing thresholds: +∞, then the distinct scores kept.</param>
public sealed record RocCurve(double[] FalsePositiveRate, double[] TruePositiveRate, double[] Thresholds);

/// <summary>The precision–recall curve as scikit-learn's precision_recall_curve returns it.</summary>
/// <param name="Precision">Precision at each threshold, then a final 1 with no threshold.</param>
/// <param name="Recall">Decreasing recall at each threshold, then a final 0 (1 at every threshold if there are no positives).</param>
/// <param name="Thresholds">Increasing thresholds: every distinct score.</param>
public sealed record PrecisionRecallCurve(double[] Precision, double[] Recall, double[] Thresholds);

/// <summary>A decision threshold (predict positive when score ≥ <paramref name="Threshold"/>) and how it does.</summary>
/// <param name="Threshold">The threshold, one of the scores.</param>
/// <param name="Precision">Positives among the predictions at or above it (0 if there are none).</param>
/// <param name="Recall">The share of positives at or above it (the true positive rate).</param>
/// <param name="FalsePositiveRate">The share of negatives at or above it (NaN if there are no negatives).</param>
public readonly record struct OperatingPoint(double Threshold, double Precision, double Recall, double FalsePositiveRate);

/// <summary>Ranking quality of a binary classifier's scores and the thresholds users choose from its curves.</summary>
/// <param name="Count">Predictions.</param>
/// <param name="Positives">Predictions whose label is 1.</param>
/// <param name="Auroc">Area under the ROC curve (trapezoids, ties one half: scikit-learn's roc_auc_score); NaN with one class only.</param>
/// <param name="AveragePrecision">Σ_n (R_n − R_{n−1}) P_n over the thresholds (scikit-learn's average_precision_score, no interpolation); 0 without positives, as scikit-learn gives.</param>
/// <param name="Youden">The threshold of largest Youden's J = TPR − FPR (the highest such threshold on ties); null with one class only.</param>
/// <param name="MaxF1">The threshold of largest F1 = 2PR / (P + R) (the highest on ties); null without positives.</param>
/// <param name="TargetPrecision">The lowest threshold whose precision reaches the target (so the most recall at that precision); null if none does or no target was given.</param>
/// <param name="TargetRecall">The highest threshold whose recall reaches the target (so the fewest predictions at that recall); null if none does or no target was given.</param>
public sealed record BinaryThresholds(long Count, long Positives, double Auroc, double AveragePrecision,
    OperatingPoint? Youden, OperatingPoint? MaxF1, OperatingPoint? TargetPrecision, OperatingPoint? TargetRecall);

/// <summary>
/// ROC and precision–recall curves of a binary classifier's scores, their areas and threshold choices, exact, from
/// scores and 0/1 labels held in memory (one sort). Definitions are scikit-learn's: at each distinct score t
/// (decreasing), TP(t) and FP(t) count the positives and negatives scored ≥ t, so tied scores move together.
/// </summary>
public static class BinaryCurves
{
    /// <summary>Counts at each distinct score, highest first: thresholds t_k, TP(t_k) and FP(t_k) (scikit-learn's
    /// confusion_matrix_at_thresholds); also what <see cref="ScoreHistogram"/> gives at its bins' edges.</summary>
    internal sealed record Counts(double[] Thresholds, long[] TruePositives, long[] FalsePositives)
    {
        public long Positives => TruePositives.Length == 0 ? 0 : TruePositives[^1];

        public long Negatives => FalsePositives.Length == 0 ? 0 : FalsePositives[^1];

        public OperatingPoint Point(int k) => new(Thresholds[k], Precision(k), Positives == 0 ? double.NaN : (double)TruePositives[k] / Positives,
            Negatives == 0 ? double.NaN : (double)FalsePositives[k] / Negatives);

        public double Precision(int k) => TruePositives[k] + FalsePositives[k] == 0 ? 0 : (double)TruePositives[k] / (TruePositives[k] + FalsePositives[k]);
    }

    private static Counts Count(string op, ReadOnlySpan<float> scores, ReadOnlySpan<int> labels)
    {
        if (labels.Length != scores.Length)
            throw new ArgumentException($"{op}: {scores.Length} scores but {labels.Length} labels.", nameof(labels));
        int bad = Check.FirstNonFinite(scores);
        if (bad >= 0) throw new ArgumentException($"{op}: scores[{bad}] is {scores[bad]}; scores must be finite.", nameof(scores));
        int label = labels.IndexOfAnyExcept(0, 1);
        if (label >= 0) throw new ArgumentException($"{op}: labels[{label}] is {labels[label]}; binary labels must be 0 or 1.", nameof(labels));
        var keys = scores.ToArray();
        var positive = labels.ToArray();
        Array.Sort(keys, positive);   // ascending: walk from the end; the order inside a group of ties does not matter
        var thresholds = new List<double>();
        var tp = new List<long>();
        var fp = new List<long>();
        long truePositives = 0, falsePositives = 0;
        for (int end = keys.Length; end > 0;)
        {
            int start = end - 1;
            while (start > 0 && keys[start - 1] == keys[end - 1]) start--;
            for (int i = start; i < end; i++)
            {
                if (positive[i] == 1) truePositives++;
                else falsePositives++;
            }
            thresholds.Add(keys[start]);
            tp.Add(truePositives);
            fp.Add(falsePositives);
            end = start;
        }
        return new Counts(thresholds.ToArray(), tp.ToArray(), fp.ToArray());
    }

    /// <summary>
    /// The ROC curve. With <paramref name="dropIntermediate"/> (scikit-learn's default) a point collinear with both
    /// neighbours in a straight horizontal or vertical run (zero second difference of both counts) is left out; the
    /// area is the same either way.
    /// </summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is not finite, or a label is not 0 or 1.</exception>
    public static RocCurve Roc(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, bool dropIntermediate = true) =>
        Roc(Count("BinaryCurves.Roc", scores, labels), dropIntermediate);

    internal static RocCurve Roc(Counts c, bool dropIntermediate)
    {
        var keep = Enumerable.Range(0, c.Thresholds.Length).ToList();
        if (dropIntermediate && keep.Count > 2)
            keep = keep.Where(k => k == 0 || k == c.Thresholds.Length - 1
                || c.FalsePositives[k + 1] - 2 * c.FalsePositives[k] + c.FalsePositives[k - 1] != 0
                || c.TruePositives[k + 1] - 2 * c.TruePositives[k] + c.TruePositives[k - 1] != 0).ToList();
        var fpr = new double[keep.Count + 1];
        var tpr = new double[keep.Count + 1];
        var thresholds = new double[keep.Count + 1];
        thresholds[0] = double.PositiveInfinity;
        fpr[0] = c.Negatives == 0 ? double.NaN : 0;
        tpr[0] = c.Positives == 0 ? double.NaN : 0;
        for (int i = 0; i < keep.Count; i++)
        {
            var point = c.Point(keep[i]);
            thresholds[i + 1] = point.Threshold;
            fpr[i + 1] = point.FalsePositiveRate;
            tpr[i + 1] = point.Recall;
        }
        return new RocCurve(fpr, tpr, thresholds);
    }

    /// <summary>The precision–recall curve at every distinct score.</summary>
    /// <exception cref="ArgumentException">Lengths differ, a score is not finite, or a label is not 0 or 1.</exception>
    public static PrecisionRecallCurve PrecisionRecall(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels) =>
        PrecisionRecall(Count("BinaryCurves.PrecisionRecall", scores, labels));

    internal static PrecisionRecallCurve PrecisionRecall(Counts c)
    {
        int n = c.Thresholds.Length;
        var precision = new double[n + 1];
        var recall = new double[n + 1];
        var thresholds = new double[n];
        // increasing thresholds: the counts' last (lowest) threshold first
        for (int i = 0; i < n; i++)
        {
            int k = n - 1 - i;
            thresholds[i] = c.Thresholds[k];
            precision[i] = c.Precision(k);
            recall[i] = c.Positives == 0 ? 1 : (double)c.TruePositives[k] / c.Positives;
        }
        precision[n] = 1;
        recall[n] = 0;
        return new PrecisionRecallCurve(precision, recall, thresholds);
    }

    /// <summary>The ranking metrics and the thresholds of largest Youden's J and F1, and those reaching a target precision or recall.</summary>
    /// <param name="scores">Scores, higher meaning more likely positive (probabilities or logits).</param>
    /// <param name="labels">0 or 1 per score.</param>
    /// <param name="targetPrecision">A precision to reach, in [0, 1], or null.</param>
    /// <param name="targetRecall">A recall to reach, in [0, 1], or null.</param>
    /// <exception cref="ArgumentException">Lengths differ, a score is not finite, a label is not 0 or 1, or a target is outside [0, 1].</exception>
    public static BinaryThresholds Thresholds(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, double? targetPrecision = null, double? targetRecall = null)
    {
        const string op = "BinaryCurves.Thresholds";
        CheckTargets(op, targetPrecision, targetRecall);
        return Thresholds(Count(op, scores, labels), scores.Length, targetPrecision, targetRecall);
    }

    internal static void CheckTargets(string op, double? targetPrecision, double? targetRecall)
    {
        if (targetPrecision is { } tp && !(tp >= 0 && tp <= 1))
            throw new ArgumentOutOfRangeException(nameof(targetPrecision), tp, $"{op}: targetPrecision must be in [0, 1], got {tp}.");
        if (targetRecall is { } tr && !(tr >= 0 && tr <= 1))
            throw new ArgumentOutOfRangeException(nameof(targetRecall), tr, $"{op}: targetRecall must be in [0, 1], got {tr}.");
    }

    internal static BinaryThresholds Thresholds(Counts c, long count, double? targetPrecision, double? targetRecall)
    {
        long positives = c.Positives, negatives = c.Negatives;
        int n = c.Thresholds.Length;

        // one walk from the highest threshold down: trapezoids between consecutive ROC points from (0, 0), in counts;
        // average precision as each threshold's precision times the recall it adds (ΔTP / P; 0 without positives, as
        // scikit-learn's formula gives); the choices, with strict comparisons keeping the highest threshold on ties
        double area = 0, ap = 0;
        long previousTp = 0, previousFp = 0;
        int? youden = null, maxF1 = null, atPrecision = null, atRecall = null;
        double bestJ = double.NegativeInfinity, bestF1 = double.NegativeInfinity;
        for (int k = 0; k < n; k++)
        {
            area += (double)(c.FalsePositives[k] - previousFp) * (c.TruePositives[k] + previousTp) / 2;
            var point = c.Point(k);
            if (positives > 0) ap += (double)(c.TruePositives[k] - previousTp) / positives * point.Precision;
            (previousTp, previousFp) = (c.TruePositives[k], c.FalsePositives[k]);
            if (positives > 0 && negatives > 0 && point.Recall - point.FalsePositiveRate > bestJ) (bestJ, youden) = (point.Recall - point.FalsePositiveRate, k);
            double f1 = point.Precision + point.Recall == 0 ? 0 : 2 * point.Precision * point.Recall / (point.Precision + point.Recall);
            if (positives > 0 && f1 > bestF1) (bestF1, maxF1) = (f1, k);
            if (targetPrecision is { } p && point.Precision >= p) atPrecision = k;                 // the lowest such threshold
            if (targetRecall is { } r && positives > 0 && atRecall is null && point.Recall >= r) atRecall = k;   // the highest
        }
        double auroc = positives == 0 || negatives == 0 ? double.NaN : area / ((double)positives * negatives);
        OperatingPoint? At(int? k) => k is { } i ? c.Point(i) : null;
        return new BinaryThresholds(count, positives, auroc, ap, At(youden), At(maxF1), At(atPrecision), At(atRecall));
    }
}
