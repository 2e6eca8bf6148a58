namespace FastCalib;

/// <summary>
/// Softmax with temperature over the rows of a row-major float32 matrix [rows, classes]: forward, log-softmax,
/// fused top-1 and the backward passes for training loops, on host spans (scalar, SIMD or GPU backend, see
/// <see cref="ComputeOptions"/>) or on ILGPU device views.
/// </summary>
/// <remarks>
/// <para>Every row is shifted by its maximum before exponentiating, so logits of any magnitude (±1e4 and beyond) are
/// safe; the temperature T divides the logits and must be finite and greater than 0.</para>
/// <para>Non-finite logits: −∞ is an ordinary value (probability 0), so masked logits work; a row whose values are
/// all −∞, or that contains +∞ or NaN, gives NaN in every output of that row (as PyTorch does), and
/// <see cref="Top1(ReadOnlySpan{float}, Span{float}, Span{int}, int, float, ComputeOptions)"/> gives confidence NaN
/// and, as its index, the first maximum with NaN counted greatest (NumPy's and PyTorch's argmax).</para>
/// <para>Accuracy: the SIMD path uses a fast vector exponential (max relative error about 2 ulp); probabilities
/// below float's smallest normal (1.2e-38) lose precision gradually and reach 0. Sums are float32 per row.</para>
/// <para>Outputs are caller-provided: no call allocates on the SIMD and scalar paths (except task scheduling for
/// large inputs). Forward and log-forward may write in place (output the same span as the logits); the backward
/// passes may write the logit gradient over the upstream gradient. Other overlaps are rejected.</para>
/// </remarks>
public static partial class Softmax
{
    /// <summary>probabilities = softmax(logits / temperature) per row.</summary>
    /// <param name="logits">Row-major [rows, classes] logits.</param>
    /// <param name="probabilities">Output, same shape; may be <paramref name="logits"/> itself.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Forward(ReadOnlySpan<float> logits, Span<float> probabilities, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.Forward";
        var (rows, invT) = CheckMap(op, logits.Length, nameof(probabilities), probabilities.Length, classes, temperature);
        Check.NoOverlap(op, nameof(probabilities), probabilities, nameof(logits), logits, inPlaceAllowed: true);
        SoftmaxKernels.ForwardKernel.Host(options, op, rows, classes, logits, probabilities, invT);
    }

    /// <summary>logProbabilities = log_softmax(logits / temperature) per row.</summary>
    /// <param name="logits">Row-major [rows, classes] logits.</param>
    /// <param name="logProbabilities">Output, same shape; may be <paramref name="logits"/> itself.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void LogForward(ReadOnlySpan<float> logits, Span<float> logProbabilities, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.LogForward";
        var (rows, invT) = CheckMap(op, logits.Length, nameof(logProbabilities), logProbabilities.Length, classes, temperature);
        Check.NoOverlap(op, nameof(logProbabilities), logProbabilities, nameof(logits), logits, inPlaceAllowed: true);
        SoftmaxKernels.LogForwardKernel.Host(options, op, rows, classes, logits, logProbabilities, invT);
    }

    /// <summary>
    /// Fused top-1 per row: the predicted class (first argmax of the logits) and its probability under
    /// softmax(logits / temperature), without writing the probability matrix.
    /// </summary>
    /// <param name="logits">Row-major [rows, classes] logits.</param>
    /// <param name="confidence">Output, one per row: the largest probability.</param>
    /// <param name="predicted">Output, one per row: the column of the first maximum.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Top1(ReadOnlySpan<float> logits, Span<float> confidence, Span<int> predicted, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.Top1";
        var (rows, invT) = CheckTop1(op, logits.Length, confidence.Length, predicted.Length, classes, temperature);
        Check.NoOverlap(op, nameof(confidence), confidence, nameof(logits), logits, inPlaceAllowed: false);
        Check.NoOverlap(op, nameof(predicted), predicted, nameof(logits), logits, inPlaceAllowed: false);
        Check.NoOverlap(op, nameof(predicted), predicted, nameof(confidence), confidence, inPlaceAllowed: false);
        SoftmaxKernels.Top1Kernel.Host(options, op, rows, classes, logits, invT, confidence, predicted);
    }

    /// <summary>
    /// Backward pass of <see cref="Forward(ReadOnlySpan{float}, Span{float}, int, float, ComputeOptions)"/>:
    /// gradLogits = dL/dlogits from the forward output and dL/dprobabilities,
    /// gradLogits_j = p_j (g_j − Σ_k g_k p_k) / T.
    /// </summary>
    /// <param name="probabilities">The forward output p, [rows, classes].</param>
    /// <param name="gradProbabilities">The upstream gradient g = dL/dp, same shape.</param>
    /// <param name="gradLogits">Output dL/dlogits, same shape; may be <paramref name="gradProbabilities"/> itself.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">The temperature the forward pass used.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Backward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> gradProbabilities, Span<float> gradLogits, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        _ = RunBackward("Softmax.Backward", log: false, withTemperature: false, default, probabilities, gradProbabilities, gradLogits, classes, temperature, options);
    }

    /// <summary>
    /// <see cref="Backward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, float, ComputeOptions)"/>
    /// that also returns dL/dT, the gradient with respect to the temperature summed over all rows:
    /// dL/dT = −(1/T) Σ_rows Σ_j gradLogits_j · logits_j (accumulated in float64).
    /// </summary>
    /// <param name="logits">The forward input z, [rows, classes].</param>
    /// <param name="probabilities">The forward output p, same shape.</param>
    /// <param name="gradProbabilities">The upstream gradient g = dL/dp, same shape.</param>
    /// <param name="gradLogits">Output dL/dlogits, same shape; may be <paramref name="gradProbabilities"/> itself.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">The temperature the forward pass used.</param>
    /// <param name="options">Backend and threads.</param>
    /// <returns>dL/dT.</returns>
    public static double BackwardWithTemperature(ReadOnlySpan<float> logits, ReadOnlySpan<float> probabilities, ReadOnlySpan<float> gradProbabilities, Span<float> gradLogits, int classes, float temperature = 1f, ComputeOptions options = default)
        => RunBackward("Softmax.BackwardWithTemperature", log: false, withTemperature: true, logits, probabilities, gradProbabilities, gradLogits, classes, temperature, options);

    /// <summary>
    /// Backward pass of <see cref="LogForward(ReadOnlySpan{float}, Span{float}, int, float, ComputeOptions)"/>:
    /// gradLogits_j = (g_j − exp(logp_j) Σ_k g_k) / T.
    /// </summary>
    /// <param name="logProbabilities">The forward output log p, [rows, classes].</param>
    /// <param name="gradLogProbabilities">The upstream gradient g = dL/dlog p, same shape.</param>
    /// <param name="gradLogits">Output dL/dlogits, same shape; may be <paramref name="gradLogProbabilities"/> itself.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">The temperature the forward pass used.</param>
    /// <param name="options">Backend and threads.</param>
    public static void LogBackward(ReadOnlySpan<float> logProbabilities, ReadOnlySpan<float> gradLogProbabilities, Span<float> gradLogits, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        _ = RunBackward("Softmax.LogBackward", log: true, withTemperature: false, default, logProbabilities, gradLogProbabilities, gradLogits, classes, temperature, options);
    }

    /// <summary>
    /// <see cref="LogBackward(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, float, ComputeOptions)"/>
    /// that also returns dL/dT = −(1/T) Σ_rows Σ_j gradLogits_j · logits_j (accumulated in float64).
    /// </summary>
    /// <param name="logits">The forward input z, [rows, classes].</param>
    /// <param name="logProbabilities">The forward output log p, same shape.</param>
    /// <param name="gradLogProbabilities">The upstream gradient g = dL/dlog p, same shape.</param>
    /// <param name="gradLogits">Output dL/dlogits, same shape; may be <paramref name="gradLogProbabilities"/> itself.</param>
    /// <param name="classes">Values per row (classes), at least 1.</param>
    /// <param name="temperature">The temperature the forward pass used.</param>
    /// <param name="options">Backend and threads.</param>
    /// <returns>dL/dT.</returns>
    public static double LogBackwardWithTemperature(ReadOnlySpan<float> logits, ReadOnlySpan<float> logProbabilities, ReadOnlySpan<float> gradLogProbabilities, Span<float> gradLogits, int classes, float temperature = 1f, ComputeOptions options = default)
        => RunBackward("Softmax.LogBackwardWithTemperature", log: true, withTemperature: true, logits, logProbabilities, gradLogProbabilities, gradLogits, classes, temperature, options);

    /// <summary>
    /// The four backward passes share their checks and differ only in the kernel: softmax or log-softmax
    /// (<paramref name="log"/>), with or without dL/dT (then <paramref name="logits"/> is read).
    /// </summary>
    private static double RunBackward(string op, bool log, bool withTemperature, ReadOnlySpan<float> logits,
        ReadOnlySpan<float> forward, ReadOnlySpan<float> grad, Span<float> gradLogits, int classes, float temperature, ComputeOptions options)
    {
        var (forwardName, gradName) = BackwardNames(log);
        var (rows, invT) = CheckBackward(op, log, withTemperature, logits.Length, forward.Length, grad.Length, gradLogits.Length, classes, temperature);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, nameof(logits), logits, inPlaceAllowed: false);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, forwardName, forward, inPlaceAllowed: false);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, gradName, grad, inPlaceAllowed: true);
        return (log, withTemperature) switch
        {
            (false, false) => SoftmaxKernels.BackwardKernel.Host(options, op, rows, classes, forward, grad, gradLogits, invT),
            (false, true) => SoftmaxKernels.BackwardWithTemperatureKernel.Host(options, op, rows, classes, logits, forward, grad, gradLogits, invT),
            (true, false) => SoftmaxKernels.LogBackwardKernel.Host(options, op, rows, classes, forward, grad, gradLogits, invT),
            _ => SoftmaxKernels.LogBackwardWithTemperatureKernel.Host(options, op, rows, classes, logits, forward, grad, gradLogits, invT),
        };
    }

    // ------------------------------------------------------------------ checks shared by the host and device overloads

    /// <summary>Forward and log-forward: an output of the input's shape and a valid temperature; returns rows and 1/T.</summary>
    private static (long Rows, float InvT) CheckMap(string op, long logits, string outputName, long output, int classes, float temperature)
    {
        long rows = Check.Rows(op, nameof(logits), logits, classes);
        Check.SameLength(op, outputName, output, nameof(logits), logits);
        return (rows, Check.InverseTemperature(op, temperature));
    }

    /// <summary>Top-1: one confidence and one prediction per row and a valid temperature; returns rows and 1/T.</summary>
    private static (long Rows, float InvT) CheckTop1(string op, long logits, long confidence, long predicted, int classes, float temperature)
    {
        long rows = Check.Rows(op, nameof(logits), logits, classes);
        Check.PerRow(op, nameof(confidence), confidence, rows);
        Check.PerRow(op, nameof(predicted), predicted, rows);
        return (rows, Check.InverseTemperature(op, temperature));
    }

    private static (string Forward, string Grad) BackwardNames(bool log) =>
        log ? ("logProbabilities", "gradLogProbabilities") : ("probabilities", "gradProbabilities");

    /// <summary>The shape and temperature checks of every backward pass (host or device): returns rows and 1/T.</summary>
    private static (long Rows, float InvT) CheckBackward(string op, bool log, bool withTemperature, long logits, long forward, long grad, long gradLogits, int classes, float temperature)
    {
        var (forwardName, gradName) = BackwardNames(log);
        string first = withTemperature ? nameof(logits) : forwardName;
        long length = withTemperature ? logits : forward;
        long rows = Check.Rows(op, first, length, classes);
        if (withTemperature) Check.SameLength(op, forwardName, forward, first, length);
        Check.SameLength(op, gradName, grad, first, length);
        Check.SameLength(op, nameof(gradLogits), gradLogits, first, length);
        return (rows, Check.InverseTemperature(op, temperature));
    }
}
