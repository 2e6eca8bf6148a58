using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

// The entropy operations on ILGPU device views: launches are asynchronous on the caller's stream; totals go to a
// one-element float64 view (overwritten) so data and results can stay on the device.
public static partial class Entropy
{
    /// <summary>
    /// Per-row entropy of probability rows on device views; <paramref name="total"/>[0] receives the sum over rows.
    /// Invalid rows (see the host overload) get NaN here instead of an exception, as the device cannot throw.
    /// </summary>
    public static void FromProbabilities(AcceleratorStream stream, ArrayView<float> probabilities, ArrayView<float> entropy, ArrayView<double> total, int cols, EntropyUnit unit = EntropyUnit.Nats)
    {
        const string op = "Entropy.FromProbabilities";
        long rows = Check.Rows(op, nameof(probabilities), probabilities.Length, cols);
        Check.PerRow(op, nameof(entropy), entropy.Length, rows);
        Check.Length(op, nameof(total), total.Length, 1);
        float scale = Scale(unit, cols), tolerance = Tolerance(cols);
        GpuHost.Launch(op, stream, $"[{rows} x {cols}]", () =>
        {
            total.MemSetToZero(stream);
            EntropyKernels.FromProbabilitiesKernel.Gpu(stream, probabilities, scale, tolerance, entropy, total, rows, cols);
        });
    }

    /// <summary>Per-row entropy of softmax(logits / temperature) on device views; <paramref name="total"/>[0] receives the sum over rows.</summary>
    public static void FromLogits(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> entropy, ArrayView<double> total, int cols, float temperature = 1f, EntropyUnit unit = EntropyUnit.Nats)
    {
        const string op = "Entropy.FromLogits";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.PerRow(op, nameof(entropy), entropy.Length, rows);
        Check.Length(op, nameof(total), total.Length, 1);
        float invT = Check.InverseTemperature(op, temperature), scale = Scale(unit, cols);
        GpuHost.Launch(op, stream, $"[{rows} x {cols}]", () =>
        {
            total.MemSetToZero(stream);
            EntropyKernels.FromLogitsKernel.Gpu(stream, logits, invT, scale, entropy, total, rows, cols);
        });
    }

    /// <summary>
    /// The confidence penalty's gradient on device views; <paramref name="totalEntropy"/>[0] receives Σ_rows H, from
    /// which the penalty is β (ln C − Σ H / rows).
    /// </summary>
    public static void ConfidencePenalty(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> gradLogits, ArrayView<double> totalEntropy, int cols, float beta, float temperature = 1f)
    {
        const string op = "Entropy.ConfidencePenalty";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.SameLength(op, nameof(gradLogits), gradLogits.Length, nameof(logits), logits.Length);
        Check.Length(op, nameof(totalEntropy), totalEntropy.Length, 1);
        float invT = Check.InverseTemperature(op, temperature);
        if (!float.IsFinite(beta))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"{op}: beta must be finite, got {beta}.");
        float coefficient = rows == 0 ? 0 : (float)(beta / ((double)rows * temperature));
        GpuHost.Launch(op, stream, $"[{rows} x {cols}]", () =>
        {
            totalEntropy.MemSetToZero(stream);
            EntropyKernels.ConfidencePenaltyKernel.Gpu(stream, logits, gradLogits, invT, coefficient, totalEntropy, rows, cols);
        });
    }
}
