using System.Numerics;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>A data set of probability rows split into parts at random places, scored on one of the paths.</summary>
public sealed record SplitCase(int Rows, int Classes, int Parts, int Bins, BinningRule Rule, bool Logits, int Seed)
{
    public override string ToString() => $"{Rows} x {Classes}, {Parts} parts, {Bins} bins, {Rule}, {(Logits ? "logits" : "probabilities")}, seed {Seed}";
}

public static class StateArbitraries
{
    public static Arbitrary<SplitCase> Cases() => Arb.From(
        from rows in Gen.Choose(1, 2500)
        from classes in Gen.Elements(2, 3, 10, 17)
        from parts in Gen.Choose(1, 6)
        from bins in Gen.Elements(1, 10, 15, 40)
        from rule in Gen.Elements(BinningRule.TorchMetrics, BinningRule.ClosedLastBin, BinningRule.RightClosed, BinningRule.GuoReference)
        from logits in Gen.Elements(false, true)
        from seed in Gen.Choose(0, int.MaxValue)
        select new SplitCase(rows, classes, parts, bins, rule, logits, seed));

    /// <summary>Float32 terms of every kind: ordinary, tiny, subnormal, huge, negative, zero, and now and then infinite.</summary>
    public static Arbitrary<float[]> Terms() => Arb.From(
        from n in Gen.Choose(0, 300)
        from seed in Gen.Choose(0, int.MaxValue)
        select MakeTerms(n, seed));

    internal static float[] MakeTerms(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => random.Next(10) switch
        {
            0 => BitConverter.Int32BitsToSingle(random.Next(1, 0x800000)),              // subnormal
            1 => MathF.ScaleB((float)random.NextDouble(), random.Next(-149, 128)),     // any exponent
            2 => -(float)random.NextDouble() * 3,
            3 => 0f,
            4 => random.Next(50) == 0 ? float.PositiveInfinity : float.MaxValue,
            _ => (float)(random.NextDouble() * 10),
        }).ToArray();
    }
}

/// <summary>
/// The accumulator's state as a vector of 64-bit integers: exact float32 sums against a big-integer oracle, the
/// round trip, the elementwise sum of parts' states against the whole (bit for bit, on every path), and the
/// refusals of vectors that are not states, or are sums of states of different shapes.
/// </summary>
[Properties(Arbitrary = new[] { typeof(StateArbitraries) }, MaxTest = 40)]
public class AccumulatorStateTests
{
    /// <summary>The oracle: every float32 times 2^149 is an integer, exactly representable as a double and a BigInteger.</summary>
    internal static double ExactOracle(IEnumerable<float> terms)
    {
        var finite = terms.Where(float.IsFinite).ToList();
        bool plus = terms.Any(float.IsPositiveInfinity), minus = terms.Any(float.IsNegativeInfinity);
        if (plus && minus) return double.NaN;
        if (plus) return double.PositiveInfinity;
        if (minus) return double.NegativeInfinity;
        var sum = finite.Aggregate(BigInteger.Zero, (s, t) => s + new BigInteger(Math.ScaleB(t, 149)));
        return Math.ScaleB((double)sum, -149);
    }

    internal static unsafe ExactSum SumOf(ReadOnlySpan<float> terms)
    {
        var buckets = new long[ExactSum.Buckets];
        fixed (long* b = buckets)
            foreach (float t in terms) ExactSum.Gather(b, t);
        var sum = new ExactSum();
        sum.Fold(buckets);
        return sum;
    }

    [Property]
    public void Exact_sums_equal_the_big_integer_oracle_in_any_order_and_split(float[] terms)
    {
        double expected = ExactOracle(terms);
        Assert.Equal(expected, SumOf(terms).ToDouble());
        var random = new Random(terms.Length);
        var shuffled = terms.OrderBy(_ => random.Next()).ToArray();
        int cut = shuffled.Length == 0 ? 0 : random.Next(shuffled.Length);
        var a = SumOf(shuffled.AsSpan(0, cut));
        a.Add(SumOf(shuffled.AsSpan(cut)));
        Assert.Equal(expected, a.ToDouble());
        // through the state form, summed elementwise with another part's
        var left = new long[ExactSum.StateLength];
        var right = new long[ExactSum.StateLength];
        SumOf(shuffled.AsSpan(0, cut)).WriteTo(left);
        SumOf(shuffled.AsSpan(cut)).WriteTo(right);
        var fromState = new ExactSum();
        Assert.True(fromState.AddState(left.Zip(right, (x, y) => x + y).ToArray()));
        Assert.Equal(expected, fromState.ToDouble());
    }

