using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>A generated (confidence, correct) sample with a bin count and rule; some confidences sit exactly on edges, 0 or 1.</summary>
public sealed record ConfidenceCase(int Rows, int Bins, BinningRule Rule, int Seed)
{
    public (float[] Confidence, bool[] Correct) Data()
    {
        var random = new Random(Seed);
        var confidence = new float[Rows];
        var correct = new bool[Rows];
        for (int i = 0; i < Rows; i++)
        {
            confidence[i] = random.Next(6) switch
            {
                0 => CalibrationReference.Edge(random.Next(Bins + 1), Bins),   // exactly on an edge (0 and 1 included)
                1 => random.Next(2),
                _ => (float)random.NextDouble(),
            };
            correct[i] = random.NextDouble() < confidence[i] * 0.9;
        }
        return (confidence, correct);
    }

    public override string ToString() => $"{Rows} rows, {Bins} bins, {Rule}, seed {Seed}";
}

public static class CalibrationArbitraries
{
    public static Arbitrary<ConfidenceCase> Cases() => Arb.From(
        from rows in Gen.Choose(1, 3000)
        from bins in Gen.Elements(1, 2, 3, 4, 7, 10, 15, 20, 25)
        from rule in Gen.Elements(BinningRule.TorchMetrics, BinningRule.ClosedLastBin, BinningRule.RightClosed, BinningRule.GuoReference)
        from seed in Gen.Choose(0, int.MaxValue)
        select new ConfidenceCase(rows, bins, rule, seed));
}

[Properties(Arbitrary = new[] { typeof(CalibrationArbitraries) }, MaxTest = 60)]
public class CalibrationPropertyTests
{
    [Property]
    public void Matches_the_float64_reference(ConfidenceCase c)
    {
        var (confidence, correct) = c.Data();
        var accumulator = new CalibrationAccumulator(c.Bins, c.Rule);
        accumulator.AddConfidences(confidence, correct);
        var report = accumulator.Report();
        var expected = CalibrationReference.Compute(confidence, correct, c.Bins, c.Rule);
        Assert.Equal(expected.Counts, report.Bins.Select(b => b.Count).ToArray());
        for (int b = 0; b < expected.Counts.Length; b++)
        {
            Assert.Equal(expected.Confidence[b], report.Bins[b].MeanConfidence, 1e-12);
            Assert.Equal(expected.Accuracy[b], report.Bins[b].Accuracy, 1e-12);
        }
        Assert.Equal(expected.Ece, report.Ece, 1e-12);
        Assert.Equal(expected.Rmsce, report.Rmsce, 1e-12);
        Assert.Equal(expected.Mce, report.Mce, 1e-12);
        Assert.Equal(expected.AccuracyAll, report.Accuracy, 1e-12);
        Assert.Equal(expected.MeanConfidence, report.MeanConfidence, 1e-12);
    }

    [Property]
    public void Norms_are_ordered_and_bounded(ConfidenceCase c)
    {
        var (confidence, correct) = c.Data();
        var accumulator = new CalibrationAccumulator(c.Bins, c.Rule);
        accumulator.AddConfidences(confidence, correct);
        var r = accumulator.Report();
        Assert.InRange(r.Ece, 0, 1);
        Assert.True(r.Ece <= r.Rmsce + 1e-15 && r.Rmsce <= r.Mce + 1e-15 && r.Mce <= 1, $"{r.Ece} {r.Rmsce} {r.Mce}");
    }

