using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastCalib;

// The host operations on System.Numerics.Tensors tensor spans and on pointers with a 64-bit length: the last
// dimension is the class dimension (classes), all others are rows, so [batch, tokens, vocabulary] works as it is.
// Tensors must be dense (contiguous, row-major). These take any number of elements, past the 2^31 − 1 of a span: they
// run the span overloads on blocks of whole rows, so results are the same as one call would give.
public static unsafe partial class Softmax
{
    /// <summary>probabilities = softmax(logits / temperature) along the last dimension.</summary>
    /// <param name="logits">Dense tensor of rank at least 1; its last dimension is the class dimension.</param>
    /// <param name="probabilities">Dense output of the same shape; may be the same memory as <paramref name="logits"/>.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Forward(in ReadOnlyTensorSpan<float> logits, in TensorSpan<float> probabilities, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.Forward";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        TensorRows.SameShape(op, nameof(probabilities), probabilities, nameof(logits), logits);
        TensorRows.Dense(op, nameof(probabilities), probabilities.IsDense);
        if (logits.FlattenedLength == 0) return;
        fixed (float* z = &logits.GetPinnableReference(), p = &probabilities.GetPinnableReference())
            Forward(z, p, logits.FlattenedLength, classes, temperature, options);
    }

    /// <summary>logProbabilities = log_softmax(logits / temperature) along the last dimension.</summary>
    /// <param name="logits">Dense tensor of rank at least 1; its last dimension is the class dimension.</param>
    /// <param name="logProbabilities">Dense output of the same shape; may be the same memory as <paramref name="logits"/>.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void LogForward(in ReadOnlyTensorSpan<float> logits, in TensorSpan<float> logProbabilities, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.LogForward";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        TensorRows.SameShape(op, nameof(logProbabilities), logProbabilities, nameof(logits), logits);
        TensorRows.Dense(op, nameof(logProbabilities), logProbabilities.IsDense);
        if (logits.FlattenedLength == 0) return;
        fixed (float* z = &logits.GetPinnableReference(), lp = &logProbabilities.GetPinnableReference())
            LogForward(z, lp, logits.FlattenedLength, classes, temperature, options);
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
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        if (logits.FlattenedLength == 0)
        {
            Top1(ReadOnlySpan<float>.Empty, confidence, predicted, classes, temperature, options);
            return;
        }
        long rows = logits.FlattenedLength / classes;
        Check.PerRow(op, nameof(confidence), confidence.Length, rows);
        Check.PerRow(op, nameof(predicted), predicted.Length, rows);
        ref float z = ref Unsafe.AsRef(in logits.GetPinnableReference());
        long perBlock = TensorRows.RowsPerBlock(classes);
        for (long start = 0; start < rows; start += perBlock)
        {
            int n = (int)Math.Min(perBlock, rows - start);
            Top1(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref z, (nint)(start * classes)), n * classes),
                confidence.Slice((int)start, n), predicted.Slice((int)start, n), classes, temperature, options);
        }
    }

    /// <summary>
    /// <see cref="Forward(ReadOnlySpan{float}, Span{float}, int, float, ComputeOptions)"/> over <paramref name="length"/>
    /// values at <paramref name="logits"/>, any length (past 2^31 − 1); the output may be the input.
    /// </summary>
    /// <param name="logits">Row-major [rows, classes] logits, <paramref name="length"/> values.</param>
    /// <param name="probabilities">Output, <paramref name="length"/> values; may be <paramref name="logits"/> itself.</param>
    /// <param name="length">Values at each pointer, a whole number of rows.</param>
    /// <param name="classes">Values per row, at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void Forward(float* logits, float* probabilities, long length, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.Forward";
        ForEachPointerBlock(CheckPointers(op, logits, probabilities, length, classes), classes,
            (offset, n) => Forward(new ReadOnlySpan<float>(logits + offset, n), new Span<float>(probabilities + offset, n), classes, temperature, options));
    }

    /// <summary>
    /// <see cref="LogForward(ReadOnlySpan{float}, Span{float}, int, float, ComputeOptions)"/> over
    /// <paramref name="length"/> values at <paramref name="logits"/>, any length; the output may be the input.
    /// </summary>
    /// <param name="logits">Row-major [rows, classes] logits, <paramref name="length"/> values.</param>
    /// <param name="logProbabilities">Output, <paramref name="length"/> values; may be <paramref name="logits"/> itself.</param>
    /// <param name="length">Values at each pointer, a whole number of rows.</param>
    /// <param name="classes">Values per row, at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public static void LogForward(float* logits, float* logProbabilities, long length, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Softmax.LogForward";
        ForEachPointerBlock(CheckPointers(op, logits, logProbabilities, length, classes), classes,
            (offset, n) => LogForward(new ReadOnlySpan<float>(logits + offset, n), new Span<float>(logProbabilities + offset, n), classes, temperature, options));
    }

    /// <summary>Calls <paramref name="block"/> (value offset, values) for blocks of whole rows that a span holds.</summary>
    private static void ForEachPointerBlock(long rows, int classes, Action<long, int> block)
    {
        long perBlock = TensorRows.RowsPerBlock(classes);
        for (long start = 0; start < rows; start += perBlock)
            block(start * classes, (int)(Math.Min(perBlock, rows - start) * classes));
    }

    private static long CheckPointers(string op, float* input, float* output, long length, int classes)
    {
        if (length < 0)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{op}: length must be at least 0, got {length}.");
        long rows = Check.Rows(op, "logits", length, classes);
        if (length > 0 && (input == null || output == null))
            throw new ArgumentNullException(input == null ? "logits" : "output", $"{op}: a pointer to {length} values is null.");
        // the output may be the input, but must not partly overlap it
        long bytes = length * sizeof(float);
        if (output != input && (byte*)output < (byte*)input + bytes && (byte*)input < (byte*)output + bytes)
            throw new ArgumentException($"{op}: the output overlaps the logits; it may be the same memory (in place) but must not partly overlap it.", "output");
        return rows;
    }
}
