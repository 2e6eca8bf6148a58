using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.Json.Serialization;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// A fitted map from a binary classifier's score to a calibrated probability of the positive class: Platt scaling,
/// beta calibration, isotonic regression or histogram binning. Fit with each type's <c>Fit</c>, apply to spans, and save or load as JSON
/// (<see cref="ToJson"/>, <see cref="FromJson"/>); a loaded calibrator gives exactly the outputs of the saved one.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(PlattCalibrator), "platt")]
[JsonDerivedType(typeof(IsotonicCalibrator), "isotonic")]
[JsonDerivedType(typeof(HistogramCalibrator), "histogram")]
[JsonDerivedType(typeof(BetaCalibrator), "beta")]
public abstract record BinaryCalibrator
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    /// <summary>Writes calibrated probabilities for <paramref name="scores"/> into <paramref name="probabilities"/> (same length).</summary>
    public abstract void Apply(ReadOnlySpan<float> scores, Span<float> probabilities);

    /// <summary>
    /// The same on device views, on <paramref name="stream"/>'s accelerator (<paramref name="probabilities"/> may be
    /// <paramref name="scores"/>). Platt scaling and beta calibration run a kernel there; isotonic regression and
    /// histogram binning copy the scores to host memory, apply there and copy the probabilities back. Waits for the
    /// stream.
    /// </summary>
    public virtual void Apply(AcceleratorStream stream, ArrayView<float> scores, ArrayView<float> probabilities)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Check.SameLength(GetType().Name + ".Apply", nameof(probabilities), probabilities.Length, nameof(scores), scores.Length);
        var host = new float[scores.Length];
        scores.CopyToCPU(stream, host);
        stream.Synchronize();
        Apply(host, host);
        probabilities.CopyFromCPU(stream, host);
        stream.Synchronize();
    }

    /// <summary>Calibrated probabilities of <paramref name="scores"/> in a new array.</summary>
    public float[] Apply(ReadOnlySpan<float> scores)
    {
        var result = new float[scores.Length];
        Apply(scores, result);
        return result;
    }

    /// <summary>The calibrator as JSON, with a "kind" field naming its type.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a calibrator written by <see cref="ToJson"/>.</summary>
    public static BinaryCalibrator FromJson(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<BinaryCalibrator>(json, Json) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"BinaryCalibrator.FromJson: not a saved calibrator ({e.Message}).", nameof(json), e);
        }
    }

    /// <summary>Checks a (score, 0/1 target) training set; returns the number of positives.</summary>
    internal static int CheckTraining(string op, ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, bool probabilities)
    {
        Check.SameLength(op, nameof(targets), targets.Length, nameof(scores), scores.Length);
        if (scores.Length == 0)
            throw new ArgumentException($"{op}: there is nothing to fit on.", nameof(scores));
        int positives = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if (!float.IsFinite(scores[i]) || (probabilities && (scores[i] < 0 || scores[i] > 1)))
                throw new ArgumentException($"{op}: scores[{i}] is {scores[i]}; scores must be finite{(probabilities ? " and in [0, 1]" : "")}.", nameof(scores));
            if (targets[i] is not (0 or 1))
                throw new ArgumentException($"{op}: targets[{i}] is {targets[i]}; targets must be 0 or 1.", nameof(targets));
            positives += targets[i];
        }
        return positives;
    }

    /// <summary>
    /// The fitting targets of the labels 1 and 0: 1 and 0, or with Platt's smoothing (N₊ + 1)/(N₊ + 2) and
    /// 1/(N₋ + 2); without smoothing both classes must be present.
    /// </summary>
    internal static (double High, double Low) Targets(string op, long rows, long positives, bool smooth)
    {
        long negatives = rows - positives;
        if (!smooth && (positives == 0 || negatives == 0))
            throw new ArgumentException($"{op}: only one class is present; without target smoothing the fit diverges.", "targets");
        return smooth ? ((positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0)) : (1, 0);
    }

    /// <summary>The intercept a fit starts from: the log odds of the classes, kept finite.</summary>
    internal static double Prior(long positives, long count) => Math.Log((positives + 1.0) / (count - positives + 1.0));

    /// <summary>The logit of the mean fitting target, the intercept of constant scores.</summary>
    internal static double MeanLogit(ScoreData data, (double High, double Low) t)
    {
        double mean = (data.Positives * t.High + (data.Rows - data.Positives) * t.Low) / data.Rows;
        return Math.Log(mean / (1 - mean));
    }

    internal static void CheckApply(string op, ReadOnlySpan<float> scores, Span<float> probabilities) =>
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(scores), scores.Length);
}

