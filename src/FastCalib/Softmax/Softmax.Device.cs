using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

// The same operations on ILGPU device memory: the caller owns the views and the stream, so data can stay on the
// device between training steps. Launches are asynchronous on the stream; nothing is allocated per call.
public static partial class Softmax
{
    /// <summary>probabilities = softmax(logits / temperature) per row, on device views (may be the same view).</summary>
    public static void Forward(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int cols, float temperature = 1f)
    {
        const string op = "Softmax.Forward";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(logits), logits.Length);
        float invT = Check.InverseTemperature(op, temperature);
        GpuHost.Launch(op, stream, Shape(rows, cols), () => SoftmaxKernels.ForwardKernel.Gpu(stream, logits, probabilities, invT, rows, cols));
    }

    /// <summary>logProbabilities = log_softmax(logits / temperature) per row, on device views (may be the same view).</summary>
    public static void LogForward(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> logProbabilities, int cols, float temperature = 1f)
    {
        const string op = "Softmax.LogForward";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.SameLength(op, nameof(logProbabilities), logProbabilities.Length, nameof(logits), logits.Length);
        float invT = Check.InverseTemperature(op, temperature);
        GpuHost.Launch(op, stream, Shape(rows, cols), () => SoftmaxKernels.LogForwardKernel.Gpu(stream, logits, logProbabilities, invT, rows, cols));
    }

    /// <summary>Fused top-1 per row on device views: confidence (largest probability) and predicted class (first argmax).</summary>
    public static void Top1(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> confidence, ArrayView<int> predicted, int cols, float temperature = 1f)
    {
        const string op = "Softmax.Top1";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.PerRow(op, nameof(confidence), confidence.Length, rows);
        Check.PerRow(op, nameof(predicted), predicted.Length, rows);
        float invT = Check.InverseTemperature(op, temperature);
        GpuHost.Launch(op, stream, Shape(rows, cols), () => SoftmaxKernels.Top1Kernel.Gpu(stream, logits, invT, confidence, predicted, rows, cols));
    }

    /// <summary>Backward pass of softmax on device views: gradLogits_j = p_j (g_j − Σ_k g_k p_k) / T.</summary>
    public static void Backward(AcceleratorStream stream, ArrayView<float> probabilities, ArrayView<float> gradProbabilities, ArrayView<float> gradLogits, int cols, float temperature = 1f)
        => RunBackward("Softmax.Backward", log: false, stream, default, probabilities, gradProbabilities, gradLogits, default, cols, temperature);

    /// <summary>
    /// Backward pass of softmax on device views, also writing dL/dT (summed over rows, float64) into
    /// <paramref name="gradTemperature"/>[0], which is overwritten.
    /// </summary>
    public static void BackwardWithTemperature(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, ArrayView<float> gradProbabilities, ArrayView<float> gradLogits, ArrayView<double> gradTemperature, int cols, float temperature = 1f)
        => RunBackward("Softmax.BackwardWithTemperature", log: false, stream, logits, probabilities, gradProbabilities, gradLogits, gradTemperature, cols, temperature);

    /// <summary>Backward pass of log-softmax on device views: gradLogits_j = (g_j − exp(logp_j) Σ_k g_k) / T.</summary>
    public static void LogBackward(AcceleratorStream stream, ArrayView<float> logProbabilities, ArrayView<float> gradLogProbabilities, ArrayView<float> gradLogits, int cols, float temperature = 1f)
        => RunBackward("Softmax.LogBackward", log: true, stream, default, logProbabilities, gradLogProbabilities, gradLogits, default, cols, temperature);

    /// <summary>
    /// Backward pass of log-softmax on device views, also writing dL/dT (summed over rows, float64) into
    /// <paramref name="gradTemperature"/>[0], which is overwritten.
    /// </summary>
    public static void LogBackwardWithTemperature(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> logProbabilities, ArrayView<float> gradLogProbabilities, ArrayView<float> gradLogits, ArrayView<double> gradTemperature, int cols, float temperature = 1f)
        => RunBackward("Softmax.LogBackwardWithTemperature", log: true, stream, logits, logProbabilities, gradLogProbabilities, gradLogits, gradTemperature, cols, temperature);

    /// <summary>
    /// The device backward passes: softmax or log-softmax (<paramref name="log"/>); with dL/dT when
    /// <paramref name="gradTemperature"/> is given (then <paramref name="logits"/> is read and the total overwritten).
    /// </summary>
    private static void RunBackward(string op, bool log, AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> forward,
        ArrayView<float> grad, ArrayView<float> gradLogits, ArrayView<double> gradTemperature, int cols, float temperature)
    {
        bool withTemperature = gradTemperature.IsValid;
        var (rows, invT) = CheckBackward(op, log, withTemperature, logits.Length, forward.Length, grad.Length, gradLogits.Length, cols, temperature);
        if (withTemperature) Check.Length(op, nameof(gradTemperature), gradTemperature.Length, 1);
        GpuHost.Launch(op, stream, Shape(rows, cols), () =>
        {
            if (withTemperature) gradTemperature.MemSetToZero(stream);
            switch (log, withTemperature)
            {
                case (false, false): SoftmaxKernels.BackwardKernel.Gpu(stream, forward, grad, gradLogits, invT, rows, cols); break;
                case (false, true): SoftmaxKernels.BackwardWithTemperatureKernel.Gpu(stream, logits, forward, grad, gradLogits, invT, gradTemperature, rows, cols); break;
                case (true, false): SoftmaxKernels.LogBackwardKernel.Gpu(stream, forward, grad, gradLogits, invT, rows, cols); break;
                default: SoftmaxKernels.LogBackwardWithTemperatureKernel.Gpu(stream, logits, forward, grad, gradLogits, invT, gradTemperature, rows, cols); break;
            }
        });
    }

    private static string Shape(long rows, int cols) => $"[{rows} x {cols}]";
}
