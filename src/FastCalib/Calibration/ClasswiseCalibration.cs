namespace FastCalib;

/// <summary>
/// Classwise (marginal) calibration error over all C classes (Kull et al. 2019, "classwise-ECE"): for each class j,
/// every row contributes its probability p_j as a confidence and [label = j] as the outcome, binned as in
/// <see cref="CalibrationAccumulator"/>; the classwise errors average the per-class errors over classes.
/// Mergeable like the top-label accumulator; memory is C accumulators.
/// </summary>
public sealed class ClasswiseCalibration
{
    private readonly CalibrationAccumulator[] _classes;

    /// <summary>An empty accumulator for <paramref name="classes"/> classes.</summary>
    public ClasswiseCalibration(int classes, int bins = 15, BinningRule rule = BinningRule.TorchMetrics)
    {
        if (classes < 1)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"ClasswiseCalibration: classes must be at least 1, got {classes}.");
        _classes = Enumerable.Range(0, classes).Select(_ => new CalibrationAccumulator(bins, rule, [])).ToArray();
    }

    /// <summary>Number of classes.</summary>
    public int Classes => _classes.Length;

    /// <summary>Adds probability rows [rows, classes] with integer labels; every probability must be in [0, 1].</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels)
    {
        const string op = "ClasswiseCalibration.AddProbabilities";
        long rows = Check.Rows(op, nameof(probabilities), probabilities.Length, Classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        int bad = labels.IndexOfAnyExceptInRange(0, Classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {Classes}).");
        // all classes are checked before any is added, so a bad value leaves the accumulator unchanged
        var added = new CalibrationAccumulator[Classes];
        for (int j = 0; j < Classes; j++)
        {
            added[j] = new CalibrationAccumulator(_classes[j].Bins, _classes[j].Rule, []);
            added[j].AddColumn(probabilities, labels, Classes, j);
        }
        for (int j = 0; j < Classes; j++) _classes[j].Merge(added[j]);
    }

    /// <summary>Adds probability rows [rows, classes] with int64 labels (NumPy's and PyTorch's default); every probability must be in [0, 1].</summary>
    /// <inheritdoc cref="AddProbabilities(ReadOnlySpan{float}, ReadOnlySpan{int})"/>
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<long> labels)
    {
        using var y = NarrowedLabels.Of("ClasswiseCalibration.AddProbabilities", nameof(labels), labels, 0, Classes - 1, $"labels must be in [0, {Classes})");
        AddProbabilities(probabilities, y.Span);
    }

    /// <summary>Adds what another classwise accumulator with the same classes, bins and rule holds.</summary>
    public void Merge(ClasswiseCalibration other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Classes != Classes)
            throw new ArgumentException($"ClasswiseCalibration.Merge: the other accumulator has {other.Classes} classes; this one has {Classes}.", nameof(other));
        for (int j = 0; j < Classes; j++) _classes[j].Merge(other._classes[j]);
    }

    /// <summary>Per-class reports and their means (classwise ECE and RMS) and maximum (classwise MCE).</summary>
    public ClasswiseReport Report()
    {
        var perClass = _classes.Select(c => c.Report()).ToArray();
        return new ClasswiseReport(
            perClass.Average(r => r.Ece),
            perClass.Average(r => r.Rmsce),
            perClass.Max(r => r.Mce),
            perClass);
    }
}

/// <summary>Classwise calibration errors.</summary>
/// <param name="Ece">Mean over classes of the per-class ECE (classwise-ECE).</param>
/// <param name="Rmsce">Mean over classes of the per-class RMS calibration error.</param>
/// <param name="Mce">Largest per-class MCE.</param>
/// <param name="PerClass">Each class's report (its confidence is p_j, its outcome label = j).</param>
public sealed record ClasswiseReport(double Ece, double Rmsce, double Mce, IReadOnlyList<CalibrationReport> PerClass);
