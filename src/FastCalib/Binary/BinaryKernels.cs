using FastCalib.Kernels;

namespace FastCalib;

/// <summary>The one definition of each binary-classifier kernel (see <see cref="BinaryCrossEntropy"/> for the public API).</summary>
internal static partial class BinaryKernels
{
    /// <summary>
    /// Binary cross-entropy of σ(z) against the smoothed target q = t · keep + half, in the stable form
    /// max(z, 0) − z q + ln(1 + e) with e = exp(−|z|), where ln(1 + e) is taken as ln(u) · e / (u − 1) with u = 1 + e
    /// rounded (u − 1 is exact, and the ratio undoes u's rounding: Goldberg 1991, "What every computer scientist should
    /// know about floating-point arithmetic", theorem 4), and e where u rounds to 1; the gradient row gets (σ(z) − q) · scale with
    /// σ(z) = 1 / (1 + e) for z ≥ 0 and e / (1 + e) otherwise. One traversal: e is shared by the loss and the gradient.
    /// </summary>
    [RowKernel]
    internal static void CrossEntropyWithLogits(ReadOnlyRow z, ReadOnlyRow t, Row grad, float keep, float half, float scale, ref double total)
    {
        float loss = Rows.Sum(z, t, (v, y) => MathF.Max(v, 0) - v * (y * keep + half)
            + (1 + MathF.Exp(-MathF.Abs(v)) == 1
                ? MathF.Exp(-MathF.Abs(v))
                : MathF.Log(1 + MathF.Exp(-MathF.Abs(v))) * (MathF.Exp(-MathF.Abs(v)) / (1 + MathF.Exp(-MathF.Abs(v)) - 1))));
        Rows.Map(grad, z, t, (v, y) => ((v >= 0 ? 1 / (1 + MathF.Exp(-MathF.Abs(v))) : MathF.Exp(-MathF.Abs(v)) / (1 + MathF.Exp(-MathF.Abs(v)))) - (y * keep + half)) * scale);
        total += loss;
    }
}
