namespace FastCalib;

/// <summary>One epoch's reading of a <see cref="CalibrationMonitor"/>.</summary>
/// <param name="Epoch">1 for the first reading, then 2, 3, ...</param>
/// <param name="Count">Validation predictions read.</param>
/// <param name="Accuracy">Share of top-1 predictions that are correct.</param>
/// <param name="MeanConfidence">Mean top-1 confidence.</param>
/// <param name="Ece">Expected calibration error (equal-width bins, torchmetrics' assignment).</param>
/// <param name="NegativeLogLikelihood">Mean NLL of the labels (+∞ if a label had probability 0).</param>
/// <param name="Overconfident">Whether the mean confidence exceeds the accuracy by more than the monitor's tolerance.</param>
/// <param name="Level">
/// How overconfident: 0 when not <paramref name="Overconfident"/>, else the number of the monitor's confidence levels
/// (e.g. 0.8 and 0.9) the mean confidence has reached (0 if it reached none).
/// </param>
public sealed record MonitorReading(int Epoch, long Count, double Accuracy, double MeanConfidence, double Ece, double NegativeLogLikelihood,
    bool Overconfident, int Level)
{
    /// <summary>Mean confidence minus accuracy (positive: overconfident).</summary>
    public double Gap => MeanConfidence - Accuracy;

    /// <summary>One line for a training log: the numbers, and a warning when overconfident.</summary>
    public override string ToString() =>
        FormattableString.Invariant($"epoch {Epoch}: accuracy {Accuracy:F4}, mean confidence {MeanConfidence:F4}, ECE {Ece:F4}, NLL {NegativeLogLikelihood:F4}")
        + (Overconfident ? FormattableString.Invariant($"; overconfident by {Gap:F4}{(Level > 0 ? $" (level {Level})" : "")}") : "");
}

/// <summary>
/// A calibration check for training loops, in the manner of a Keras callback: fed each epoch's validation logits (or
/// probabilities) and labels, it returns the mean confidence, accuracy, ECE and NLL, and flags overconfidence: the mean
/// confidence above the accuracy by more than a tolerance, graded by how many confidence levels (such as 0.8 and 0.9)
/// the mean confidence has reached. Each reading is one streaming pass of the library's calibration kernels (SIMD or
/// GPU through <see cref="ComputeOptions"/>); the monitor keeps the readings, not the data.
/// </summary>
public sealed class CalibrationMonitor
{
    private readonly List<MonitorReading> _history = [];
    private readonly float[] _levels;

    /// <param name="bins">Equal-width bins of the ECE (default 15).</param>
    /// <param name="tolerance">How far the mean confidence may exceed the accuracy before it counts as overconfident (default 0.05), in [0, 1].</param>
    /// <param name="levels">Confidence levels that grade overconfidence, each in (0, 1] (default 0.8 and 0.9).</param>
    public CalibrationMonitor(int bins = 15, double tolerance = 0.05, IEnumerable<float>? levels = null)
    {
        const string op = "CalibrationMonitor";
        if (bins < 1 || bins > CalibrationAccumulator.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), bins, $"{op}: bins must be from 1 to {CalibrationAccumulator.MaxBins}, got {bins}.");
        if (!(tolerance >= 0 && tolerance <= 1))
            throw new ArgumentOutOfRangeException(nameof(tolerance), tolerance, $"{op}: tolerance must be in [0, 1], got {tolerance}.");
        _levels = (levels ?? [0.8f, 0.9f]).Order().ToArray();
        foreach (float level in _levels)
            if (!(level > 0 && level <= 1))
                throw new ArgumentOutOfRangeException(nameof(levels), level, $"{op}: confidence levels must be in (0, 1], got {level}.");
        Bins = bins;
        Tolerance = tolerance;
    }

    /// <summary>Bins of the ECE.</summary>
    public int Bins { get; }

    /// <summary>How far the mean confidence may exceed the accuracy before it counts as overconfident.</summary>
    public double Tolerance { get; }

    /// <summary>The confidence levels that grade overconfidence, increasing.</summary>
    public IReadOnlyList<float> Levels => _levels;

    /// <summary>Every reading so far, first epoch first.</summary>
    public IReadOnlyList<MonitorReading> History => _history;

    /// <summary>Reads one epoch's validation logits [rows, classes] at <paramref name="temperature"/> (see <see cref="CalibrationAccumulator.AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/>).</summary>
    public MonitorReading Observe(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, float temperature = 1f, ComputeOptions options = default)
    {
        var accumulator = new CalibrationAccumulator(Bins);
        accumulator.AddLogits(logits, labels, classes, temperature, options);
        return Record(accumulator.Report());
    }

    /// <summary>Reads one epoch's validation probabilities [rows, classes] (rows validated as <see cref="CalibrationAccumulator"/> validates them).</summary>
    public MonitorReading ObserveProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default)
    {
        var accumulator = new CalibrationAccumulator(Bins);
        accumulator.AddProbabilities(probabilities, labels, classes, options);
        return Record(accumulator.Report());
    }

    private MonitorReading Record(CalibrationReport r)
    {
        if (r.Count == 0) throw new ArgumentException("CalibrationMonitor: no validation rows; a reading needs at least one.", "labels");
        bool overconfident = r.MeanConfidence - r.Accuracy > Tolerance;
        int level = overconfident ? _levels.Count(l => r.MeanConfidence >= l) : 0;
        var reading = new MonitorReading(_history.Count + 1, r.Count, r.Accuracy, r.MeanConfidence, r.Ece, r.NegativeLogLikelihood, overconfident, level);
        _history.Add(reading);
        return reading;
    }
}
