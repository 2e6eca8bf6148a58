namespace FastCalib;

/// <summary>Calibration metrics before and after a calibrator.</summary>
/// <param name="Before">Metrics of the raw predictions (null for binary scores that are not probabilities).</param>
/// <param name="After">Metrics of the calibrated predictions.</param>
public sealed record CalibrationComparison(CalibrationReport? Before, CalibrationReport After);

/// <summary>
/// Reports the calibration metrics (ECE, MCE, RMS, NLL, Brier, accuracy, reliability table) before and after a
/// calibrator, computed with <see cref="CalibrationAccumulator"/>. Evaluate on held-out data, not on the data the
/// calibrator was fitted on.
/// </summary>
public static class CalibrationEvaluation
{
    /// <summary>Top-label metrics of softmax(logits) and of softmax(logits / temperature), both fused from the logits.</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static CalibrationComparison Temperature(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, float temperature, int bins = 15, ComputeOptions options = default)
    {
        var before = new CalibrationAccumulator(bins);
        before.AddLogits(logits, labels, classes, 1f, options);
        var after = new CalibrationAccumulator(bins);
        after.AddLogits(logits, labels, classes, temperature, options);
        return new CalibrationComparison(before.Report(), after.Report());
    }

    /// <summary>Top-label metrics of softmax(logits) and of softmax(logits / temperature), with int64 labels.</summary>
    /// <inheritdoc cref="Temperature(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, int, ComputeOptions)"/>
    public static CalibrationComparison Temperature(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, float temperature, int bins = 15, ComputeOptions options = default)
    {
        using var y = NarrowedLabels.Of("CalibrationEvaluation.Temperature", nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Temperature(logits, y.Span, classes, temperature, bins, options);
    }

    /// <summary>
    /// Top-label metrics of softmax(logits) and of a multiclass calibrator's probabilities, the calibrated
    /// probabilities made and binned block by block (no [rows, classes] copy).
    /// </summary>
    /// <param name="calibrator">The fitted calibrator.</param>
    /// <param name="logits">Held-out row-major [rows, classes] logits.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="classes">Classes per row.</param>
    /// <param name="bins">Equal-width confidence bins.</param>
    /// <param name="options">Backend and threads of the calibrator and the accumulators.</param>
    /// <param name="rule">Which bin a confidence on an edge belongs to (torchmetrics' rule by default).</param>
    public static CalibrationComparison Multiclass(MulticlassCalibrator calibrator, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, int bins = 15,
        ComputeOptions options = default, BinningRule rule = BinningRule.TorchMetrics)
    {
        ArgumentNullException.ThrowIfNull(calibrator);
        var before = new CalibrationAccumulator(bins, rule);
        var after = new CalibrationAccumulator(bins, rule);
        AddMulticlass(calibrator, before, after, logits, labels, classes, options);
        return new CalibrationComparison(before.Report(), after.Report());
    }

    /// <summary>
    /// Adds rows to the accumulators of softmax(logits) (unless <paramref name="before"/> is null) and of the
    /// calibrator's probabilities, made block by block (no [rows, classes] copy); a file evaluated in parts this way
    /// gives the report of the whole.
    /// </summary>
    internal static void AddMulticlass(MulticlassCalibrator calibrator, CalibrationAccumulator? before, CalibrationAccumulator after, ReadOnlySpan<float> logits,
        ReadOnlySpan<int> labels, int classes, ComputeOptions options)
    {
        before?.AddLogits(logits, labels, classes, 1f, options);
        int blockRows = Math.Max(1, (1 << 18) / classes);
        float[] buffer = System.Buffers.ArrayPool<float>.Shared.Rent(blockRows * classes);
        try
        {
            for (int start = 0; start < labels.Length; start += blockRows)
            {
                int n = Math.Min(blockRows, labels.Length - start);
                var probabilities = buffer.AsSpan(0, n * classes);
                calibrator.Apply(logits.Slice(start * classes, n * classes), probabilities, classes, options);
                after.AddProbabilities(probabilities, labels.Slice(start, n), classes, options);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>Binary metrics of the scores and of the calibrator's output, with int64 targets (0 or 1).</summary>
    /// <inheritdoc cref="Binary(BinaryCalibrator, ReadOnlySpan{float}, ReadOnlySpan{int}, int, BinningRule)"/>
    public static CalibrationComparison Binary(BinaryCalibrator calibrator, ReadOnlySpan<float> scores, ReadOnlySpan<long> targets, int bins = 15, BinningRule rule = BinningRule.TorchMetrics)
    {
        using var t = NarrowedLabels.Targets("CalibrationEvaluation.Binary", nameof(targets), targets);
        return Binary(calibrator, scores, t.Span, bins, rule);
    }

    /// <summary>
    /// Binary metrics (torchmetrics' binary semantics) of the scores as they are, if they are probabilities, and of
    /// the calibrator's output.
    /// </summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static CalibrationComparison Binary(BinaryCalibrator calibrator, ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, int bins = 15) =>
        Binary(calibrator, scores, targets, bins, BinningRule.TorchMetrics);

    /// <summary>
    /// <see cref="Binary(BinaryCalibrator, ReadOnlySpan{float}, ReadOnlySpan{int}, int)"/> with a binning rule: which bin
    /// a confidence on an edge belongs to.
    /// </summary>
    /// <param name="calibrator">The fitted calibrator.</param>
    /// <param name="scores">Held-out scores.</param>
    /// <param name="targets">One 0/1 target per score.</param>
    /// <param name="bins">Equal-width confidence bins.</param>
    /// <param name="rule">The binning rule.</param>
    public static CalibrationComparison Binary(BinaryCalibrator calibrator, ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, int bins, BinningRule rule)
    {
        ArgumentNullException.ThrowIfNull(calibrator);
        Check.SameLength("CalibrationEvaluation.Binary", nameof(targets), targets.Length, nameof(scores), scores.Length);
        CalibrationAccumulator? before = null;
        if (scores.Length > 0 && System.Numerics.Tensors.TensorPrimitives.Min(scores) >= 0 && System.Numerics.Tensors.TensorPrimitives.Max(scores) <= 1)
        {
            before = new CalibrationAccumulator(bins, rule);
            before.AddBinary(scores, targets);
        }
        var after = new CalibrationAccumulator(bins, rule);
        after.AddBinary(calibrator.Apply(scores), targets);
        return new CalibrationComparison(before?.Report(), after.Report());
    }
}
