using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace FastCalib;

// The host operations on System.Numerics.Tensors tensor spans: the last dimension is the class dimension (classes),
// all others are rows, so [batch, tokens, vocabulary] works as it is. Tensors must be dense (contiguous, row-major).
public static partial class Softmax
{
    /// <summary>probabilities = softmax(logits / temperature) along the last dimension.</summary>
    /// <param name="logits">Dense tensor of rank at least 1; its last dimension is the class dimension.</param>
    /// <param name="probabilities">Dense output of the same shape; may be the same memory as <paramref name="logits"/>.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Forward(in ReadOnlyTensorSpan<float> logits, in TensorSpan<float> probabilities, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.Forward";
        int classes = Classes(op, nameof(logits), logits);
        SameShape(op, nameof(probabilities), probabilities, nameof(logits), logits);
        Forward(Flat(op, nameof(logits), logits), Flat(op, nameof(probabilities), probabilities), classes, temperature, options);
    }

    /// <summary>logProbabilities = log_softmax(logits / temperature) along the last dimension.</summary>
    /// <param name="logits">Dense tensor of rank at least 1; its last dimension is the class dimension.</param>
    /// <param name="logProbabilities">Dense output of the same shape; may be the same memory as <paramref name="logits"/>.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void LogForward(in ReadOnlyTensorSpan<float> logits, in TensorSpan<float> logProbabilities, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.LogForward";
        int classes = Classes(op, nameof(logits), logits);
        SameShape(op, nameof(logProbabilities), logProbabilities, nameof(logits), logits);
        LogForward(Flat(op, nameof(logits), logits), Flat(op, nameof(logProbabilities), logProbabilities), classes, temperature, options);
    }

    /// <summary>Fused top-1 along the last dimension: one confidence and one predicted class per row (all other dimensions flattened).</summary>
    /// <param name="logits">Dense tensor of rank at least 1; its last dimension is the class dimension.</param>
    /// <param name="confidence">Output, one per row (the product of all dimensions but the last).</param>
    /// <param name="predicted">Output, one per row.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Top1(in ReadOnlyTensorSpan<float> logits, Span<float> confidence, Span<int> predicted, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.Top1";
        int classes = Classes(op, nameof(logits), logits);
        Top1(Flat(op, nameof(logits), logits), confidence, predicted, classes, temperature, options);
    }

    private static int Classes(string operation, string argument, in ReadOnlyTensorSpan<float> tensor)
    {
        if (tensor.Rank < 1)
            throw new ArgumentException($"{operation}: {argument} must have at least one dimension.", argument);
        nint classes = tensor.Lengths[tensor.Rank - 1];
        if (classes > int.MaxValue)
            throw new ArgumentException($"{operation}: {argument}'s last dimension ({classes}) exceeds {int.MaxValue} classes.", argument);
        return (int)classes;
    }

    private static void SameShape(string operation, string argument, in TensorSpan<float> output, string reference, in ReadOnlyTensorSpan<float> input)
    {
        if (!output.Lengths.SequenceEqual(input.Lengths))
            throw new ArgumentException($"{operation}: {argument} has shape [{string.Join(", ", output.Lengths.ToArray())}] but {reference} has [{string.Join(", ", input.Lengths.ToArray())}]; they must match.", argument);
    }

    private static ReadOnlySpan<float> Flat(string operation, string argument, in ReadOnlyTensorSpan<float> tensor)
    {
        CheckDense(operation, argument, tensor.IsDense, tensor.FlattenedLength);
        return tensor.FlattenedLength == 0 ? default : MemoryMarshal.CreateReadOnlySpan(in tensor.GetPinnableReference(), (int)tensor.FlattenedLength);
    }

    private static Span<float> Flat(string operation, string argument, in TensorSpan<float> tensor)
    {
        CheckDense(operation, argument, tensor.IsDense, tensor.FlattenedLength);
        return tensor.FlattenedLength == 0 ? default : MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), (int)tensor.FlattenedLength);
    }

    private static void CheckDense(string operation, string argument, bool dense, nint length)
    {
        if (!dense)
            throw new ArgumentException($"{operation}: {argument} must be dense (contiguous, row-major); copy a strided or broadcast view first.", argument);
        if (length > int.MaxValue)
            throw new ArgumentException($"{operation}: {argument} has {length} elements; host calls take at most {int.MaxValue} (use device views for more).", argument);
    }
}
