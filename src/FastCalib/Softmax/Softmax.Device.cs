using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

// The same operations on ILGPU device memory: the caller owns the views and the stream, so data can stay on the
// device between training steps. Launches are asynchronous on the stream; nothing is allocated per call.
public static partial class Softmax
{
    /// <summary>probabilities = softmax(logits / temperature) per row, on device views (may be the same view).</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes, float temperature = 1f)
    {
        const string op = "Softmax.Forward";
        var (rows, invT) = CheckMap(op, logits.Length, nameof(probabilities), probabilities.Length, classes, temperature);
        SoftmaxKernels.ForwardKernel.Device(stream, op, rows, classes, logits, probabilities, invT);
    }

    /// <summary>logProbabilities = log_softmax(logits / temperature) per row, on device views (may be the same view).</summary>
    public static void LogForward(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> logProbabilities, int classes, float temperature = 1f)
    {
        const string op = "Softmax.LogForward";
        var (rows, invT) = CheckMap(op, logits.Length, nameof(logProbabilities), logProbabilities.Length, classes, temperature);
        SoftmaxKernels.LogForwardKernel.Device(stream, op, rows, classes, logits, logProbabilities, invT);
    }

    /// <summary>Fused top-1 per row on device views: confidence (largest probability) and predicted class (first argmax).</summary>
    public static void Top1(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> confidence, ArrayView<int> predicted, int classes, float temperature = 1f)
    {
        const string op = "Softmax.Top1";
        var (rows, invT) = CheckTop1(op, logits.Length, confidence.Length, predicted.Length, classes, temperature);
        SoftmaxKernels.Top1Kernel.Device(stream, op, rows, classes, logits, invT, confidence, predicted);
    }

    /// <summary>Backward pass of softmax on device views: gradLogits_j = p_j (g_j − Σ_k g_k p_k) / T.</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> probabilities, ArrayView<float> gradProbabilities, ArrayView<float> gradLogits, int classes, float temperature = 1f)
        => RunBackward("Softmax.Backward", log: false, stream, default, probabilities, gradProbabilities, gradLogits, default, classes, temperature);

    /// <summary>
    /// Backward pass of softmax on device views, also writing dL/dT (summed over rows, float64) into
    /// <paramref name="gradTemperature"/>[0], which is overwritten.
    /// </summary>
    public static void BackwardWithTemperature(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, ArrayView<float> gradProbabilities, ArrayView<float> gradLogits, ArrayView<double> gradTemperature, int classes, float temperature = 1f)
        => RunBackward("Softmax.BackwardWithTemperature", log: false, stream, logits, probabilities, gradProbabilities, gradLogits, gradTemperature, classes, temperature);

    /// <summary>Backward pass of log-softmax on device views: gradLogits_j = (g_j − exp(logp_j) Σ_k g_k) / T.</summary>
    public static void LogBackward(AcceleratorStream stream, ArrayView<float> logProbabilities, ArrayView<float> gradLogProbabilities, ArrayView<float> gradLogits, int classes, float temperature = 1f)
        => RunBackward("Softmax.LogBackward", log: true, stream, default, logProbabilities, gradLogProbabilities, gradLogits, default, classes, temperature);

    /// <summary>
    /// Backward pass of log-softmax on device views, also writing dL/dT (summed over rows, float64) into
    /// <paramref name="gradTemperature"/>[0], which is overwritten.
    /// </summary>
    public static void LogBackwardWithTemperature(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> logProbabilities, ArrayView<float> gradLogProbabilities, ArrayView<float> gradLogits, ArrayView<double> gradTemperature, int classes, float temperature = 1f)
        => RunBackward("Softmax.LogBackwardWithTemperature", log: true, stream, logits, logProbabilities, gradLogProbabilities, gradLogits, gradTemperature, classes, temperature);

    /// <summary>
    /// The device backward passes: softmax or log-softmax (<paramref name="log"/>); with dL/dT when
    /// <paramref name="gradTemperature"/> is given (then <paramref name="logits"/> is read and the total overwritten).
    /// </summary>
    private static void RunBackward(string op, bool log, AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> forward,
        ArrayView<float> grad, ArrayView<float> gradLogits, ArrayView<double> gradTemperature, int classes, float temperature)
    {
        bool withTemperature = gradTemperature.IsValid;
        var (rows, invT) = CheckBackward(op, log, withTemperature, logits.Length, forward.Length, grad.Length, gradLogits.Length, classes, temperature);
        if (withTemperature) Check.Length(op, nameof(gradTemperature), gradTemperature.Length, 1);
        switch (log, withTemperature)
        {
            case (false, false): SoftmaxKernels.BackwardKernel.Device(stream, op, rows, classes, forward, grad, gradLogits, invT); break;
            case (false, true): SoftmaxKernels.BackwardWithTemperatureKernel.Device(stream, op, rows, classes, logits, forward, grad, gradLogits, invT, gradTemperature); break;
            case (true, false): SoftmaxKernels.LogBackwardKernel.Device(stream, op, rows, classes, forward, grad, gradLogits, invT); break;
            default: SoftmaxKernels.LogBackwardWithTemperatureKernel.Device(stream, op, rows, classes, logits, forward, grad, gradLogits, invT, gradTemperature); break;
        }
    }
}