    [Fact]
    public unsafe void Exact_sums_cancel_what_float64_loses_and_keep_every_subnormal()
    {
        // 1e30 + 1 − 1e30 is 1 exactly; a float64 running sum says 0
        Assert.Equal(1.0, SumOf([1e30f, 1f, -1e30f]).ToDouble());
        var tiny = Enumerable.Repeat(float.Epsilon, 1000).ToArray();
        Assert.Equal(1000 * Math.ScaleB(1, -149), SumOf(tiny).ToDouble());
        // 2^22 times float.MaxValue (the bucket's most) stays exact
        var buckets = new long[3 * ExactSum.Buckets];   // three copies, as gatherers keep them
        fixed (long* b = buckets)
            for (int i = 0; i < 1 << 22; i++) ExactSum.Gather(b + i % 3 * ExactSum.Buckets, float.MaxValue);
        var big = new ExactSum();
        big.Fold(buckets);
        Assert.Equal((double)float.MaxValue * (1 << 22), big.ToDouble());
    }

    private static (float[] Values, int[] Labels) Data(SplitCase c)
    {
        var (p, labels) = CalibrationTests.ProbabilityData(c.Rows, c.Classes, c.Seed);
        // logits: log-probabilities plus a per-row shift (softmax gives the probabilities back)
        return c.Logits ? (p.Select((v, i) => MathF.Log(v) + i / c.Classes % 5).ToArray(), labels) : (p, labels);
    }

    private static void Add(CalibrationAccumulator a, SplitCase c, ReadOnlySpan<float> values, ReadOnlySpan<int> labels, ComputeOptions options)
    {
        if (c.Logits) a.AddLogits(values, labels, c.Classes, 1.3f, options);
        else a.AddProbabilities(values, labels, c.Classes, options);
    }

    [Property]
    public void The_elementwise_sum_of_the_parts_states_is_the_whole_bit_for_bit(SplitCase c)
    {
        var (values, labels) = Data(c);
        var options = new ComputeOptions { MaxThreads = 2 };
        var whole = new CalibrationAccumulator(c.Bins, c.Rule);
        Add(whole, c, values, labels, options);

        var random = new Random(c.Seed);
        var cuts = Enumerable.Range(0, c.Parts - 1).Select(_ => random.Next(c.Rows + 1)).Append(0).Append(c.Rows).Distinct().Order().ToArray();
        long[]? sum = null;
        for (int k = 0; k + 1 < cuts.Length; k++)
        {
            var part = new CalibrationAccumulator(c.Bins, c.Rule);
            int from = cuts[k], to = cuts[k + 1];
            Add(part, c, values.AsSpan(from * c.Classes, (to - from) * c.Classes), labels.AsSpan(from, to - from), options);
            var state = part.ToState();
            Assert.Equal(part.StateLength, state.Length);
            sum = sum is null ? state : sum.Zip(state, (x, y) => x + y).ToArray();
        }
        var merged = CalibrationAccumulator.FromState(sum!);
        CalibrationPropertyTests.AssertIdentical(whole.Report(), merged.Report());
        Assert.Equal(whole.ToState().AsSpan(1).ToArray(), merged.ToState().AsSpan(1).ToArray());
    }

    [Fact]
    public void The_round_trip_keeps_everything_and_empty_accumulators_too()
    {
        var (p, labels) = CalibrationTests.ProbabilityData(3000, 10, 7);
        foreach (var thresholds in new[] { Array.Empty<float>(), [0.5f], [0.1f, 0.8f, 0.95f, 1f] })
            foreach (var rule in new[] { BinningRule.TorchMetrics, BinningRule.GuoReference })
            {
                var a = new CalibrationAccumulator(12, rule, thresholds);
                var empty = CalibrationAccumulator.FromState(a.ToState());
                Assert.Equal(0, empty.Count);
                Assert.Equal(thresholds, empty.Thresholds);
                a.AddProbabilities(p, labels, 10);
                a.AddBinary([0f, 1f, 0.5f], [0, 1, 1]);   // exact 0 and 1: NLL terms of 0 and ln 2
                var back = CalibrationAccumulator.FromState(a.ToState());
                Assert.Equal((a.Bins, a.Rule, a.Count), (back.Bins, back.Rule, back.Count));
                CalibrationPropertyTests.AssertIdentical(a.Report(), back.Report());
            }
        // an infinite NLL (probability 0 on the label) survives the trip
        var zero = new CalibrationAccumulator(5);
        zero.AddProbabilities([1f, 0f], [1], 2);
        Assert.Equal(double.PositiveInfinity, CalibrationAccumulator.FromState(zero.ToState()).Report().NegativeLogLikelihood);
    }

    [Fact]
    public void States_merge_as_accumulators_do_on_every_path()
    {
        var (p, labels) = CalibrationTests.ProbabilityData(4001, 9, 12);
        foreach (var path in Paths.All.Append(new KernelPath("ilgpu-cpu", new ComputeOptions { Backend = Backend.Gpu, Accelerator = Paths.CpuAccelerator.Value })))
        {
            var whole = new CalibrationAccumulator(15);
            whole.AddProbabilities(p, labels, 9, path.Options);
            var first = new CalibrationAccumulator(15);
            var second = new CalibrationAccumulator(15);
            first.AddProbabilities(p.AsSpan(0, 1234 * 9), labels.AsSpan(0, 1234), 9, path.Options);
            second.AddProbabilities(p.AsSpan(1234 * 9), labels.AsSpan(1234), 9, path.Options);
            var state = first.ToState().Zip(second.ToState(), (x, y) => x + y).ToArray();
            CalibrationPropertyTests.AssertIdentical(whole.Report(), CalibrationAccumulator.FromState(state).Report());
            first.Merge(second);
            CalibrationPropertyTests.AssertIdentical(whole.Report(), first.Report());
        }
    }

