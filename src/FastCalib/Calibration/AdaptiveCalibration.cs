namespace FastCalib;

/// <summary>
/// Equal-mass ("adaptive") binning (Nixon et al. 2019): confidences are sorted and cut into bins holding equal numbers
/// of predictions (N / bins each, the first N mod bins bins one more), so every bin is equally well estimated.
/// Unlike equal-width bins this needs all confidences at once, so it is a function over spans, not an accumulator.
/// </summary>
public static class AdaptiveCalibration
{
    /// <summary>
    /// The adaptive calibration errors of (confidence, correct) pairs: ECE, RMS and MCE over equal-mass bins, in the
    /// same norms as <see cref="CalibrationAccumulator"/>; each bin's edges are its smallest and largest confidence.
    /// Equal confidences are ordered as given, so ties at a cut may fall in neighbouring bins.
    /// </summary>
    public static CalibrationReport Compute(ReadOnlySpan<float> confidence, ReadOnlySpan<bool> correct, int bins = 15)
    {
        const string op = "AdaptiveCalibration.Compute";
        Check.SameLength(op, nameof(correct), correct.Length, nameof(confidence), confidence.Length);
        if (bins < 1)
            throw new ArgumentOutOfRangeException(nameof(bins), bins, $"{op}: bins must be at least 1, got {bins}.");
        int n = confidence.Length;
        var order = new int[n];
        var keys = new float[n];
        for (int i = 0; i < n; i++)
        {
            float c = confidence[i];
            if (!(c >= 0 && c <= 1))
                throw new ArgumentException($"{op}: confidence[{i}] is {c}; confidences must be in [0, 1].", nameof(confidence));
            order[i] = i;
            keys[i] = c;
        }
        // stable: equal confidences keep their input order (Array.Sort is not stable, so sort by (key, index))
        Array.Sort(order, (a, b) => keys[a] != keys[b] ? keys[a].CompareTo(keys[b]) : a.CompareTo(b));

        var table = new List<ReliabilityBin>();
        double l1 = 0, l2 = 0, correction = 0, max = double.NaN, totalConfidence = 0;
        long totalCorrect = 0;
        int start = 0;
        for (int b = 0; b < Math.Min(bins, Math.Max(n, 1)); b++)
        {
            int size = n / bins + (b < n % bins ? 1 : 0);
            if (size == 0) break;
            double sum = 0;
            long right = 0;
            for (int k = start; k < start + size; k++)
            {
                sum += keys[order[k]];
                right += correct[order[k]] ? 1 : 0;
            }
            double conf = sum / size, acc = (double)right / size, gap = Math.Abs(acc - conf);
            table.Add(new ReliabilityBin(keys[order[start]], keys[order[start + size - 1]], size, conf, acc));
            l1 += (double)size / n * gap;
            l2 += (double)size / n * gap * gap;
            if (size > 1) correction += (double)size / n * acc * (1 - acc) / (size - 1);
            max = double.IsNaN(max) ? gap : Math.Max(max, gap);
            totalConfidence += sum;
            totalCorrect += right;
            start += size;
        }
        bool empty = n == 0;
        return new CalibrationReport(n,
            empty ? double.NaN : (double)totalCorrect / n,
            empty ? double.NaN : totalConfidence / n,
            empty ? double.NaN : l1,
            empty ? double.NaN : Math.Sqrt(l2),
            max, double.NaN, double.NaN, table, [])
        {
            RmsceDebiased = empty ? double.NaN : Math.Sqrt(Math.Max(0, l2 - correction)),
        };
    }
}
