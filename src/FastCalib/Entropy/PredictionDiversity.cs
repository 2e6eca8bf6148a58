namespace FastCalib;

/// <summary>
/// Prediction-diversity monitor (the collapse monitor of a training run): a histogram of predicted classes and the
/// mean entropy of the predictions, filled batch by batch and mergeable like <see cref="CalibrationAccumulator"/>.
/// </summary>
public sealed unsafe class PredictionDiversity
{
    private const int Block = 1024;
    private readonly long[] _histogram;
    private long _entropyRows;
    private double _entropySum;

    /// <summary>An empty monitor for <paramref name="classes"/> classes.</summary>
    public PredictionDiversity(int classes)
    {
        if (classes < 1)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"PredictionDiversity: classes must be at least 1, got {classes}.");
        _histogram = new long[classes];
    }

    /// <summary>Number of classes.</summary>
    public int Classes => _histogram.Length;

    /// <summary>Predictions counted so far.</summary>
    public long Count { get; private set; }

    /// <summary>Adds predicted class indices (each in [0, classes)).</summary>
    public void AddPredictions(ReadOnlySpan<int> predicted)
    {
        const string op = "PredictionDiversity.AddPredictions";
        int bad = predicted.IndexOfAnyExceptInRange(0, Classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(predicted), predicted[bad], $"{op}: predicted[{bad}] is {predicted[bad]}; classes are in [0, {Classes}).");
        foreach (int k in predicted) _histogram[k]++;
        Count += predicted.Length;
    }

    /// <summary>
    /// Adds probability rows [rows, classes]: each row's first argmax goes into the histogram and its entropy (nats)
    /// into the mean. Rows are validated as in <see cref="Entropy.FromProbabilities(ReadOnlySpan{float}, Span{float}, int, EntropyUnit, ComputeOptions)"/>; on an invalid row nothing is added.
    /// </summary>
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ComputeOptions options = default)
    {
        const string op = "PredictionDiversity.AddProbabilities";
        long rows = Check.Rows(op, nameof(probabilities), probabilities.Length, Classes);
        if (rows == 0) return;
        int cols = Classes;
        float tolerance = Entropy.Tolerance(cols);
        if (options.Backend == Backend.Gpu)
        {
            // the per-row kernel on the device; its results (8 bytes a row) are counted here
            var predicted = new int[rows];
            var h = new float[rows];
            EntropyKernels.SummarizeKernel.Host(options, op, rows, cols, probabilities, tolerance, predicted, h);
            Entropy.ThrowOnInvalidRow(op, h);
            double sum = 0;
            foreach (float v in h) sum += v;
            foreach (int k in predicted) _histogram[k]++;
            Count += rows;
            _entropyRows += rows;
            _entropySum += sum;
            return;
        }
        var (simd, width, threads) = options.ResolveCpu();
        var parts = new long[CpuRows.Chunks(rows, cols)][];
        var entropy = new double[parts.Length];
        var invalid = new long[parts.Length];
        fixed (float* p = probabilities)
        {
            float* pp = p;
            CpuRows.ForEachChunk(rows, cols, threads, (c, range) =>
            {
                var histogram = parts[c] = new long[cols];
                int* predicted = stackalloc int[Block];
                float* h = stackalloc float[Block];
                invalid[c] = -1;
                double sum = 0;
                for (long start = range.Start; start < range.End; start += Block)
                {
                    long end = Math.Min(range.End, start + Block);
                    var block = new RowRange(start, end);
                    if (simd) EntropyKernels.SummarizeKernel.Simd(block, width, cols, pp, tolerance, predicted - start, h - start);
                    else EntropyKernels.SummarizeKernel.Scalar(block, cols, pp, tolerance, predicted - start, h - start);
                    for (int i = 0; i < end - start; i++)
                    {
                        if (float.IsNaN(h[i]))
                        {
                            invalid[c] = start + i;
                            return;
                        }
                        histogram[predicted[i]]++;
                        sum += h[i];
                    }
                }
                entropy[c] = sum;
            });
        }
        foreach (long row in invalid)
            if (row >= 0)
                throw new ArgumentException($"{op}: row {row} is not a probability distribution (a negative or NaN entry, or a sum off 1 by more than the tolerance).", nameof(probabilities));
        for (int c = 0; c < parts.Length; c++)
        {
            for (int k = 0; k < cols; k++) _histogram[k] += parts[c][k];
            _entropySum += entropy[c];
        }
        Count += rows;
        _entropyRows += rows;
    }

    /// <summary>Adds what another monitor with the same number of classes holds.</summary>
    public void Merge(PredictionDiversity other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Classes != Classes)
            throw new ArgumentException($"PredictionDiversity.Merge: the other monitor has {other.Classes} classes; this one has {Classes}.", nameof(other));
        for (int k = 0; k < Classes; k++) _histogram[k] += other._histogram[k];
        Count += other.Count;
        _entropyRows += other._entropyRows;
        _entropySum += other._entropySum;
    }

    /// <summary>The histogram and the diversity measures of everything added so far.</summary>
    public DiversityReport Report()
    {
        int distinct = 0, top = 0;
        double entropy = 0;
        for (int k = 0; k < Classes; k++)
        {
            long n = _histogram[k];
            if (n > 0) distinct++;
            if (n > _histogram[top]) top = k;
            if (n > 0) entropy -= (double)n / Count * Math.Log((double)n / Count);
        }
        return new DiversityReport(
            Count,
            _histogram.ToArray(),
            distinct,
            top,
            Count == 0 ? double.NaN : (double)_histogram[top] / Count,
            Count == 0 ? double.NaN : Classes == 1 ? 0 : entropy / Math.Log(Classes),
            _entropyRows == 0 ? double.NaN : _entropySum / _entropyRows);
    }
}

/// <summary>Diversity of a set of predictions.</summary>
/// <param name="Count">Predictions.</param>
/// <param name="Histogram">Predictions per class.</param>
/// <param name="DistinctClasses">Classes predicted at least once.</param>
/// <param name="TopClass">The most predicted class (the smallest index among equals).</param>
/// <param name="TopShare">Its share of the predictions (1 means collapse onto one class).</param>
/// <param name="NormalizedEntropy">Entropy of the prediction histogram divided by ln C: 1 for uniform predictions, 0 for collapse.</param>
/// <param name="MeanEntropy">Mean per-row entropy in nats of the probability rows added (NaN if only predictions were added).</param>
public sealed record DiversityReport(long Count, IReadOnlyList<long> Histogram, int DistinctClasses, int TopClass, double TopShare, double NormalizedEntropy, double MeanEntropy);