/// <summary>
/// Platt scaling: p = sigmoid(A · score + B), with A and B fitted by maximum likelihood (Newton's method with a
/// backtracking line search and a tiny ridge on the Hessian, after Lin, Lin and Weng 2007). With target smoothing
/// (Platt 1999) the 0/1 targets become 1/(N₋ + 2) and (N₊ + 1)/(N₊ + 2), which keeps the fit finite when the data
/// are separable or one class is absent. Constant scores give A = 0 and B at the (smoothed) base rate.
/// </summary>
/// <param name="A">Slope.</param>
/// <param name="B">Intercept.</param>
public sealed record PlattCalibrator(double A, double B) : BinaryCalibrator
{
    /// <summary>Fits A and B on scores and int64 0/1 targets (NumPy's and PyTorch's default integer type).</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, bool, ComputeOptions)"/>
    public static PlattCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<long> targets, bool smoothTargets = true, ComputeOptions options = default)
    {
        using var t = NarrowedLabels.Targets("PlattCalibrator.Fit", nameof(targets), targets);
        return Fit(scores, t.Span, smoothTargets, options);
    }

    /// <summary>Fits A and B on scores (any finite values) and 0/1 targets.</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static PlattCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, bool smoothTargets = true) => Fit(scores, targets, smoothTargets, default);

    /// <summary>
    /// Fits A and B on scores (any finite values) and 0/1 targets: Newton's method, each step one fused pass over the
    /// scores (on the CPU's threads, or on the device with the GPU backend), nothing kept per score.
    /// </summary>
    /// <param name="scores">The classifier's scores; must be finite.</param>
    /// <param name="targets">One 0/1 target per score.</param>
    /// <param name="smoothTargets">Platt's target smoothing (keeps the fit finite on separable data or one class).</param>
    /// <param name="options">Backend and threads; the GPU backend uploads the data and fits on the device.</param>
    public static PlattCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, bool smoothTargets, ComputeOptions options) =>
        ScoreData.OnHost("PlattCalibrator.Fit", scores, targets, probabilities: false, options, (op, data) => Fit(op, data, smoothTargets));

    /// <summary>The same fit on device views, on <paramref name="stream"/>'s accelerator (scores and targets checked there). Waits for the stream.</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, bool, ComputeOptions)"/>
    public static PlattCalibrator Fit(AcceleratorStream stream, ArrayView<float> scores, ArrayView<int> targets, bool smoothTargets = true) =>
        ScoreData.OnDevice("PlattCalibrator.Fit", stream, scores, targets, probabilities: false, (op, data) => Fit(op, data, smoothTargets));

    private static PlattCalibrator Fit(string op, ScoreData data, bool smoothTargets)
    {
        var t = Targets(op, data.Rows, data.Positives, smoothTargets);
        // constant scores determine only A·s + B: take A = 0 and B at the logit of the mean target
        if (data.Constant) return new PlattCalibrator(0, MeanLogit(data, t));
        var w = Logistic.Fit(data.Pass, new LogisticModel(1, 0, 0, 0, t.High, t.Low), Prior(data.Positives, data.Rows), data.Rows);
        return new PlattCalibrator(w[0], w[1]);
    }

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> scores, ArrayView<float> probabilities) =>
        LogisticPasses.Apply("PlattCalibrator.Apply", stream, scores, probabilities, new LogisticModel(1, A, B, 0, 1, 0));

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> scores, Span<float> probabilities)
    {
        CheckApply("PlattCalibrator.Apply", scores, probabilities);
        TensorPrimitives.Multiply(scores, (float)A, probabilities);
        TensorPrimitives.Add(probabilities, (float)B, probabilities);
        TensorPrimitives.Sigmoid(probabilities, probabilities);
    }
}

