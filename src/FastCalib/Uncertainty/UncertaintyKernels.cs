using FastCalib.Kernels;

namespace FastCalib;

/// <summary>
/// Kernels of <see cref="EnsembleUncertainty"/>. A pass of probabilities is <see cref="EntropyKernels.Summarize"/> plus
/// elementwise sums; a pass of logits is fused here (the softmax never written): it updates the running sums Σ_s p_s
/// and Σ_s p_s², read from <c>sum</c>, <c>squares</c> and written to <c>newSum</c>, <c>newSquares</c>, which the caller
/// passes as the same arrays (every path reads an element before it writes it). The finish turns the sums into
/// p̄ = Σ p_s / S, H(p̄) and the moments of p̄'s top class.
/// </summary>
internal static partial class UncertaintyKernels
{
    /// <summary>
    /// A pass of logits z at 1/T: p = softmax(z / T) without writing it (e_j = exp((z_j − max z) / T), s = Σ e,
    /// p_j = e_j / s), the sums updated, the first argmax of z, and H(p) = ln s − Σ e_j a_j / s with a_j = (z_j − max z) / T
    /// (NaN where a logit is NaN or infinite).
    /// </summary>
    [RowKernel]
    internal static void AddLogits(ReadOnlyRow z, ReadOnlyRow sum, ReadOnlyRow squares, Row newSum, Row newSquares, float invT, out int predicted, out float entropy)
    {
        int arg = Rows.ArgMax(z, v => v);
        float max = Rows.At(z, arg);
        float total = Rows.Sum(z, v => MathF.Exp((v - max) * invT));
        float weighted = Rows.Sum(z, v => (v - max) * invT > -104 ? MathF.Exp((v - max) * invT) * ((v - max) * invT) : 0);
        float inv = 1f / total;
        Rows.Map(newSum, sum, z, (a, v) => a + MathF.Exp((v - max) * invT) * inv);
        Rows.Map(newSquares, squares, z, (a, v) => a + MathF.Exp((v - max) * invT) * inv * (MathF.Exp((v - max) * invT) * inv));
        predicted = arg;
        entropy = MathF.Log(total) - weighted * inv;
    }

    /// <summary>
    /// The ensemble's mean p̄ = sum / S (written), its first argmax k, the predictive entropy H(p̄) in nats, and the
    /// mean and variance over passes of p_s[k] (Σ p_s[k]² / S − p̄_k², clipped at 0).
    /// </summary>
    [RowKernel]
    internal static void Finish(ReadOnlyRow sum, ReadOnlyRow squares, Row mean, float invPasses, out int top, out float predictiveEntropy, out float topVariance)
    {
        int arg = Rows.ArgMax(sum, v => v);
        float h = Rows.Sum(sum, v => v * invPasses >= 1.17549435e-38f ? -(v * invPasses) * MathF.Log(v * invPasses) : 0);
        Rows.Map(mean, sum, v => v * invPasses);
        float topSum = Rows.At(sum, arg);
        float topSquares = Rows.At(squares, arg);
        float topMean = topSum * invPasses;
        float topSquare = topSquares * invPasses;
        top = arg;
        predictiveEntropy = h;
        topVariance = MathF.Max(topSquare - topMean * topMean, 0);
    }
}
