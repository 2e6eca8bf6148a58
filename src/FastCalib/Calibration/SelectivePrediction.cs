namespace FastCalib;

/// <summary>
/// How well confidence ranks predictions for selective prediction (keep the most confident, abstain on the rest),
/// exact, from (confidence, correct) pairs held in memory (sorted once).
/// </summary>
/// <param name="Count">Predictions.</param>
/// <param name="Errors">Wrong predictions among them.</param>
/// <param name="Aurc">
/// Area under the risk–coverage curve (Geifman and El-Yaniv 2017): (1/N) Σ_{k=1..N} risk(k), risk(k) the error rate
/// among the k most confident predictions. Predictions of equal confidence are one group: inside it, risk(k) is its
/// expectation over the orders of the group (so the value does not depend on input order); without ties this is
/// the plain definition.
/// </param>
/// <param name="ExcessAurc">
/// E-AURC (Geifman et al. 2019): <paramref name="Aurc"/> minus the AURC of an oracle that ranks every correct
/// prediction first, computed for the same N and error count (0 for a perfect ranking).
/// </param>
/// <param name="Auroc">
/// Area under the ROC curve of confidence for telling correct from wrong predictions: the probability that a correct
/// prediction is more confident than a wrong one, ties counting one half (the Mann–Whitney statistic, as
/// scikit-learn's roc_auc_score computes it). NaN when all predictions are correct or all are wrong.
/// </param>
public sealed record SelectiveReport(long Count, long Errors, double Aurc, double ExcessAurc, double Auroc);

/// <summary>A point of the risk–coverage curve: keep the predictions of confidence ≥ <paramref name="Threshold"/>.</summary>
/// <param name="Threshold">The confidence threshold.</param>
/// <param name="Coverage">The share of predictions kept.</param>
/// <param name="Risk">The error rate among them.</param>
public readonly record struct RiskCoveragePoint(float Threshold, double Coverage, double Risk);

/// <summary>Selective-prediction metrics: AURC, E-AURC and the AUROC of confidence (see <see cref="SelectiveReport"/>), and the risk–coverage curve.</summary>
public static class SelectivePrediction
{
    /// <summary>
    /// The risk–coverage curve: one point per distinct confidence, from the highest (least coverage) down, each
    /// keeping every prediction at or above it; when there are more than <paramref name="maxPoints"/> distinct
    /// confidences, the points kept are spread evenly in coverage (the first and the last always among them).
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length, a confidence is NaN, or maxPoints is below 2.</exception>
    public static IReadOnlyList<RiskCoveragePoint> Curve(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct, int maxPoints = 1000)
    {
        if (maxPoints < 2) throw new ArgumentOutOfRangeException(nameof(maxPoints), maxPoints, "SelectivePrediction.Curve: maxPoints must be at least 2.");
        var (keys, wrong) = Sorted(confidence, correct, "SelectivePrediction.Curve");
        return Curve(keys, wrong, maxPoints);
    }

    /// <summary>The metrics and the curve from one sort (what the tool reports with --risk-coverage).</summary>
    internal static (SelectiveReport Report, IReadOnlyList<RiskCoveragePoint> Curve) WithCurve(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct, int maxPoints)
    {
        var (keys, wrong) = Sorted(confidence, correct, "SelectivePrediction.Compute");
        return (Compute(keys, wrong), Curve(keys, wrong, maxPoints));
    }

    private static IReadOnlyList<RiskCoveragePoint> Curve(float[] keys, int[] wrong, int maxPoints)
    {
        int n = keys.Length;
        var points = new List<RiskCoveragePoint>();
        long kept = 0, errors = 0;
        double nextCoverage = 0;
        for (int end = n; end > 0;)
        {
            int start = end - 1;
            while (start > 0 && keys[start - 1] == keys[end - 1]) start--;
            for (int i = start; i < end; i++) errors += wrong[i];
            kept += end - start;
            double coverage = (double)kept / n;
            // evenly spaced in coverage; the last point (everything kept) always
            if (coverage >= nextCoverage || start == 0)
            {
                points.Add(new RiskCoveragePoint(keys[start], coverage, (double)errors / kept));
                nextCoverage = coverage + 1.0 / (maxPoints - 1);
            }
            end = start;
        }
        return points;
    }

    /// <summary>Confidences sorted ascending with their wrong flags (1 wrong, 0 correct), after the argument checks.</summary>
    private static (float[] Keys, int[] Wrong) Sorted(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct, string op)
    {
        if (confidence.Length != correct.Length)
            throw new ArgumentException($"{op}: {confidence.Length} confidences but {correct.Length} correct flags.", nameof(correct));
        int nan = Check.FirstOutside(confidence, float.NegativeInfinity, float.PositiveInfinity);
        if (nan >= 0) throw new ArgumentException($"{op}: confidence {nan} is NaN.", nameof(confidence));
        var keys = confidence.ToArray();
        var wrong = new int[keys.Length];
        for (int i = 0; i < keys.Length; i++) wrong[i] = correct[i] ? 0 : 1;
        Array.Sort(keys, wrong);   // ascending; groups of equal confidence are contiguous, their inner order does not matter
        return (keys, wrong);
    }

    /// <summary>The metrics of the pairs (confidence, correct); every value is NaN for no pairs.</summary>
    /// <exception cref="ArgumentException">The spans differ in length, or a confidence is NaN.</exception>
    public static SelectiveReport Compute(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct)
    {
        var (keys, wrong) = Sorted(confidence, correct, "SelectivePrediction.Compute");
        return Compute(keys, wrong);
    }

    /// <summary>The metrics of pairs sorted by <see cref="Sorted"/>.</summary>
    private static SelectiveReport Compute(float[] keys, int[] wrong)
    {
        int n = keys.Length;
        if (n == 0) return new SelectiveReport(0, 0, double.NaN, double.NaN, double.NaN);

        long errors = 0;
        foreach (int w in wrong) errors += w;
        double risks = 0, correctRankSum = 0;
        long keptBefore = 0, errorsBefore = 0;
        // most confident first: walk the groups from the end
        for (int end = n; end > 0;)
        {
            int start = end - 1;
            while (start > 0 && keys[start - 1] == keys[end - 1]) start--;
            int size = end - start;
            long groupErrors = 0;
            for (int i = start; i < end; i++) groupErrors += wrong[i];
            // inside the group, t of its rows kept: expected errors errorsBefore + t · groupErrors / size
            for (int t = 1; t <= size; t++)
                risks += (errorsBefore + (double)t * groupErrors / size) / (keptBefore + t);
            // ascending midrank of the group (ranks start + 1 .. end), for the Mann–Whitney statistic
            correctRankSum += (size - groupErrors) * ((start + 1 + end) / 2.0);
            keptBefore += size;
            errorsBefore += groupErrors;
            end = start;
        }
        double aurc = risks / n;
        long right = n - errors;
        double oracle = 0;   // every correct prediction first: risk(k) = (k − right) / k past the correct ones
        for (long k = right + 1; k <= n; k++) oracle += (double)(k - right) / k;
        oracle /= n;
        double auroc = right == 0 || errors == 0
            ? double.NaN
            : (correctRankSum - right * (right + 1) / 2.0) / ((double)right * errors);
        return new SelectiveReport(n, errors, aurc, aurc - oracle, auroc);
    }
}
