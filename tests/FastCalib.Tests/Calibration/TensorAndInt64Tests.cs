using System.Numerics.Tensors;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>A batch of probability rows viewed as a rank-3 tensor [batch, tokens, classes], with a block limit.</summary>
public sealed record TensorCase(int Batch, int Tokens, int Classes, int BlockValues, int Seed)
{
    public int Rows => Batch * Tokens;

    public override string ToString() => $"[{Batch}, {Tokens}, {Classes}], blocks of {BlockValues} values, seed {Seed}";
}

public static class TensorArbitraries
{
    public static Arbitrary<TensorCase> Cases() => Arb.From(
        from batch in Gen.Choose(1, 9)
        from tokens in Gen.Choose(1, 70)
        from classes in Gen.Elements(1, 2, 5, 16, 33)
        from block in Gen.Elements(int.MaxValue, 1, 40, 333, 1000)
        from seed in Gen.Choose(0, int.MaxValue)
        select new TensorCase(batch, tokens, classes, block, seed));
}

/// <summary>
/// The overloads for the data as NumPy and PyTorch hand it over: int64 labels equal the int32 overloads and refuse
/// labels outside the range (even past int32) by index; tensor spans [batch, tokens, classes] equal the span calls
/// on the same memory, also when walked in blocks (the block limit is lowered on the test's thread, so the path
/// that tensors past 2^31 − 1 values take runs on small data); each call adds all rows or none.
/// </summary>
[Properties(Arbitrary = new[] { typeof(TensorArbitraries) }, MaxTest = 40)]
public class TensorAndInt64Tests
{
    private static (float[] P, int[] Labels, float[] Logits) Data(int rows, int classes, int seed)
    {
        var (p, y) = CalibrationTests.ProbabilityData(rows, classes, seed);
        return (p, y, p.Select((v, i) => MathF.Log(v) * 1.7f + i / classes % 3).ToArray());
    }

    [Property]
    public void Tensor_overloads_equal_the_span_calls_in_any_blocks(TensorCase c)
    {
        var (p, y, z) = Data(c.Rows, c.Classes, c.Seed);
        var shape = new nint[] { c.Batch, c.Tokens, c.Classes };
        var expected = new CalibrationAccumulator(10);
        expected.AddProbabilities(p, y, c.Classes);
        expected.AddLogits(z, y, c.Classes, 0.8f);
        var expectedEntropy = new float[c.Rows];
        double expectedMean = FastCalib.Entropy.FromLogits(z, expectedEntropy, c.Classes, 0.8f);
        var expectedFit = c.Classes >= 2 ? TemperatureScaling.Fit(z, y, c.Classes) : null;

        using (TensorRows.LimitBlocks(c.BlockValues))
        {
            var actual = new CalibrationAccumulator(10);
            actual.AddProbabilities(new ReadOnlyTensorSpan<float>(p, shape, []), y);
            actual.AddLogits(new ReadOnlyTensorSpan<float>(z, shape, []), y.Select(v => (long)v).ToArray(), 0.8f);
            CalibrationPropertyTests.AssertIdentical(expected.Report(), actual.Report());

            var entropy = Enumerable.Repeat(float.NaN, c.Rows).ToArray();   // poisoned: every row must be written
            double mean = FastCalib.Entropy.FromLogits(new ReadOnlyTensorSpan<float>(z, shape, []), entropy, 0.8f);
            Assert.Equal(expectedEntropy, entropy);
            Assert.Equal(expectedMean, mean, 1e-12);

            if (expectedFit is not null)
            {
                var fit = TemperatureScaling.Fit(new ReadOnlyTensorSpan<float>(z, shape, []), y);
                // the blocked passes add the same per-row terms in another grouping: the same T* to far below its accuracy
                Assert.Equal(expectedFit.Temperature, fit.Temperature, 1e-5f);
                Assert.Equal(expectedFit.NllAfter, fit.NllAfter, 1e-9);
            }
        }
    }