    /// <summary>Order does not matter, and any split into batches merged in any order gives the same report, bit for bit.</summary>
    [Property]
    public void Permutations_and_partitions_give_the_same_report(ConfidenceCase c)
    {
        var (confidence, correct) = c.Data();
        var whole = new CalibrationAccumulator(c.Bins, c.Rule);
        whole.AddConfidences(confidence, correct);

        var random = new Random(c.Seed ^ 0x1234);
        var order = Enumerable.Range(0, c.Rows).OrderBy(_ => random.Next()).ToArray();
        var shuffled = new CalibrationAccumulator(c.Bins, c.Rule);
        shuffled.AddConfidences(order.Select(i => confidence[i]).ToArray(), order.Select(i => correct[i]).ToArray());

        var parts = new List<CalibrationAccumulator>();
        for (int start = 0; start < c.Rows;)
        {
            int length = Math.Min(c.Rows - start, random.Next(1, 400));
            var part = new CalibrationAccumulator(c.Bins, c.Rule);
            part.AddConfidences(confidence.AsSpan(start, length), correct.AsSpan(start, length));
            parts.Add(part);
            start += length;
        }
        var merged = new CalibrationAccumulator(c.Bins, c.Rule);
        foreach (var part in parts.OrderBy(_ => random.Next())) merged.Merge(part);

        AssertSame(whole.Report(), shuffled.Report());
        AssertSame(whole.Report(), merged.Report());
    }

    internal static void AssertSame(CalibrationReport a, CalibrationReport b)
    {
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.Ece, b.Ece);
        Assert.Equal(a.Rmsce, b.Rmsce);
        Assert.Equal(a.Mce, b.Mce);
        Assert.Equal(a.Accuracy, b.Accuracy);
        Assert.Equal(a.MeanConfidence, b.MeanConfidence);
        Assert.Equal(a.Bins, b.Bins);
        Assert.Equal(a.Thresholds, b.Thresholds);
    }

    /// <summary><see cref="AssertSame"/> and the NLL and Brier score too, bit for bit (exact sums of the same terms).</summary>
    internal static void AssertIdentical(CalibrationReport a, CalibrationReport b)
    {
        AssertSame(a, b);
        Assert.Equal(BitConverter.DoubleToInt64Bits(a.NegativeLogLikelihood), BitConverter.DoubleToInt64Bits(b.NegativeLogLikelihood));
        Assert.Equal(BitConverter.DoubleToInt64Bits(a.Brier), BitConverter.DoubleToInt64Bits(b.Brier));
    }
}

public class CalibrationTests
{
    /// <summary>
    /// torchmetrics' BinaryCalibrationError docstring example, checked by hand: preds 0.25, 0.25, 0.55, 0.75, 0.75 with
    /// targets 0, 0, 1, 1, 1 in 2 bins. Bin [0, 0.5) holds the two 0.25s (accuracy 0, gap 0.25, weight 2/5); bin [0.5, 1)
    /// holds 0.55, 0.75, 0.75 (accuracy 1, mean 0.68333, gap 0.31667, weight 3/5). l1 = 0.4 * 0.25 + 0.6 * 0.31667 = 0.29;
    /// l2 = sqrt(0.4 * 0.0625 + 0.6 * 0.100278) = 0.29183; max = 0.31667.
    /// </summary>
    [Fact]
    public void Torchmetrics_binary_docstring_example()
    {
        var accumulator = new CalibrationAccumulator(bins: 2);
        accumulator.AddBinary([0.25f, 0.25f, 0.55f, 0.75f, 0.75f], [0, 0, 1, 1, 1]);
        var r = accumulator.Report();
        Assert.Equal(0.2900, r.Ece, 4);
        Assert.Equal(0.2918, r.Rmsce, 4);
        Assert.Equal(0.3167, r.Mce, 4);
        // NLL by hand: -(2 ln 0.75 + ln 0.55 + 2 ln 0.75) / 5; Brier: (2 * 0.0625 + 0.2025 + 2 * 0.0625) / 5
        Assert.Equal(-(4 * Math.Log(0.75) + Math.Log(0.55)) / 5, r.NegativeLogLikelihood, 6);
        Assert.Equal((4 * 0.0625 + 0.2025) / 5, r.Brier, 6);
    }

