using System.Numerics.Tensors;

namespace FastCalib;

// The accumulator on the shapes and label types tensors and NumPy/PyTorch arrays come in: int64 labels, and tensor
// spans whose last dimension is the classes and whose other dimensions are rows ([batch, tokens, vocabulary] as it
// is), of any number of elements. Each call adds all of its rows or none: a tensor past a span's 2^31 − 1 values is
// added block by block into a fresh accumulator, merged in at the end (the sums are exact, so blocks change nothing).
public sealed partial class CalibrationAccumulator
{
    /// <summary>
    /// <see cref="AddProbabilities(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions, bool)"/> with int64
    /// labels (NumPy's and PyTorch's default), each in [0, <paramref name="classes"/>).
    /// </summary>
    /// <inheritdoc cref="AddProbabilities(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions, bool)"/>
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<long> labels, int classes, ComputeOptions options = default, bool unnormalized = false)
    {
        using var y = NarrowLabels("CalibrationAccumulator.AddProbabilities", labels, classes);
        AddProbabilities(probabilities, y.Span, classes, options, unnormalized);
    }

    /// <summary>
    /// <see cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/> with int64 labels,
    /// each in [0, <paramref name="classes"/>).
    /// </summary>
    /// <inheritdoc cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/>
    public void AddLogits(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        using var y = NarrowLabels("CalibrationAccumulator.AddLogits", labels, classes);
        AddLogits(logits, y.Span, classes, temperature, options);
    }

    /// <summary><see cref="AddBinary(ReadOnlySpan{float}, ReadOnlySpan{int})"/> with int64 targets (0 or 1).</summary>
    /// <inheritdoc cref="AddBinary(ReadOnlySpan{float}, ReadOnlySpan{int})"/>
    public void AddBinary(ReadOnlySpan<float> probability, ReadOnlySpan<long> target)
    {
        using var t = NarrowedLabels.Targets("CalibrationAccumulator.AddBinary", nameof(target), target);
        AddBinary(probability, t.Span);
    }

    /// <summary>
    /// <see cref="AddProbabilities(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions, bool)"/> on a tensor:
    /// its last dimension is the classes, the product of the others the rows (one label per row, in row-major order).
    /// </summary>
    /// <param name="probabilities">Dense tensor of rank at least 1, any number of elements.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="options">Backend and threads.</param>
    /// <param name="unnormalized">Accept rows that are not meant to sum to 1 (see the span overload).</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public void AddProbabilities(in ReadOnlyTensorSpan<float> probabilities, ReadOnlySpan<int> labels, ComputeOptions options = default, bool unnormalized = false)
    {
        const string op = "CalibrationAccumulator.AddProbabilities";
        int classes = TensorRows.Classes(op, nameof(probabilities), probabilities);
        AddTensor(op, probabilities, nameof(probabilities), labels, classes, (into, values, y) => into.AddProbabilities(values, y, classes, options, unnormalized));
    }

    /// <inheritdoc cref="AddProbabilities(in ReadOnlyTensorSpan{float}, ReadOnlySpan{int}, ComputeOptions, bool)"/>
    public void AddProbabilities(in ReadOnlyTensorSpan<float> probabilities, ReadOnlySpan<long> labels, ComputeOptions options = default, bool unnormalized = false)
    {
        const string op = "CalibrationAccumulator.AddProbabilities";
        int classes = TensorRows.Classes(op, nameof(probabilities), probabilities);
        using var y = NarrowLabels(op, labels, classes);
        AddProbabilities(probabilities, y.Span, options, unnormalized);
    }

    /// <summary>
    /// <see cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/> on a tensor: its
    /// last dimension is the classes, the product of the others the rows (one label per row, in row-major order).
    /// </summary>
    /// <param name="logits">Dense tensor of rank at least 1, any number of elements.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public void AddLogits(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "CalibrationAccumulator.AddLogits";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        Check.InverseTemperature(op, temperature);
        AddTensor(op, logits, nameof(logits), labels, classes, (into, values, y) => into.AddLogits(values, y, classes, temperature, options));
    }

    /// <inheritdoc cref="AddLogits(in ReadOnlyTensorSpan{float}, ReadOnlySpan{int}, float, ComputeOptions)"/>
    public void AddLogits(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "CalibrationAccumulator.AddLogits";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        using var y = NarrowLabels(op, labels, classes);
        AddLogits(logits, y.Span, temperature, options);
    }

    private delegate void AddBlock(CalibrationAccumulator into, ReadOnlySpan<float> values, ReadOnlySpan<int> labels);

    /// <summary>Adds a tensor's rows: in one call if they fit a span, otherwise block by block into a fresh accumulator merged in at the end.</summary>
    private void AddTensor(string op, in ReadOnlyTensorSpan<float> values, string argument, ReadOnlySpan<int> labels, int classes, AddBlock add)
    {
        long rows = TensorRows.Rows(op, argument, values, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        if (TensorRows.OneBlock(values.FlattenedLength))
        {
            TensorRows.ForEachBlock(values, classes, labels, (v, y) => add(this, v, y));
            return;
        }
        // labels first, over the whole tensor, so that an error names the label's own index
        int bad = labels.IndexOfAnyExceptInRange(0, classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {classes}).");
        var all = EmptyLike();
        long firstRow = 0;
        try
        {
            TensorRows.ForEachBlock(values, classes, labels, (v, y) =>
            {
                add(all, v, y);
                firstRow += y.Length;
            });
        }
        catch (ArgumentException e)
        {
            throw TensorRows.InTensor(e, firstRow);
        }
        _totals.Add(all._totals);
        NextRow = all.NextRow;
    }

    private static NarrowedLabels NarrowLabels(string op, ReadOnlySpan<long> labels, int classes) =>
        NarrowedLabels.Of(op, nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
}
