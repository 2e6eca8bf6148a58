using FastCalib.Kernels;

namespace FastCalib;

/// <summary>
/// The one definition of each entropy kernel (see <see cref="Entropy"/> for the public API). Notation: z = logits,
/// a_j = (z_j − max z) / T ≤ 0, e_j = exp(a_j), s = Σ e, p_j = e_j / s, H = −Σ p ln p.
/// </summary>
internal static partial class EntropyKernels
{
    /// <summary>
    /// H = −Σ p ln p (0 ln 0 = 0) times <paramref name="scale"/> (1 for nats, 1/ln 2 for bits, 1/ln C normalised).
    /// A row with a negative or NaN entry, or whose sum is off 1 by more than <paramref name="tolerance"/>, gets NaN.
    /// Subnormal p (below 2^-126) count as 0: their terms are below 1e-36, and GPUs in fast math flush them to zero,
    /// where ln p would be −∞ and p ln p NaN.
    /// </summary>
    /// <remarks>
    /// Σ p ln p is summed and negated once (negation is exact, so the bits are those of summing −p ln p), and a row's
    /// negative entries are counted rather than its minimum taken: a NaN entry makes the sum NaN, which fails the
    /// tolerance test, so the validity is that of min ≥ 0 and |Σ p − 1| ≤ tolerance, at 3 instructions a vector
    /// instead of the minimum's 5 and the negation's 1.
    /// </remarks>
    [RowKernel]
    internal static void FromProbabilities(ReadOnlyRow p, float scale, float tolerance, out float entropy, ref double total)
    {
        float plogp = Rows.Sum(p, v => v >= 1.17549435e-38f ? v * MathF.Log(v) : 0);
        float sum = Rows.Sum(p, v => v);
        float negatives = Rows.Sum(p, v => v < 0 ? 1 : 0);
        float value = negatives == 0 && MathF.Abs(sum - 1) <= tolerance ? -plogp * scale : float.NaN;
        entropy = value;
        total += value;
    }

    /// <summary>
    /// H(softmax(z / T)) in the log-sum-exp form H = ln s − Σ e_j a_j / s, without writing probabilities
    /// (terms with a_j below −104, where e_j is 0 in float, contribute 0, so −∞ logits are fine).
    /// </summary>
    [RowKernel]
    internal static void FromLogits(ReadOnlyRow z, float invT, float scale, out float entropy, ref double total)
    {
        float max = Rows.Max(z, v => v);
        float sum = Rows.Sum(z, v => MathF.Exp((v - max) * invT));
        float weighted = Rows.Sum(z, v => (v - max) * invT > -104 ? MathF.Exp((v - max) * invT) * ((v - max) * invT) : 0);
        float h = (MathF.Log(sum) - weighted / sum) * scale;
        entropy = h;
        total += h;
    }

    /// <summary>
    /// Gradient of the confidence penalty β · mean_rows(ln C − H) with respect to the logits (Pereyra et al. 2017):
    /// dH/du_j = −p_j (ln p_j + H) with u = z / T, so dL/dz_j = <paramref name="coefficient"/> · p_j (ln p_j + H) where
    /// coefficient = β / (N T) and ln p_j = a_j − ln s. The output row first holds e_j (one exponential per element).
    /// </summary>
    [RowKernel]
    internal static void ConfidencePenalty(ReadOnlyRow z, Row grad, float invT, float coefficient, ref double totalEntropy)
    {
        float max = Rows.Max(z, v => v);
        float sum = Rows.MapSum(grad, z, v => MathF.Exp((v - max) * invT));
        float weighted = Rows.Sum(grad, z, (e, v) => e > 0 ? e * ((v - max) * invT) : 0);
        float logSum = MathF.Log(sum);
        float h = logSum - weighted / sum;
        float factor = coefficient / sum;
        Rows.Map(grad, grad, z, (e, v) => e > 0 ? factor * e * ((v - max) * invT - logSum + h) : 0);
        totalEntropy += h;
    }

    /// <summary>The predicted class (first argmax) and the entropy in nats of a probability row, for diversity monitoring.</summary>
    [RowKernel]
    internal static void Summarize(ReadOnlyRow p, float tolerance, out int predicted, out float entropy)
    {
        int arg = Rows.ArgMax(p, v => v);
        float plogp = Rows.Sum(p, v => v >= 1.17549435e-38f ? v * MathF.Log(v) : 0);
        float sum = Rows.Sum(p, v => v);
        float negatives = Rows.Sum(p, v => v < 0 ? 1 : 0);
        predicted = arg;
        entropy = negatives == 0 && MathF.Abs(sum - 1) <= tolerance ? -plogp : float.NaN;
    }
}