/// <summary>
/// Isotonic regression by pool-adjacent-violators: the non-decreasing step function of the score closest to the
/// targets in squared error. Equal scores are first merged (their targets averaged). Applied by linear interpolation
/// between the fitted points and clipped outside them, as sklearn's IsotonicRegression does.
/// </summary>
/// <param name="Thresholds">Distinct training scores, increasing.</param>
/// <param name="Values">Fitted probability at each threshold, non-decreasing.</param>
public sealed record IsotonicCalibrator(double[] Thresholds, double[] Values) : BinaryCalibrator
{
    /// <summary>Fits the isotonic map on scores and int64 0/1 targets.</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int})"/>
    public static IsotonicCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<long> targets)
    {
        using var t = NarrowedLabels.Targets("IsotonicCalibrator.Fit", nameof(targets), targets);
        return Fit(scores, t.Span);
    }

    /// <summary>Fits the calibrator on scores (any finite values) and 0/1 targets.</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static IsotonicCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<int> targets)
    {
        CheckTraining("IsotonicCalibrator.Fit", scores, targets, probabilities: false);
        var order = new int[scores.Length];
        var keys = scores.ToArray();
        for (int i = 0; i < order.Length; i++) order[i] = i;
        Array.Sort(keys, order);
        // one point per distinct score: (score, mean target, weight)
        var x = new List<double>();
        var y = new List<double>();
        var w = new List<double>();
        for (int i = 0; i < keys.Length; i++)
        {
            if (x.Count > 0 && x[^1] == keys[i])
            {
                y[^1] += targets[order[i]];
                w[^1] += 1;
            }
            else
            {
                x.Add(keys[i]);
                y.Add(targets[order[i]]);
                w.Add(1);
            }
        }
        for (int i = 0; i < y.Count; i++) y[i] /= w[i];
        // pool adjacent violators: a stack of blocks (value, weight, points)
        var value = new List<double>();
        var weight = new List<double>();
        var size = new List<int>();
        for (int i = 0; i < y.Count; i++)
        {
            value.Add(y[i]);
            weight.Add(w[i]);
            size.Add(1);
            while (value.Count > 1 && value[^2] > value[^1])
            {
                double total = weight[^2] + weight[^1];
                value[^2] = (value[^2] * weight[^2] + value[^1] * weight[^1]) / total;
                weight[^2] = total;
                size[^2] += size[^1];
                value.RemoveAt(value.Count - 1);
                weight.RemoveAt(weight.Count - 1);
                size.RemoveAt(size.Count - 1);
            }
        }
        var fitted = new double[x.Count];
        int at = 0;
        for (int block = 0; block < value.Count; block++)
            for (int k = 0; k < size[block]; k++) fitted[at++] = value[block];
        return new IsotonicCalibrator(x.ToArray(), fitted);
    }

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> scores, Span<float> probabilities)
    {
        CheckApply("IsotonicCalibrator.Apply", scores, probabilities);
        for (int i = 0; i < scores.Length; i++) probabilities[i] = (float)Evaluate(scores[i]);
    }

    private double Evaluate(double s)
    {
        if (!(s > Thresholds[0])) return double.IsNaN(s) ? double.NaN : Values[0];
        if (s >= Thresholds[^1]) return Values[^1];
        int k = Array.BinarySearch(Thresholds, s);
        if (k >= 0) return Values[k];
        int upper = ~k, lower = upper - 1;
        double f = (s - Thresholds[lower]) / (Thresholds[upper] - Thresholds[lower]);
        return Values[lower] + f * (Values[upper] - Values[lower]);
    }
}

/// <summary>
/// Histogram binning (Zadrozny and Elkan 2001): scores in [0, 1] are put in equal-width bins (the last bin closed)
/// and each bin maps to the share of positives among its training scores; a bin without training scores maps to its
/// midpoint.
/// </summary>
/// <param name="Values">Calibrated probability per bin.</param>
public sealed record HistogramCalibrator(double[] Values) : BinaryCalibrator
{
    /// <summary>Fits the histogram binning calibrator on scores and int64 0/1 targets.</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int)"/>
    public static HistogramCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<long> targets, int bins = 15)
    {
        using var t = NarrowedLabels.Targets("HistogramCalibrator.Fit", nameof(targets), targets);
        return Fit(scores, t.Span, bins);
    }

    /// <summary>Fits the calibrator on scores in [0, 1] and 0/1 targets.</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static HistogramCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, int bins = 15)
    {
        const string op = "HistogramCalibrator.Fit";
        if (bins < 1)
            throw new ArgumentOutOfRangeException(nameof(bins), bins, $"{op}: bins must be at least 1, got {bins}.");
        CheckTraining(op, scores, targets, probabilities: true);
        var count = new long[bins];
        var positive = new long[bins];
        for (int i = 0; i < scores.Length; i++)
        {
            int b = Binning.Of(scores[i], bins, BinningRule.ClosedLastBin);
            count[b]++;
            positive[b] += targets[i];
        }
        var values = new double[bins];
        for (int b = 0; b < bins; b++)
            values[b] = count[b] > 0 ? (double)positive[b] / count[b] : (b + 0.5) / bins;
        return new HistogramCalibrator(values);
    }

    /// <summary>Applies the bins; scores outside [0, 1] are clamped into it, NaN stays NaN.</summary>
    public override void Apply(ReadOnlySpan<float> scores, Span<float> probabilities)
    {
        CheckApply("HistogramCalibrator.Apply", scores, probabilities);
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            probabilities[i] = float.IsNaN(s) ? float.NaN : (float)Values[Binning.Of(Math.Clamp(s, 0f, 1f), Values.Length, BinningRule.ClosedLastBin)];
        }
    }
}

