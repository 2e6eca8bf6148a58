using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastCalib;

/// <summary>A block of whole rows of a tensor and the labels of those rows.</summary>
internal delegate void LabeledRows(ReadOnlySpan<float> values, ReadOnlySpan<int> labels);

/// <summary>A block of whole rows of a tensor, starting at row <paramref name="firstRow"/>.</summary>
internal delegate void RowBlock(ReadOnlySpan<float> values, long firstRow, int rows);

/// <summary>
/// The rules of the tensor-span overloads, in one place: a tensor of rank at least 1 whose last dimension is the
/// class dimension and whose other dimensions are rows ([batch, tokens, vocabulary] works as it is), dense
/// (contiguous, row-major), of any number of elements: past a span's 2^31 − 1 it is walked in blocks of whole rows.
/// </summary>
internal static class TensorRows
{
    /// <summary>The most values one block holds: a span's 2^31 − 1 (tests lower it on their own thread to walk blocks on small data).</summary>
    public static int MaxBlockValues => t_maxBlockValues ?? int.MaxValue;

    [ThreadStatic]
    private static int? t_maxBlockValues;

    /// <summary>Lowers <see cref="MaxBlockValues"/> on this thread until the returned scope is disposed (for tests).</summary>
    public static IDisposable LimitBlocks(int values)
    {
        var before = t_maxBlockValues;
        t_maxBlockValues = values;
        return new Restore(() => t_maxBlockValues = before);
    }

    /// <summary>Whole rows per block of a long call (at least one).</summary>
    public static long RowsPerBlock(int classes) => Math.Max(1, MaxBlockValues / classes);

    /// <summary>Whether a tensor of <paramref name="values"/> values fits one block.</summary>
    public static bool OneBlock(long values) => values <= MaxBlockValues;

    /// <summary>The class dimension (the last); checks the rank and that the tensor is dense.</summary>
    public static int Classes(string operation, string argument, in ReadOnlyTensorSpan<float> tensor)
    {
        if (tensor.Rank < 1)
            throw new ArgumentException($"{operation}: {argument} must have at least one dimension.", argument);
        nint classes = tensor.Lengths[tensor.Rank - 1];
        if (classes > int.MaxValue)
            throw new ArgumentException($"{operation}: {argument}'s last dimension ({classes}) exceeds {int.MaxValue} classes.", argument);
        Dense(operation, argument, tensor.IsDense);
        return (int)classes;
    }

    /// <summary>Rows: the product of all dimensions but the last.</summary>
    public static long Rows(string operation, string argument, in ReadOnlyTensorSpan<float> tensor, int classes) =>
        Check.Rows(operation, argument, tensor.FlattenedLength, classes);

    public static void SameShape(string operation, string argument, in TensorSpan<float> output, string reference, in ReadOnlyTensorSpan<float> input)
    {
        if (!output.Lengths.SequenceEqual(input.Lengths))
            throw new ArgumentException($"{operation}: {argument} has shape [{string.Join(", ", output.Lengths.ToArray())}] but {reference} has [{string.Join(", ", input.Lengths.ToArray())}]; they must match.", argument);
    }

    public static void Dense(string operation, string argument, bool dense)
    {
        if (!dense)
            throw new ArgumentException($"{operation}: {argument} must be dense (contiguous, row-major); copy a strided or broadcast view first.", argument);
    }

    /// <summary>
    /// An error from a block's call, whose "row N" counts from the block's first row, renumbered to count from the
    /// tensor's (or returned as it is if it names no row).
    /// </summary>
    public static ArgumentException InTensor(ArgumentException e, long firstRow)
    {
        var m = System.Text.RegularExpressions.Regex.Match(e.Message, @": row (\d+) ");
        if (!m.Success || firstRow == 0) return e;
        long row = firstRow + long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return new ArgumentException(e.Message.Replace(m.Value, $": row {row} "), e.ParamName, e);
    }