    [Fact]
    public void Vectors_that_are_not_states_are_refused_with_a_reason()
    {
        var a = new CalibrationAccumulator(15);
        a.AddConfidences([0.2f, 0.9f], [false, true]);
        var state = a.ToState();
        string Refusal(long[] s) => Assert.Throws<ArgumentException>(() => CalibrationAccumulator.FromState(s)).Message;

        Assert.Contains("at least", Refusal([1, 2, 3]));
        Assert.Contains("not a calibration accumulator state", Refusal(new long[state.Length]));
        Assert.Contains("not a calibration accumulator state", Refusal(state.Select((v, i) => i == 1 ? v + 1 : v).ToArray()));
        Assert.Contains("layout version 2", Refusal(state.Select((v, i) => i == 2 ? 2L : v).ToArray()));
        Assert.Contains("has " + state.Length + " values; this one has " + (state.Length - 1), Refusal(state[..^1]));
        var negative = (long[])state.Clone();
        negative[^30] = -5;   // a count in the body
        Assert.Contains("cannot be", Refusal(negative));
    }

    [Fact]
    public void A_sum_of_states_of_different_shapes_is_refused_even_when_its_length_fits()
    {
        string Mixed(CalibrationAccumulator x, CalibrationAccumulator y)
        {
            var (sx, sy) = (x.ToState(), y.ToState());
            Assert.Equal(sx.Length, sy.Length);
            return Assert.Throws<ArgumentException>(() => CalibrationAccumulator.FromState(sx.Zip(sy, (u, v) => u + v).ToArray())).Message;
        }
        // 15 bins with torchmetrics' extra slot and 16 closed-last bins: 16 slots each
        Assert.Contains("different shapes", Mixed(new CalibrationAccumulator(15), new CalibrationAccumulator(16, BinningRule.ClosedLastBin)));
        // the same bins and rule, thresholds 0.5 and 0.7
        Assert.Contains("different shapes", Mixed(new CalibrationAccumulator(10, BinningRule.RightClosed, [0.5f]), new CalibrationAccumulator(10, BinningRule.RightClosed, [0.7f])));
        Assert.Contains("different shapes", Mixed(new CalibrationAccumulator(15, BinningRule.RightClosed), new CalibrationAccumulator(15, BinningRule.GuoReference)));
    }

    /// <summary>The device binning's score buckets are the host's: the same per-row terms give the same exact sums.</summary>
    [Fact]
    public void Device_binning_gathers_the_scores_as_the_host_does()
    {
        var accelerator = Paths.CpuAccelerator.Value;
        int rows = 3001;
        var random = new Random(5);
        var confidence = Enumerable.Range(0, rows).Select(_ => (float)random.NextDouble()).ToArray();
        var correct = confidence.Select(c => c > 0.5f ? 1f : 0f).ToArray();
        var nll = StateArbitraries.MakeTerms(rows, 9).Select(t => float.IsFinite(t) ? MathF.Abs(t) : t).ToArray();
        var brier = StateArbitraries.MakeTerms(rows, 10).Select(MathF.Abs).ToArray();
        var layout = new BinningLayout(16, 1);
        using var dc = accelerator.Allocate1D(confidence);
        using var dk = accelerator.Allocate1D(correct);
        using var dl = accelerator.Allocate1D(nll);
        using var db = accelerator.Allocate1D(brier);
        using var thresholds = accelerator.Allocate1D(new[] { 0.8f });
        using var state = accelerator.Allocate1D<long>(layout.Length);
        using var scores = accelerator.Allocate1D<long>(2 * ExactSum.Buckets);
        using var invalid = accelerator.Allocate1D(new[] { int.MaxValue });
        state.MemSetToZero();
        scores.MemSetToZero();
        var kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            ArrayView<long>, ArrayView<long>, ArrayView<int>, int, int, int, int, BinningLayout>(DeviceBinning.Bin);
        kernel(accelerator.DefaultStream, DeviceBinning.Shape(accelerator, rows), dc.View, dk.View, dl.View, db.View, thresholds.View, state.View, scores.View, invalid.View,
            rows, 15, (int)BinningRule.TorchMetrics, 1, layout);
        accelerator.Synchronize();
        var buckets = scores.GetAsArray1D();
        var nllSum = new ExactSum();
        nllSum.Fold(buckets.AsSpan(0, ExactSum.Buckets));
        var brierSum = new ExactSum();
        brierSum.Fold(buckets.AsSpan(ExactSum.Buckets));
        Assert.Equal(ExactOracle(nll), nllSum.ToDouble());
        Assert.Equal(ExactOracle(brier), brierSum.ToDouble());
    }
}