/// <summary>
/// Beta calibration (Kull, Silva Filho and Flach 2017): logit p = C + A · ln s − B · ln(1 − s) for scores s in [0, 1],
/// A, B ≥ 0 (the "abm" form), fitted by maximum likelihood as a logistic regression on the features ln s and
/// −ln(1 − s) (Newton's method with a backtracking line search and a tiny ridge). When the full fit gives A &lt; 0 the
/// first feature is dropped and the fit repeated (A = 0), likewise for B, as the authors' betacal package does. Scores
/// are clipped to [1e-12, 1 − 1e-12] so that 0 and 1 stay finite. Without target smoothing (the default, as betacal)
/// both classes must be present; perfectly separable scores make A or B grow until the iteration limit, where target
/// smoothing (as Platt's) keeps them finite. Constant scores give A = B = 0 and C at the logit of the base rate.
/// </summary>
/// <param name="A">Weight of ln s.</param>
/// <param name="B">Weight of −ln(1 − s).</param>
/// <param name="C">Intercept.</param>
public sealed record BetaCalibrator(double A, double B, double C) : BinaryCalibrator
{
    /// <summary>Where scores are clipped before their logarithms.</summary>
    public const double ScoreClip = 1e-12;

    /// <summary>Fits A, B and C on scores in [0, 1] and int64 0/1 targets.</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, bool, ComputeOptions)"/>
    public static BetaCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<long> targets, bool smoothTargets = false, ComputeOptions options = default)
    {
        using var t = NarrowedLabels.Targets("BetaCalibrator.Fit", nameof(targets), targets);
        return Fit(scores, t.Span, smoothTargets, options);
    }

    /// <summary>
    /// Fits A, B and C on scores in [0, 1] (probabilities of the positive class) and 0/1 targets: Newton's method,
    /// each step one fused pass over the scores (on the CPU's threads, or on the device with the GPU backend),
    /// nothing kept per score.
    /// </summary>
    /// <param name="scores">Probabilities of the positive class, in [0, 1].</param>
    /// <param name="targets">One 0/1 target per score.</param>
    /// <param name="smoothTargets">Platt's target smoothing (off by default, as betacal).</param>
    /// <param name="options">Backend and threads; the GPU backend uploads the data and fits on the device.</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static BetaCalibrator Fit(ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, bool smoothTargets = false, ComputeOptions options = default) =>
        ScoreData.OnHost("BetaCalibrator.Fit", scores, targets, probabilities: true, options, (op, data) => Fit(op, data, smoothTargets));

    /// <summary>The same fit on device views, on <paramref name="stream"/>'s accelerator (scores and targets checked there). Waits for the stream.</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, bool, ComputeOptions)"/>
    public static BetaCalibrator Fit(AcceleratorStream stream, ArrayView<float> scores, ArrayView<int> targets, bool smoothTargets = false) =>
        ScoreData.OnDevice("BetaCalibrator.Fit", stream, scores, targets, probabilities: true, (op, data) => Fit(op, data, smoothTargets));

    private static BetaCalibrator Fit(string op, ScoreData data, bool smoothTargets)
    {
        var t = Targets(op, data.Rows, data.Positives, smoothTargets);
        if (data.Constant) return new BetaCalibrator(0, 0, MeanLogit(data, t));
        double prior = Prior(data.Positives, data.Rows);
        double[] Regress(int mask) => Logistic.Fit(data.Pass, new LogisticModel(mask, 0, 0, 0, t.High, t.Low), prior, data.Rows);
        // features ln s (bit 2) and −ln(1 − s) (bit 4); a negative weight drops its feature, as betacal does
        var w = Regress(6);
        if (w[0] < 0)
        {
            var only = Regress(4);
            return new BetaCalibrator(0, Math.Max(0, only[0]), only[1]);
        }
        if (w[1] < 0)
        {
            var only = Regress(2);
            return new BetaCalibrator(Math.Max(0, only[0]), 0, only[1]);
        }
        return new BetaCalibrator(w[0], w[1], w[2]);
    }

    /// <inheritdoc/>
    public override void Apply(AcceleratorStream stream, ArrayView<float> scores, ArrayView<float> probabilities) =>
        LogisticPasses.Apply("BetaCalibrator.Apply", stream, scores, probabilities, new LogisticModel(6, A, B, C, 1, 0));

    /// <inheritdoc/>
    public override void Apply(ReadOnlySpan<float> scores, Span<float> probabilities)
    {
        CheckApply("BetaCalibrator.Apply", scores, probabilities);
        for (int i = 0; i < scores.Length; i++)
        {
            float s = scores[i];
            if (float.IsNaN(s))
            {
                probabilities[i] = float.NaN;
                continue;
            }
            double v = Math.Clamp(s, ScoreClip, 1 - ScoreClip);
            probabilities[i] = (float)Logistic.Sigmoid(C + A * Math.Log(v) - B * Math.Log(1 - v));
        }
    }
}

