namespace FastCalib;

/// <summary>One bin of the reliability table.</summary>
/// <param name="Lower">Lower edge (for torchmetrics' extra bin of confidence 1.0, both edges are 1).</param>
/// <param name="Upper">Upper edge.</param>
/// <param name="Count">Predictions in the bin.</param>
/// <param name="MeanConfidence">Their mean confidence (NaN if empty).</param>
/// <param name="Accuracy">Their accuracy (NaN if empty).</param>
public readonly record struct ReliabilityBin(double Lower, double Upper, long Count, double MeanConfidence, double Accuracy)
{
    /// <summary>Mean confidence minus accuracy: positive means overconfident.</summary>
    public double Gap => MeanConfidence - Accuracy;
}

/// <summary>The predictions at or above a confidence threshold ("auto-accept above x").</summary>
/// <param name="Threshold">The threshold.</param>
/// <param name="Count">Predictions with confidence ≥ threshold.</param>
/// <param name="Coverage">Their share of all predictions.</param>
/// <param name="Accuracy">Their accuracy (NaN if none).</param>
public readonly record struct ConfidenceThreshold(float Threshold, long Count, double Coverage, double Accuracy);

/// <summary>Calibration metrics of everything an accumulator holds.</summary>
/// <param name="Count">Predictions.</param>
/// <param name="Accuracy">Share of correct predictions.</param>
/// <param name="MeanConfidence">Mean top-label confidence.</param>
/// <param name="Ece">Expected calibration error (l1 norm).</param>
/// <param name="Rmsce">Root-mean-square calibration error (l2 norm).</param>
/// <param name="Mce">Maximum calibration error (max norm over non-empty bins).</param>
/// <param name="NegativeLogLikelihood">Mean NLL of the true label (NaN if only confidences were added).</param>
/// <param name="Brier">Mean Brier score, summed over classes (NaN if only confidences were added).</param>
/// <param name="Bins">The reliability table.</param>
/// <param name="Thresholds">The overconfidence profile.</param>
public sealed record CalibrationReport(
    long Count,
    double Accuracy,
    double MeanConfidence,
    double Ece,
    double Rmsce,
    double Mce,
    double NegativeLogLikelihood,
    double Brier,
    IReadOnlyList<ReliabilityBin> Bins,
    IReadOnlyList<ConfidenceThreshold> Thresholds)
{
    /// <summary>
    /// The RMS calibration error debiased as Kumar et al. (2019, "Verified uncertainty calibration") define it and
    /// torchmetrics computes it (<c>norm="l2", debias=True</c>): sqrt(max(0, Σ_b w_b [(acc_b − conf_b)² −
    /// acc_b (1 − acc_b) / (n_b − 1)])), w_b the bin's share of predictions; a bin of one prediction adds no
    /// correction. The plain estimate is biased upward by the sampling noise of each bin's accuracy; this removes it
    /// on average. NaN when nothing was added.
    /// </summary>
    public double RmsceDebiased { get; init; } = double.NaN;
}