    /// <summary>
    /// A three-class case by hand, 4 bins: rows (0.7, 0.2, 0.1) label 0, (0.3, 0.6, 0.1) label 0, (0.25, 0.25, 0.5)
    /// label 2, (0.1, 0.1, 0.8) label 2. Confidences 0.7, 0.6, 0.5, 0.8 with correctness 1, 0, 1, 1: bin [0.5, 0.75)
    /// holds 0.7, 0.6, 0.5 (mean 0.6, accuracy 2/3, gap 0.0667, weight 3/4); bin [0.75, 1) holds 0.8 (accuracy 1, gap 0.2,
    /// weight 1/4). ECE = 0.75 * 0.06667 + 0.25 * 0.2 = 0.1; MCE = 0.2; accuracy 0.75; mean confidence 0.65.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Three_class_example_by_hand(KernelPath path)
    {
        float[] p = [0.7f, 0.2f, 0.1f, 0.3f, 0.6f, 0.1f, 0.25f, 0.25f, 0.5f, 0.1f, 0.1f, 0.8f];
        var accumulator = new CalibrationAccumulator(bins: 4);
        accumulator.AddProbabilities(p, [0, 0, 2, 2], 3, path.Options);
        var r = accumulator.Report();
        Assert.Equal(0.1, r.Ece, 6);
        Assert.Equal(0.2, r.Mce, 6);
        Assert.Equal(0.75, r.Accuracy, 12);
        Assert.Equal(0.65, r.MeanConfidence, 6);
        Assert.Equal(new long[] { 0, 0, 3, 1, 0 }, r.Bins.Select(b => b.Count).ToArray());
    }

