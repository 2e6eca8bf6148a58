using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>The training-loop monitor: its numbers against a float64 softmax of the same logits, and its overconfidence grading.</summary>
public class CalibrationMonitorTests
{
    private const int Rows = 4000, Classes = 5;

    /// <summary>Logits whose argmax is right about 60% of the time, scaled by <paramref name="scale"/> (large: overconfident).</summary>
    private static (float[] Logits, int[] Labels) Data(float scale, int seed = 4)
    {
        var random = new Random(seed);
        var labels = Enumerable.Range(0, Rows).Select(_ => random.Next(Classes)).ToArray();
        var logits = new float[Rows * Classes];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Classes; c++)
                logits[r * Classes + c] = scale * (float)((c == labels[r] ? 1.0 : 0.0) + TestData.Normal(random));
        return (logits, labels);
    }

    [Fact]
    public void A_reading_holds_the_accuracy_confidence_and_nll_of_the_float64_softmax()
    {
        var (z, y) = Data(1.5f);
        var monitor = new CalibrationMonitor();
        var reading = monitor.Observe(z, y, Classes, temperature: 1.2f);
        double correct = 0, confidence = 0, nll = 0;
        for (int r = 0; r < Rows; r++)
        {
            var p = Reference.Softmax(z.AsSpan(r * Classes, Classes), 1.2f);
            int top = Array.IndexOf(p, p.Max());
            correct += top == y[r] ? 1 : 0;
            confidence += p[top];
            nll -= Math.Log(p[y[r]]);
        }
        Assert.Equal(1, reading.Epoch);
        Assert.Equal(Rows, reading.Count);
        Assert.Equal(correct / Rows, reading.Accuracy, 12);
        Assert.Equal(confidence / Rows, reading.MeanConfidence, 5);
        Assert.Equal(nll / Rows, reading.NegativeLogLikelihood, 5);
        var accumulator = new CalibrationAccumulator(15);
        accumulator.AddLogits(z, y, Classes, 1.2f);
        Assert.Equal(accumulator.Report().Ece, reading.Ece);
    }

    [Fact]
    public void Overconfidence_is_flagged_past_the_tolerance_and_graded_by_the_levels_reached()
    {
        var (z, y) = Data(6f);   // sharp logits, about 60% right: mean confidence far above accuracy
        var monitor = new CalibrationMonitor(levels: [0.8f, 0.9f]);
        var sharp = monitor.Observe(z, y, Classes);
        Assert.True(sharp.Gap > 0.05, $"gap {sharp.Gap}");
        Assert.True(sharp.Overconfident);
        Assert.Equal((sharp.MeanConfidence >= 0.8 ? 1 : 0) + (sharp.MeanConfidence >= 0.9 ? 1 : 0), sharp.Level);
        Assert.Contains("overconfident by", sharp.ToString());
        var soft = monitor.Observe(z, y, Classes, temperature: 30f);   // near uniform: underconfident
        Assert.False(soft.Overconfident);
        Assert.Equal(0, soft.Level);
        Assert.DoesNotContain("overconfident", soft.ToString());
        Assert.Equal([1, 2], monitor.History.Select(h => h.Epoch));
        // a tolerance of 1 never flags
        Assert.False(new CalibrationMonitor(tolerance: 1).Observe(z, y, Classes).Overconfident);
        // probabilities give the same reading as their logits
        var p = new float[z.Length];
        FastCalib.Softmax.Forward(z, p, Classes);
        var fromProbabilities = new CalibrationMonitor().ObserveProbabilities(p, y, Classes);
        Assert.Equal(sharp.Accuracy, fromProbabilities.Accuracy);
        Assert.Equal(sharp.MeanConfidence, fromProbabilities.MeanConfidence, 5);
    }

    [Fact]
    public void Bad_settings_and_empty_epochs_are_refused_by_name()
    {
        Assert.Equal("tolerance", Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationMonitor(tolerance: -0.1)).ParamName);
        Assert.Equal("levels", Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationMonitor(levels: [0.5f, 1.5f])).ParamName);
        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationMonitor(bins: 0)).ParamName);
        Assert.Throws<ArgumentException>(() => new CalibrationMonitor().Observe([], [], Classes));
    }
}