    [Fact]
    public void A_bad_row_in_a_later_block_adds_nothing_and_is_named_by_its_row_in_the_tensor()
    {
        var (p, y, _) = Data(600, 4, 3);
        p[517 * 4 + 1] = float.NaN;
        var accumulator = new CalibrationAccumulator();
        using (TensorRows.LimitBlocks(100 * 4))
        {
            var e = Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities(new ReadOnlyTensorSpan<float>(p, [600, 4], []), y));
            Assert.Contains("row 517 ", e.Message);
            Assert.Equal(0, accumulator.Count);
            var entropy = new float[600];
            e = Assert.Throws<ArgumentException>(() => FastCalib.Entropy.FromProbabilities(new ReadOnlyTensorSpan<float>(p, [600, 4], []), entropy));
            Assert.Contains("row 517 ", e.Message);
            y[333] = 4;
            var bad = Assert.Throws<ArgumentOutOfRangeException>(() => accumulator.AddProbabilities(new ReadOnlyTensorSpan<float>(p, [600, 4], []), y));
            Assert.Contains("labels[333] is 4", bad.Message);
        }
    }

    [Fact]
    public void Blocked_tensor_calls_keep_bootstrap_replicas_custom_edges_and_row_numbers()
    {
        var (p, y, _) = Data(900, 5, 11);
        float[] edges = [0f, 0.3f, 0.6f, 0.9f, 1f];
        var expected = new CalibrationAccumulator(edges) { Bootstrap = new BootstrapOptions(30, 4) };
        expected.AddProbabilities(p, y, 5);
        expected.AddProbabilities(p, y, 5);
        var actual = new CalibrationAccumulator(edges) { Bootstrap = new BootstrapOptions(30, 4) };
        using (TensorRows.LimitBlocks(100 * 5))
        {
            actual.AddProbabilities(new ReadOnlyTensorSpan<float>(p, [3, 300, 5], []), y);
            actual.AddProbabilities(new ReadOnlyTensorSpan<float>(p, [900, 5], []), y);
        }
        Assert.Equal(1800, actual.NextRow);
        CalibrationPropertyTests.AssertIdentical(expected.Report(), actual.Report());
        var a = expected.BootstrapIntervals();
        var b = actual.BootstrapIntervals();
        Assert.True(BootstrapTests.IntervalsComparer.Same(a, b));
    }

    [Fact]
    public void Tensor_shapes_are_checked()
    {
        var p = new float[24];
        var a = new CalibrationAccumulator();
        Assert.Contains("one per row", Assert.Throws<ArgumentException>(() => a.AddProbabilities(new ReadOnlyTensorSpan<float>(p, [2, 3, 4], []), new int[5])).Message);
        // a strided view (every other row) is not dense
        Assert.Contains("must be dense", Assert.Throws<ArgumentException>(() => a.AddProbabilities(new ReadOnlyTensorSpan<float>(p, [3, 4], [8, 1]), new int[3])).Message);
        Assert.Contains("one per row", Assert.Throws<ArgumentException>(() => FastCalib.Entropy.FromProbabilities(new ReadOnlyTensorSpan<float>(p, [6, 4], []), new float[5])).Message);
        Assert.Contains("at least 2 classes", Assert.Throws<ArgumentOutOfRangeException>(() => TemperatureScaling.Fit(new ReadOnlyTensorSpan<float>(p, [24, 1], []), new int[24])).Message);
        // empty tensors add nothing
        a.AddLogits(new ReadOnlyTensorSpan<float>(new float[0], [0, 7], []), ReadOnlySpan<int>.Empty);
        Assert.Equal(0, a.Count);
        Assert.True(double.IsNaN(FastCalib.Entropy.FromLogits(new ReadOnlyTensorSpan<float>(new float[0], [0, 7], []), Span<float>.Empty)));
    }

    [Fact]
    public void Int64_labels_give_what_int32_labels_give_everywhere()
    {
        var (p, y, z) = Data(3001, 6, 8);
        long[] wide = y.Select(v => (long)v).ToArray();

        var a = new CalibrationAccumulator(15);
        var b = new CalibrationAccumulator(15);
        a.AddProbabilities(p, y, 6);
        b.AddProbabilities(p, wide, 6);
        a.AddLogits(z, y, 6, 2f);
        b.AddLogits(z, wide, 6, 2f);
        int[] targets = y.Select(v => v % 2).ToArray();
        float[] positive = p.Where((_, i) => i % 6 == 0).ToArray();
        a.AddBinary(positive, targets);
        b.AddBinary(positive, targets.Select(v => (long)v).ToArray());
        CalibrationPropertyTests.AssertIdentical(a.Report(), b.Report());

        var ca = new ClasswiseCalibration(6);
        var cb = new ClasswiseCalibration(6);
        ca.AddProbabilities(p, y);
        cb.AddProbabilities(p, wide);
        Assert.Equal(ca.Report().Ece, cb.Report().Ece);

        Assert.Equal(TemperatureScaling.Fit(z, y, 6), TemperatureScaling.Fit(z, wide, 6));
        Assert.Equal(CalibrationEvaluation.Temperature(z, y, 6, 1.5f).After.Ece, CalibrationEvaluation.Temperature(z, wide, 6, 1.5f).After.Ece);
        long[] wideTargets = targets.Select(v => (long)v).ToArray();
        Assert.Equal(PlattCalibrator.Fit(positive, targets), PlattCalibrator.Fit(positive, wideTargets));
        float[] Applied(BinaryCalibrator calibrator)
        {
            var output = new float[positive.Length];
            calibrator.Apply(positive, output);
            return output;
        }
        Assert.Equal(Applied(HistogramCalibrator.Fit(positive, targets)), Applied(HistogramCalibrator.Fit(positive, wideTargets)));
        Assert.Equal(Applied(IsotonicCalibrator.Fit(positive, targets)), Applied(IsotonicCalibrator.Fit(positive, wideTargets)));
        var platt = PlattCalibrator.Fit(positive, targets);
        Assert.Equal(CalibrationEvaluation.Binary(platt, positive, targets).After.Ece, CalibrationEvaluation.Binary(platt, positive, wideTargets).After.Ece);

        var plan = MixupPlan.Create(3001, 0.4f, 5);
        var ta = new float[p.Length];
        var tb = new float[p.Length];
        FastCalib.Mixup.SmoothLabels(y, ta, 6, 0.1f);
        FastCalib.Mixup.SmoothLabels(wide, tb, 6, 0.1f);
        Assert.Equal(ta, tb);
        FastCalib.Mixup.MixedTargets(y, ta, 6, plan, 0.1f);
        FastCalib.Mixup.MixedTargets(wide, tb, 6, plan, 0.1f);
        Assert.Equal(ta, tb);
        Assert.Equal(FastCalib.Mixup.MixedCrossEntropy(z, y, ta, 6, plan), FastCalib.Mixup.MixedCrossEntropy(z, wide, tb, 6, plan));
        Assert.Equal(ta, tb);
    }

    [Theory]
    [InlineData(5_000_000_000L)]
    [InlineData(-1L)]
    [InlineData(6L)]
    [InlineData(long.MinValue)]
    public void Int64_labels_outside_the_classes_are_named_by_index_and_add_nothing(long label)
    {
        var (p, y, _) = Data(100, 6, 9);
        long[] wide = y.Select(v => (long)v).ToArray();
        wide[71] = label;
        var a = new CalibrationAccumulator();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => a.AddProbabilities(p, wide, 6));
        Assert.Equal("labels", e.ParamName);
        Assert.Contains($"labels[71] is {label}; labels must be in [0, 6)", e.Message);
        Assert.Equal(0, a.Count);
        Assert.Contains("labels[71]", Assert.Throws<ArgumentOutOfRangeException>(() => TemperatureScaling.Fit(p, wide, 6)).Message);
        Assert.Contains("labels[71]", Assert.Throws<ArgumentOutOfRangeException>(() => FastCalib.Mixup.SmoothLabels(wide, new float[600], 6, 0f)).Message);
        long[] targets = new long[100];
        targets[3] = label == 6 ? 2 : label;
        Assert.Contains("targets must be 0 or 1", Assert.Throws<ArgumentOutOfRangeException>(() => PlattCalibrator.Fit(new float[100], targets)).Message);
    }
}
