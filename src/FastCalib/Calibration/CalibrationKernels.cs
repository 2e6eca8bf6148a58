using FastCalib.Kernels;

namespace FastCalib;

/// <summary>
/// The per-row halves of the calibration metrics (the other half, binning, is in <see cref="CalibrationAccumulator"/>):
/// for each row, the top-label confidence, whether the prediction is correct, and the row's negative log-likelihood
/// and Brier score, from probabilities or fused from logits without writing probabilities.
/// </summary>
internal static partial class CalibrationKernels
{
    /// <summary>
    /// From probabilities p: confidence = max p, correct = [first argmax = label], NLL = -ln p[label],
    /// Brier = Σ_j (p_j - [j = label])² = Σ p² - 2 p[label] + 1. A row with a negative entry, or whose sum is off 1
    /// by more than <paramref name="tolerance"/> (+∞ to accept unnormalised scores), gets confidence NaN, which the
    /// binning rejects; the sum and the count of negative entries come from the same traversal as the argmax (a NaN
    /// entry makes the sum NaN, which fails the tolerance test even at +∞, so this is the rule min ≥ 0 in fewer
    /// instructions than a minimum).
    /// </summary>
    [RowKernel]
    internal static void FromProbabilities(ReadOnlyRow p, in int label, float tolerance, out float confidence, out float correct, out float negLogLikelihood, out float brier)
    {
        int arg = Rows.ArgMax(p, v => v);
        float squares = Rows.Sum(p, v => v * v);
        float sum = Rows.Sum(p, v => v);
        float negatives = Rows.Sum(p, v => v < 0 ? 1 : 0);
        float top = Rows.At(p, arg);
        float atLabel = Rows.At(p, label);
        confidence = negatives == 0 && MathF.Abs(sum - 1) <= tolerance ? top : float.NaN;
        correct = arg == label ? 1 : 0;
        negLogLikelihood = -MathF.Log(atLabel);
        brier = squares - 2 * atLabel + 1;
    }

    /// <summary>
    /// From logits z and 1/T, with e_j = exp((z_j - max z) / T) and s = Σ e: confidence = 1/s (the top class has e = 1),
    /// NLL = ln s - (z[label] - max z) / T (exact log-sum-exp, no underflow), Brier = Σ e² / s² - 2 e[label] / s + 1.
    /// </summary>
    [RowKernel]
    internal static void FromLogits(ReadOnlyRow z, in int label, float invT, out float confidence, out float correct, out float negLogLikelihood, out float brier)
    {
        int arg = Rows.ArgMax(z, v => v);
        float max = Rows.At(z, arg);
        float sum = Rows.Sum(z, v => MathF.Exp((v - max) * invT));
        float squares = Rows.Sum(z, v => MathF.Exp((v - max) * invT) * MathF.Exp((v - max) * invT));   // e², sharing e's exponential
        float atLabel = Rows.At(z, label);
        float invSum = 1f / sum;
        float shifted = (atLabel - max) * invT;
        confidence = invSum;
        correct = arg == label ? 1 : 0;
        negLogLikelihood = MathF.Log(sum) - shifted;
        brier = squares * invSum * invSum - 2 * MathF.Exp(shifted) * invSum + 1;
    }
}
