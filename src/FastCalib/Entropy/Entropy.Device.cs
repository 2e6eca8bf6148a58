using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

// The entropy operations on ILGPU device views: launches are asynchronous on the caller's stream, and the value the
// host overload returns goes to a one-element float64 view (overwritten), so data and results can stay on the device.
public static partial class Entropy
{
    /// <summary>
    /// Per-row entropy of probability rows on device views; <paramref name="mean"/>[0] receives the mean over rows, as
    /// the host overload returns it. The device cannot throw: an invalid row (see the host overload) gets entropy NaN,
    /// and then the mean is NaN.
    /// </summary>
    public static void FromProbabilities(AcceleratorStream stream, ArrayView<float> probabilities, ArrayView<float> entropy, ArrayView<double> mean, int classes, EntropyUnit unit = EntropyUnit.Nats)
    {
        const string op = "Entropy.FromProbabilities";
        long rows = CheckPerRow(op, nameof(probabilities), probabilities.Length, entropy.Length, classes);
        Check.Length(op, nameof(mean), mean.Length, 1);
        EntropyKernels.FromProbabilitiesKernel.Device(stream, op, rows, classes, probabilities, Scale(unit, classes), Tolerance(classes), entropy, mean);
        GpuRows.Affine(op, stream, mean, rows == 0 ? double.NaN : 1.0 / rows, 0);
    }

    /// <summary>
    /// Per-row entropy of softmax(logits / temperature) on device views; <paramref name="mean"/>[0] receives the mean
    /// over rows, as the host overload returns it.
    /// </summary>
    public static void FromLogits(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> entropy, ArrayView<double> mean, int classes, float temperature = 1f, EntropyUnit unit = EntropyUnit.Nats)
    {
        const string op = "Entropy.FromLogits";
        long rows = CheckPerRow(op, nameof(logits), logits.Length, entropy.Length, classes);
        Check.Length(op, nameof(mean), mean.Length, 1);
        float invT = Check.InverseTemperature(op, temperature);
        EntropyKernels.FromLogitsKernel.Device(stream, op, rows, classes, logits, invT, Scale(unit, classes), entropy, mean);
        GpuRows.Affine(op, stream, mean, rows == 0 ? double.NaN : 1.0 / rows, 0);
    }

    /// <summary>
    /// The confidence penalty and its gradient on device views; <paramref name="penalty"/>[0] receives L, as the host
    /// overload returns it.
    /// </summary>
    public static void ConfidencePenalty(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> gradLogits, ArrayView<double> penalty, int classes, float beta, float temperature = 1f)
    {
        const string op = "Entropy.ConfidencePenalty";
        var p = CheckPenalty(op, logits.Length, gradLogits.Length, classes, beta, temperature);
        Check.Length(op, nameof(penalty), penalty.Length, 1);
        EntropyKernels.ConfidencePenaltyKernel.Device(stream, op, p.Rows, classes, logits, gradLogits, p.InvT, p.Coefficient, penalty);
        GpuRows.Affine(op, stream, penalty, p.PerEntropy, p.Offset);
    }
}
