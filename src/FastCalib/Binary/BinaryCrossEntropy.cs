namespace FastCalib;

/// <summary>
/// Sigmoid binary cross-entropy from logits with label smoothing, its value and gradient in one pass, for training
/// loops (a binary detector trained with smoothed targets).
/// </summary>
public static class BinaryCrossEntropy
{
    /// <summary>Elements per row of the kernel's view of the flat arrays (the per-row sums stay short).</summary>
    private const int Width = 1024;

    /// <summary>
    /// The mean over elements of −[q ln σ(z) + (1 − q) ln(1 − σ(z))] with the smoothed target q = t (1 − ε) + ε/2
    /// (Keras' BinaryCrossentropy(from_logits=True, label_smoothing=ε) and its mean reduction), and its gradient with
    /// respect to the logits, (σ(z) − q) / N, written to <paramref name="gradLogits"/>.
    /// </summary>
    /// <param name="logits">Logits z, finite.</param>
    /// <param name="targets">Targets t in [0, 1] (0/1 labels, or soft targets).</param>
    /// <param name="gradLogits">Receives dL/dz; must not overlap the inputs.</param>
    /// <param name="labelSmoothing">ε in [0, 1].</param>
    /// <param name="options">Backend.</param>
    /// <returns>The mean loss (0 for no elements). The loss is summed in float within blocks of 1024 elements and in float64 over blocks.</returns>
    public static double WithLogits(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> gradLogits, float labelSmoothing = 0, ComputeOptions options = default)
    {
        const string op = "BinaryCrossEntropy.WithLogits";
        Check.SameLength(op, nameof(targets), targets.Length, nameof(logits), logits.Length);
        Check.SameLength(op, nameof(gradLogits), gradLogits.Length, nameof(logits), logits.Length);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, nameof(logits), logits, inPlaceAllowed: false);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, nameof(targets), targets, inPlaceAllowed: false);
        if (!(labelSmoothing >= 0 && labelSmoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, $"{op}: labelSmoothing must be in [0, 1], got {labelSmoothing}.");
        int bad = Check.FirstNonFinite(logits);
        if (bad >= 0) throw new ArgumentException($"{op}: logits[{bad}] is {logits[bad]}; logits must be finite.", nameof(logits));
        bad = Check.FirstOutside(targets, 0f, 1f);
        if (bad >= 0) throw new ArgumentException($"{op}: targets[{bad}] is {targets[bad]}; targets must be in [0, 1].", nameof(targets));
        int n = logits.Length;
        if (n == 0) return 0;
        float keep = 1 - labelSmoothing, half = labelSmoothing / 2, scale = 1f / n;
        // the flat arrays as rows of Width elements, then the rest as one shorter row
        int whole = n / Width * Width;
        double total = 0;
        if (whole > 0)
            total += BinaryKernels.CrossEntropyWithLogitsKernel.Host(options, op, whole / Width, Width,
                logits[..whole], targets[..whole], gradLogits[..whole], keep, half, scale);
        if (whole < n)
            total += BinaryKernels.CrossEntropyWithLogitsKernel.Host(options, op, 1, n - whole,
                logits[whole..], targets[whole..], gradLogits[whole..], keep, half, scale);
        return total / n;
    }
}