    /// <summary>Edges, 0 and 1 under each rule, with 4 bins (edges 0, 0.25, 0.5, 0.75, 1 are exact in float32).</summary>
    [Theory]
    [InlineData(BinningRule.TorchMetrics, new[] { 0, 1, 2, 3, 4 })]
    [InlineData(BinningRule.ClosedLastBin, new[] { 0, 1, 2, 3, 3 })]
    [InlineData(BinningRule.RightClosed, new[] { 0, 0, 1, 2, 3 })]
    [InlineData(BinningRule.GuoReference, new[] { -1, 0, 1, 2, 3 })]
    public void Edges_zero_and_one(BinningRule rule, int[] expectedBins)
    {
        float[] values = [0f, 0.25f, 0.5f, 0.75f, 1f];
        for (int i = 0; i < values.Length; i++)
        {
            var accumulator = new CalibrationAccumulator(4, rule);
            accumulator.AddConfidences([values[i]], [true]);
            var counts = accumulator.Report().Bins.Select(b => b.Count).ToArray();
            int bin = Array.IndexOf(counts, 1L);
            Assert.Equal(expectedBins[i], bin);
            Assert.Equal(1, accumulator.Count);   // counted in N even where it is in no bin
            // just inside each edge, every rule agrees with the left-closed bin
            if (values[i] > 0)
            {
                var below = new CalibrationAccumulator(4, rule);
                below.AddConfidences([MathF.BitDecrement(values[i])], [true]);
                Assert.Equal(Math.Min(3, (int)(values[i] * 4) - 1), Array.IndexOf(below.Report().Bins.Select(b => b.Count).ToArray(), 1L));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Probabilities_on_every_path_match_the_reference(KernelPath path)
    {
        foreach (var (rows, cols) in new[] { (1, 1), (37, 10), (500, 3), (70, 33), (9, 1000) })
        {
            var (p, labels) = ProbabilityData(rows, cols, rows * 31 + cols);
            var accumulator = new CalibrationAccumulator(15);
            accumulator.AddProbabilities(p, labels, cols, path.Options);
            var r = accumulator.Report();
            var (confidence, correct, nll, brier) = CalibrationReference.FromProbabilities(p, labels, cols);
            var expected = CalibrationReference.Compute(confidence, correct, 15, BinningRule.TorchMetrics);
            Assert.Equal(expected.Counts, r.Bins.Select(b => b.Count).ToArray());
            Assert.Equal(expected.Ece, r.Ece, 1e-12);
            Assert.Equal(expected.Mce, r.Mce, 1e-12);
            Assert.Equal(expected.AccuracyAll, r.Accuracy, 1e-12);
            Assert.Equal(nll, r.NegativeLogLikelihood, 1e-6 * Math.Max(1, nll));
            Assert.Equal(brier, r.Brier, 1e-5);
        }
    }

    /// <summary>
    /// Fused from logits on every path against the float64 softmax reference. Confidences computed in float32 can
    /// cross a bin edge the float64 ones do not; each such row may move the ECE by at most 2/N, which the bound allows.
    /// </summary>
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Logits_on_every_path_match_the_reference(KernelPath path)
    {
        foreach (var (rows, cols, t) in new[] { (1, 1, 1f), (300, 10, 1.5f), (64, 33, 0.3f), (9, 1000, 4f) })
        {
            var c = new SoftmaxCase(rows, cols, 4, t, rows + cols, false);
            var z = c.Logits();
            var labels = Enumerable.Range(0, rows).Select(i => (i * 7919) % cols).ToArray();
            var accumulator = new CalibrationAccumulator(10);
            accumulator.AddLogits(z, labels, cols, t, path.Options);
            var r = accumulator.Report();
            var (confidence, correct, nll, brier) = CalibrationReference.FromLogits(z, labels, cols, t);
            var expected = CalibrationReference.Compute(confidence.Select(v => (float)v).ToArray(), correct, 10, BinningRule.TorchMetrics);
            int nearEdges = confidence.Count(v => Enumerable.Range(0, 11).Any(k => Math.Abs(v - k / 10.0) < 1e-5));
            Assert.True(Math.Abs(expected.Ece - r.Ece) <= 2.0 * nearEdges / rows + 1e-5, $"{path} [{rows}x{cols}]: ECE {r.Ece} vs {expected.Ece}");
            Assert.Equal(expected.AccuracyAll, r.Accuracy, 1e-12);
            Assert.Equal(confidence.Average(), r.MeanConfidence, 1e-5);
            Assert.Equal(nll, r.NegativeLogLikelihood, 1e-5 * Math.Max(1, nll));
            Assert.Equal(brier, r.Brier, 1e-5);
        }
    }

    /// <summary>Feeding 1,000,000 rows in uneven batches gives the one-shot report bit for bit, whatever the thread count.</summary>
    [Fact]
    public void Batch_split_and_thread_count_do_not_change_the_result()
    {
        var (p, labels) = ProbabilityData(1_000_000, 10, 99);
        var oneShot = new CalibrationAccumulator(15);
        oneShot.AddProbabilities(p, labels, 10);
        var batched = new CalibrationAccumulator(15);
        var random = new Random(5);
        for (int start = 0; start < labels.Length;)
        {
            int n = Math.Min(labels.Length - start, random.Next(1, 150_000));
            batched.AddProbabilities(p.AsSpan(start * 10, n * 10), labels.AsSpan(start, n), 10, new ComputeOptions { MaxThreads = 1 + start % 2 });
            start += n;
        }
        var a = oneShot.Report();
        var b = batched.Report();
        Assert.Equal(a.Bins, b.Bins);
        Assert.Equal(a.Ece, b.Ece);
        Assert.Equal(a.Mce, b.Mce);
        Assert.Equal(a.Accuracy, b.Accuracy);
        Assert.Equal(a.MeanConfidence, b.MeanConfidence);
        Assert.Equal(a.NegativeLogLikelihood, b.NegativeLogLikelihood, 1e-12);   // float64 sums: rounding only
        Assert.Equal(a.Brier, b.Brier, 1e-12);
    }

    /// <summary>For a perfectly calibrated source (correct with probability equal to the confidence) ECE shrinks with N.</summary>
    [Fact]
    public void Calibrated_source_has_shrinking_ece()
    {
        double Ece(int n, int seed)
        {
            var random = new Random(seed);
            var confidence = new float[n];
            var correct = new bool[n];
            for (int i = 0; i < n; i++)
            {
                confidence[i] = (float)random.NextDouble();
                correct[i] = random.NextDouble() < confidence[i];
            }
            var accumulator = new CalibrationAccumulator(15);
            accumulator.AddConfidences(confidence, correct);
            return accumulator.Report().Ece;
        }
        // expected ECE is about sqrt(2 bins / (pi N)) / 2: 0.05 at 1e3, 0.005 at 1e5
        double small = Ece(1_000, 1), large = Ece(100_000, 2);
        Assert.True(large < small / 3, $"ECE {small} at 1e3 vs {large} at 1e5");
        Assert.True(large < 0.01, $"ECE {large} at 1e5");
    }

    [Fact]
    public void Overconfidence_profile_counts_predictions_at_or_above_each_threshold()
    {
        var accumulator = new CalibrationAccumulator(10, thresholds: [0.5f, 0.9f]);
        accumulator.AddConfidences([0.95f, 0.9f, 0.6f, 0.5f, 0.4f], [true, false, true, false, true]);
        var r = accumulator.Report();
        Assert.Equal(new ConfidenceThreshold(0.5f, 4, 0.8, 0.5), r.Thresholds[0]);
        Assert.Equal(new ConfidenceThreshold(0.9f, 2, 0.4, 0.5), r.Thresholds[1]);
    }

    [Fact]
    public void Empty_accumulator_reports_nan()
    {
        var accumulator = new CalibrationAccumulator();
        accumulator.AddProbabilities([], [], 5);
        var r = accumulator.Report();
        Assert.Equal(0, r.Count);
        Assert.True(double.IsNaN(r.Ece) && double.IsNaN(r.Accuracy) && double.IsNaN(r.NegativeLogLikelihood));
        Assert.Equal(16, r.Bins.Count);   // 15 + torchmetrics' bin for 1.0
    }

    [Fact]
    public void Bad_input_is_rejected_and_leaves_the_accumulator_unchanged()
    {
        var accumulator = new CalibrationAccumulator(10);
        accumulator.AddProbabilities([0.5f, 0.5f], [1], 2);
        var before = accumulator.Report();
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => accumulator.AddProbabilities([0.5f, 0.5f], [2], 2)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => accumulator.AddProbabilities([0.5f, 0.5f], [-1], 2)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities([0.5f, 0.5f], [0, 1], 2)).ParamName);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities([0.5f, 0.5f, 0.5f], [0], 2)).ParamName);
        var e = Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities([0.2f, 0.8f, 0.5f, float.NaN], [0, 0], 2));
        Assert.Contains("row 1", e.Message);
        Assert.Contains("row 0", Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities([1.5f, 0.1f], [0], 2)).Message);
        Assert.Contains("row 0", Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities([0.9f, -0.1f], [1], 2)).Message);
        Assert.Contains("row 0", Assert.Throws<ArgumentException>(() => accumulator.AddLogits([float.NaN, 1f], [1], 2)).Message);
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => accumulator.AddLogits([0f, 1f], [1], 2, 0f)).ParamName);
        Assert.Equal("confidence", Assert.Throws<ArgumentException>(() => accumulator.AddConfidences([1.01f], [true])).ParamName);
        Assert.Equal("confidence", Assert.Throws<ArgumentException>(() => accumulator.AddConfidences([float.NaN], [true])).ParamName);
        Assert.Equal("correct", Assert.Throws<ArgumentException>(() => accumulator.AddConfidences([0.5f], [true, false])).ParamName);
        Assert.Equal("target", Assert.Throws<ArgumentException>(() => accumulator.AddBinary([0.5f], [2])).ParamName);
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => accumulator.AddProbabilities([0.5f], [0], 0)).ParamName);
        Assert.Equal("other", Assert.Throws<ArgumentException>(() => accumulator.Merge(new CalibrationAccumulator(11))).ParamName);
        CalibrationPropertyTests.AssertSame(before, accumulator.Report());

        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationAccumulator(0)).ParamName);
        Assert.Equal("thresholds", Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationAccumulator(10, thresholds: [1.5f])).ParamName);
    }

    internal static (float[] P, int[] Labels) ProbabilityData(int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var p = new float[rows * cols];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            var row = new double[cols];
            for (int j = 0; j < cols; j++) sum += row[j] = Math.Exp(3 * random.NextDouble());
            for (int j = 0; j < cols; j++) p[r * cols + j] = (float)(row[j] / sum);
            labels[r] = random.NextDouble() < 0.6 ? Reference.ArgMax(p.AsSpan(r * cols, cols)) : random.Next(cols);
        }
        return (p, labels);
    }
}