    /// <summary>Runs <paramref name="action"/> on blocks of whole rows, in order.</summary>
    public static void ForEachBlock(in ReadOnlyTensorSpan<float> tensor, int classes, RowBlock action)
    {
        long rows = tensor.FlattenedLength / classes;
        ref float first = ref Unsafe.AsRef(in tensor.GetPinnableReference());
        long perBlock = RowsPerBlock(classes);
        for (long start = 0; start < rows; start += perBlock)
        {
            int n = (int)Math.Min(perBlock, rows - start);
            action(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref first, (nint)(start * classes)), n * classes), start, n);
        }
    }

    /// <summary>Runs <paramref name="action"/> on blocks of whole rows with their labels (one per row), in order.</summary>
    public static void ForEachBlock(in ReadOnlyTensorSpan<float> tensor, int classes, ReadOnlySpan<int> labels, LabeledRows action)
    {
        long rows = tensor.FlattenedLength / classes;
        ref float first = ref Unsafe.AsRef(in tensor.GetPinnableReference());
        long perBlock = RowsPerBlock(classes);
        for (long start = 0; start < rows; start += perBlock)
        {
            int n = (int)Math.Min(perBlock, rows - start);
            action(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.Add(ref first, (nint)(start * classes)), n * classes), labels.Slice((int)start, n));
        }
    }
}

/// <summary>
/// Labels given as int64 (NumPy's and PyTorch's default) for the int32 kernels: checked against the range the
/// operation accepts (the error names the first label outside it, as the int32 overloads do), then narrowed into
/// a pooled buffer. Dispose returns the buffer.
/// </summary>
internal readonly ref struct NarrowedLabels
{
    private readonly int[]? _rented;

    private NarrowedLabels(int[]? rented, int length)
    {
        _rented = rented;
        Span = rented is null ? [] : rented.AsSpan(0, length);
    }

    public ReadOnlySpan<int> Span { get; }

    /// <param name="operation">The operation, for messages.</param>
    /// <param name="argument">The labels' parameter name.</param>
    /// <param name="labels">The int64 labels.</param>
    /// <param name="min">The smallest accepted label.</param>
    /// <param name="max">The largest accepted label.</param>
    /// <param name="rule">What the operation accepts, as its int32 overload says it ("labels must be in [0, 10)").</param>
    public static NarrowedLabels Of(string operation, string argument, ReadOnlySpan<long> labels, long min, long max, string rule)
    {
        if (labels.IsEmpty) return new NarrowedLabels(null, 0);
        if (max < min)
        {
            // no label is valid (classes < 1): narrow what fits, and the int32 overload reports the real mistake
            (min, max, rule) = (int.MinValue, int.MaxValue, "labels are 32-bit class indices");
        }
        if (TensorPrimitives.Min(labels) < min || TensorPrimitives.Max(labels) > max)
        {
            int bad = labels.IndexOfAnyExceptInRange(min, max);
            throw new ArgumentOutOfRangeException(argument, labels[bad], $"{operation}: {argument}[{bad}] is {labels[bad]}; {rule}.");
        }
        var rented = System.Buffers.ArrayPool<int>.Shared.Rent(labels.Length);
        TensorPrimitives.ConvertTruncating(labels, rented.AsSpan(0, labels.Length));
        return new NarrowedLabels(rented, labels.Length);
    }

    /// <summary>Binary targets (0 or 1) given as int64.</summary>
    public static NarrowedLabels Targets(string operation, string argument, ReadOnlySpan<long> targets) =>
        Of(operation, argument, targets, 0, 1, "targets must be 0 or 1");

    public void Dispose()
    {
        if (_rented is not null) System.Buffers.ArrayPool<int>.Shared.Return(_rented);
    }
}

/// <summary>A scope that puts a setting back when disposed (the thread-local limits tests lower).</summary>
internal sealed class Restore(Action restore) : IDisposable
{
    public void Dispose() => restore();
}