/// <summary>
/// Maximum-likelihood logistic regression with an intercept on one or two functions of a score, for calibrators:
/// Newton's method with a backtracking (Armijo) line search and a ridge of 1e-12 on the Hessian, from zero weights
/// and the intercept at <c>prior</c>; at most 100 iterations. Each evaluation is one fused pass over the scores
/// (<see cref="LogisticPasses"/>), whose sums give the loss, the gradient and the Hessian together.
/// </summary>
internal static class Logistic
{
    /// <summary>The weights of the model's features, then the intercept, from passes of <paramref name="pass"/>.</summary>
    public static double[] Fit(Func<LogisticModel, LogisticSums> pass, LogisticModel model, double prior, long rows)
    {
        int d = model.Features + 1;
        var w = new double[d];
        w[d - 1] = prior;
        var sums = pass(model.With(w));
        for (int iteration = 0; iteration < 100; iteration++)
        {
            var gradient = sums.Gradient(d);
            if (gradient.All(g => Math.Abs(g) < 1e-12 * rows)) break;
            var hessian = sums.Hessian(d);
            for (int a = 0; a < d; a++) hessian[a, a] += 1e-12;
            var step = Solve(hessian, gradient);   // H · step = g; the Newton direction is −step
            double slope = -Dot(gradient, step), size = 1;
            LogisticSums next = default;
            double[] trial = w;
            while (size > 1e-10)
            {
                trial = [.. w.Select((v, a) => v - size * step[a])];
                next = pass(model.With(trial));
                if (next.Loss < sums.Loss + 1e-4 * size * slope) break;
                size /= 2;
            }
            if (size <= 1e-10) break;
            bool small = true;
            for (int a = 0; a < d; a++) small &= Math.Abs(size * step[a]) < 1e-12 * (1 + Math.Abs(w[a]));
            (w, sums) = (trial, next);
            if (small) break;
        }
        return w;
    }

    public static double Sigmoid(double x) => LogisticSums.Sigmoid(x, Math.Exp(-Math.Abs(x)));

    private static double Dot(double[] a, double[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>Solves the small symmetric positive definite system by Gaussian elimination with partial pivoting.</summary>
    private static double[] Solve(double[,] m, double[] v)
    {
        int d = v.Length;
        var a = (double[,])m.Clone();
        var b = (double[])v.Clone();
        for (int col = 0; col < d; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < d; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            for (int c = 0; c < d; c++) (a[col, c], a[pivot, c]) = (a[pivot, c], a[col, c]);
            (b[col], b[pivot]) = (b[pivot], b[col]);
            for (int r = col + 1; r < d; r++)
            {
                double f = a[r, col] / a[col, col];
                for (int c = col; c < d; c++) a[r, c] -= f * a[col, c];
                b[r] -= f * b[col];
            }
        }
        var x = new double[d];
        for (int r = d - 1; r >= 0; r--)
        {
            double sum = b[r];
            for (int c = r + 1; c < d; c++) sum -= a[r, c] * x[c];
            x[r] = sum / a[r, r];
        }
        return x;
    }
}

