using FastCalib.Kernels;

namespace FastCalib;

/// <summary>
/// Per-row pieces of temperature fitting and of LLM class probabilities. With β = 1/T, d_j = z_j − max z ≤ 0,
/// e_j = exp(β d_j) and s = Σ e: the row's NLL is f(β) = ln s − β d_y, its derivative f'(β) = Σ e d / s − d_y, and
/// f''(β) = Σ e d² / s − (Σ e d / s)², the variance of d under softmax(β z), so f is convex in β.
/// </summary>
internal static partial class TemperatureKernels
{
    [RowKernel]
    internal static void NllDerivatives(ReadOnlyRow z, in int label, float beta, out float nll, out float first, out float second)
    {
        float max = Rows.Max(z, v => v);
        float sum = Rows.Sum(z, v => MathF.Exp((v - max) * beta));
        float moment1 = Rows.Sum(z, v => (v - max) * beta > -104 ? MathF.Exp((v - max) * beta) * (v - max) : 0);
        float moment2 = Rows.Sum(z, v => (v - max) * beta > -104 ? MathF.Exp((v - max) * beta) * (v - max) * (v - max) : 0);
        float atLabel = Rows.At(z, label);
        float mean = moment1 / sum;
        nll = MathF.Log(sum) - beta * (atLabel - max);
        first = mean - (atLabel - max);
        second = MathF.Max(moment2 / sum - mean * mean, 0);
    }

    /// <summary>The row maximum and the softmax normaliser s = Σ exp((z_j − max) / T), for probabilities of token groups.</summary>
    [RowKernel]
    internal static void Normalizer(ReadOnlyRow z, float invT, out float max, out float sum)
    {
        float top = Rows.Max(z, v => v);
        float total = Rows.Sum(z, v => MathF.Exp((v - top) * invT));
        max = top;
        sum = total;
    }

    /// <summary>
    /// Ensemble temperature scaling's mixture w₀ softmax(z / T) + w₁ softmax(z) + floor (floor = w₂ / C), in one
    /// traversal for the normalisers and one for the output (which may be z itself).
    /// </summary>
    [RowKernel]
    internal static void EnsembleProbabilities(ReadOnlyRow z, Row p, float invT, float w0, float w1, float floor)
    {
        float max = Rows.Max(z, v => v);
        float tempered = Rows.Sum(z, v => MathF.Exp((v - max) * invT));
        float raw = Rows.Sum(z, v => MathF.Exp(v - max));
        float a = w0 / tempered;
        float b = w1 / raw;
        Rows.Map(p, z, v => a * MathF.Exp((v - max) * invT) + b * MathF.Exp(v - max) + floor);
    }
}
