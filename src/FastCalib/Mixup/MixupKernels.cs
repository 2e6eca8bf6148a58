using FastCalib.Kernels;

namespace FastCalib;

/// <summary>The one definition of each mixup kernel (see <see cref="Mixup"/> for the public API).</summary>
internal static partial class MixupKernels
{
    /// <summary>output = λ x + (1 − λ) x[partner], row by row (the partner row is gathered by index).</summary>
    [RowKernel]
    internal static void Blend(ReadOnlyRow x, [RowFrom("partner")] ReadOnlyRow other, in int partner, in float lambda, Row output)
    {
        float keep = lambda;
        float mix = 1 - lambda;
        Rows.Map(output, x, other, (u, v) => u * keep + v * mix);
    }

    /// <summary>
    /// Cross-entropy of softmax(z) against the mixed, smoothed target q = λ s(a) + (1 − λ) s(b), s(y) = (1 − ε) onehot(y) + ε/C,
    /// with −ln p_j = ln S − (z_j − max): loss = ε ln S − (ε/C) Σ(z − max) + (1 − ε)[λ(ln S − z_a + max) + (1 − λ)(ln S − z_b + max)].
    /// The gradient row gets (p_j − ε/C) · scale here; the caller subtracts (1 − ε) · scale · (λ, 1 − λ) at columns a and b.
    /// </summary>
    [RowKernel]
    internal static void MixedCrossEntropy(ReadOnlyRow z, Row grad, in int labelA, in int labelB, in float lambda, float epsilon, float smoothing, float keep, float scale, ref double total)
    {
        float max = Rows.Max(z, v => v);
        float sum = Rows.MapSum(grad, z, v => MathF.Exp(v - max));
        float shifted = Rows.Sum(z, v => v - max);
        float za = Rows.At(z, labelA);
        float zb = Rows.At(z, labelB);
        float logSum = MathF.Log(sum);
        float invSum = 1 / sum;
        float l = lambda;
        total += epsilon * logSum - smoothing * shifted + keep * (l * (logSum - za + max) + (1 - l) * (logSum - zb + max));
        Rows.Map(grad, grad, e => (e * invSum - smoothing) * scale);
    }
}
