using System.Runtime.Intrinsics;
using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>
/// The parts the accumulator is built from, each against an independent rule: the vector binning at every width
/// against the scalar rule on exact edges, the per-thread tables at large bin counts on a small stack, and the
/// exactness promise (the same bits at every vector width, on the scalar backend and on the device path).
/// </summary>
public class AccumulatorPartsTests
{
    private static readonly BinningRule[] Rules = [BinningRule.TorchMetrics, BinningRule.ClosedLastBin, BinningRule.RightClosed, BinningRule.GuoReference];

    /// <summary>Every edge k/n as float32, the floats next to it, 0 and 1: where float rounding of c·n crosses an edge.</summary>
    private static float[] EdgeConfidences(int bins)
    {
        var values = new List<float>();
        for (int k = 0; k <= bins; k++)
        {
            float e = CalibrationReference.Edge(k, bins);
            values.Add(e);
            if (e > 0) values.Add(MathF.BitDecrement(e));
            if (e < 1) values.Add(MathF.BitIncrement(e));
        }
        return values.ToArray();
    }

    [Fact]
    public void Vector_binning_puts_exact_edges_where_the_scalar_rule_does_at_every_width()
    {
        foreach (int bins in new[] { 1, 3, 7, 10, 15, 20, 49, 100, 1000 })
        {
            var c = EdgeConfidences(bins);
            while (c.Length < 16) c = c.Concat(c).ToArray();
            foreach (var rule in Rules)
            {
                // windows of 16 lanes covering every value (the last one overlaps the one before)
                for (int start = 0; start < c.Length; start += 16)
                {
                    int i = Math.Max(0, Math.Min(start, c.Length - 16));
                    var v = Vector512.Create(c.AsSpan(i, 16));
                    var b512 = Binning512.Of(v, bins, rule);
                    var b256 = Binning256.Of(v.GetLower(), bins, rule);
                    var b128 = Binning128.Of(v.GetLower().GetLower(), bins, rule);
                    for (int lane = 0; lane < 16; lane++)
                    {
                        int expected = CalibrationReference.Bin(c[i + lane], bins, rule);
                        Assert.True(expected == b512[lane], $"{rule}, {bins} bins, c = {c[i + lane]:R}: 512-bit bin {b512[lane]}, expected {expected}");
                        if (lane < 8) Assert.True(expected == b256[lane], $"{rule}, {bins} bins, c = {c[i + lane]:R}: 256-bit bin {b256[lane]}, expected {expected}");
                        if (lane < 4) Assert.True(expected == b128[lane], $"{rule}, {bins} bins, c = {c[i + lane]:R}: 128-bit bin {b128[lane]}, expected {expected}");
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public unsafe void The_block_binner_counts_exact_edges_as_the_reference_does(int width)
    {
        foreach (int bins in new[] { 3, 10, 15, 2000 })
            foreach (var rule in Rules)
            {
                var edges = EdgeConfidences(bins);
                // whole blocks, so the vector path sees every edge value (not only the scalar tail)
                var c = Enumerable.Range(0, BlockBinner.Block).Select(i => edges[i * 7 % edges.Length]).ToArray();
                var correct = c.Select((_, i) => (float)(i % 3 == 0 ? 1 : 0)).ToArray();
                var totals = new CalibrationTotals(Binning.Slots(bins, rule), 1);
                var binner = new BlockBinner(bins, rule, [0.5f], width);
                fixed (float* pc = c, pk = correct)
                    Assert.Equal(-1, binner.Add(totals, pc, pk, null, null, c.Length));
                binner.Flush(totals);
                var expected = new long[totals.Count.Length];
                foreach (float v in c)
                    if (CalibrationReference.Bin(v, bins, rule) is int b and >= 0) expected[b]++;
                Assert.Equal(expected, totals.Count);
                Assert.Equal(c.Count(v => v >= 0.5f), totals.AboveCount[0]);
            }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(256)]
    [InlineData(512)]
    public unsafe void The_block_binner_sums_scores_exactly_at_every_width(int width)
    {
        // zeros (a label with probability 1), subnormals, the largest subnormal, normals of every size, and +infinity;
        // blocks with a term near float's largest (summed term by term), with terms of every size below 100 (an integer
        // window under the largest, many terms outside it), with terms in a few binades only (all in the window), and
        // with negative terms (a Brier score rounded below 0)
        float[] special = [0f, -0f, float.Epsilon, 1e-40f, BitConverter.Int32BitsToSingle(0x007FFFFF), 1.17549435e-38f, 6e-8f, 0.5f, 1f, 2f, 103.27893f, 3e38f];
        var random = new Random(width);
        foreach (var (withInfinity, largest, lowest, negative) in new[] { (false, 100, -140, false), (true, 100, -140, false), (false, 7, -140, false), (true, 7, -140, true), (false, 3, -20, true), (false, 3, -20, false) })
        {
            // whole blocks, so every term passes through the vector path
            int n = BlockBinner.Block;
            var pool = special.Where(v => largest > 50 || v < 100).ToArray();
            var nll = Enumerable.Range(0, n).Select(i => i % 3 == 0 && lowest < -100 ? pool[i % pool.Length] : (float)Math.ScaleB(random.NextDouble(), random.Next(lowest, largest))).ToArray();
            var brier = Enumerable.Range(0, n).Select(i => pool[(i * 5 + 1) % pool.Length] * (i % 2 == 0 ? 1 : (float)random.NextDouble()) * (negative && i % 7 == 0 ? -1 : 1)).ToArray();
            if (negative) for (int i = 0; i < n; i += 11) nll[i] = -nll[i];
            if (withInfinity) nll[517] = float.PositiveInfinity;
            var c = Enumerable.Range(0, n).Select(i => (float)random.NextDouble()).ToArray();
            var correct = c.Select((_, i) => (float)(i % 2)).ToArray();
            var totals = new CalibrationTotals(Binning.Slots(15, BinningRule.TorchMetrics), 1);
            var binner = new BlockBinner(15, BinningRule.TorchMetrics, [0.5f], width);
            fixed (float* pc = c, pk = correct, pl = nll, pb = brier)
                Assert.Equal(-1, binner.Add(totals, pc, pk, pl, pb, n));
            binner.Flush(totals);
            Assert.Equal(AccumulatorStateTests.ExactOracle(nll), totals.NegLogLikelihood.ToDouble());
            Assert.Equal(AccumulatorStateTests.ExactOracle(brier), totals.Brier.ToDouble());
            // every digit, not only what a double shows: term by term through the scalar gather (tested against big integers)
            Assert.Equal(Digits(AccumulatorStateTests.SumOf(nll)), Digits(totals.NegLogLikelihood));
            Assert.Equal(Digits(AccumulatorStateTests.SumOf(brier)), Digits(totals.Brier));
        }
    }

    private static long[] Digits(ExactSum sum)
    {
        var state = new long[ExactSum.StateLength];
        sum.WriteTo(state);
        return state;
    }

    [Fact]
    public void A_million_bins_fit_a_thread_with_a_small_stack()
    {
        var (p, labels) = CalibrationTests.ProbabilityData(40_000, 10, 3);
        var confidence = Enumerable.Range(0, 400_000).Select(i => (i % 1000) / 999f).ToArray();
        var correct = confidence.Select((_, i) => i % 2 == 0).ToArray();
        CalibrationReport? fromProbabilities = null, fromConfidences = null;
        var thread = new Thread(() =>
        {
            var a = new CalibrationAccumulator(Binning.MaxBins);
            a.AddProbabilities(p, labels, 10);
            fromProbabilities = a.Report();
            var b = new CalibrationAccumulator(100_000);
            b.AddConfidences(confidence, correct);
            fromConfidences = b.Report();
        }, maxStackSize: 256 * 1024);
        thread.Start();
        thread.Join();
        Assert.Equal(40_000, fromProbabilities!.Count);
        Assert.Equal(Binning.MaxBins + 1, fromProbabilities.Bins.Count);
        Assert.Equal(400_000, fromConfidences!.Bins.Sum(b => b.Count));
        Assert.Equal(400, fromConfidences.Bins[^1].Count);   // the extra bin of confidence 1.0
    }

    [Fact]
    public void More_bins_than_the_maximum_are_a_clear_error()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationAccumulator(Binning.MaxBins + 1));
        Assert.Equal("bins", e.ParamName);
        Assert.Contains("1,000,000", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationAccumulator(int.MaxValue));
    }

    [Fact]
    public void Every_vector_width_the_scalar_backend_and_the_device_give_the_same_bits()
    {
        var (p, labels) = CalibrationTests.ProbabilityData(7_001, 13, 11);
        CalibrationReport Run(ComputeOptions options)
        {
            var a = new CalibrationAccumulator(20, thresholds: [0.3f, 0.8f]);
            a.AddProbabilities(p, labels, 13, options);
            return a.Report();
        }
        var expected = Run(new ComputeOptions { VectorWidth = 256 });
        foreach (var path in Paths.All)
        {
            var actual = Run(path.Options);
            CalibrationPropertyTests.AssertSame(expected, actual);
            Assert.Equal(expected.NegativeLogLikelihood, actual.NegativeLogLikelihood, 1e-6);
        }
        foreach (var threads in new[] { 1, 2, 3 })
        {
            // NLL and Brier are exact sums of per-row terms: the thread count cannot change a bit of them
            var wide = Run(new ComputeOptions { VectorWidth = 512 });
            CalibrationPropertyTests.AssertIdentical(wide, Run(new ComputeOptions { VectorWidth = 512, MaxThreads = threads }));
            CalibrationPropertyTests.AssertSame(expected, wide);
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Probability_rows_off_one_are_rejected_on_every_path_unless_declared_unnormalized(KernelPath path)
    {
        var (p, y) = CalibrationTests.ProbabilityData(2_000, 7, 4);
        foreach (var (row, scale, offset) in new[] { (1_500, 1.3f, 0f), (17, 0.5f, 0f), (1_999, 1f, 0.01f) })
        {
            var bad = p.ToArray();
            for (int j = 0; j < 7; j++) bad[row * 7 + j] = bad[row * 7 + j] * scale + offset;
            var accumulator = new CalibrationAccumulator(15);
            var e = Assert.Throws<ArgumentException>(() => accumulator.AddProbabilities(bad, y, 7, path.Options));
            Assert.Contains($"row {row} is not a probability distribution", e.Message);
            Assert.Equal("probabilities", e.ParamName);
            Assert.Equal(0, accumulator.Count);
            accumulator.AddProbabilities(bad, y, 7, path.Options, unnormalized: true);
            Assert.Equal(2_000, accumulator.Count);
        }
        var negative = p.ToArray();
        negative[5 * 7 + 2] = -0.01f;
        negative[5 * 7 + 3] += 0.01f;   // still sums to 1
        Assert.Contains("row 5 is not a probability distribution", Assert.Throws<ArgumentException>(() => new CalibrationAccumulator().AddProbabilities(negative, y, 7, path.Options)).Message);
        // within the tolerance (float32 rounding of the softmax that produced them) rows pass
        var close = p.Select(v => v * (1 + 5e-4f)).ToArray();
        new CalibrationAccumulator().AddProbabilities(close, y, 7, path.Options);
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void A_negative_or_NaN_entry_anywhere_in_a_row_rejects_it_even_when_unnormalized(KernelPath path)
    {
        // 37 columns: positions in the vector body and in the tail at every width
        const int cols = 37;
        var (p, y) = CalibrationTests.ProbabilityData(40, cols, 8);
        foreach (int j in new[] { 0, 5, 16, 31, 36 })
        foreach (float bad in new[] { -1e-3f, float.NegativeInfinity, float.NaN, -1.17549435e-38f })   // the last: the negative normal nearest 0
        foreach (bool unnormalized in new[] { false, true })
        {
            var q = p.ToArray();
            q[3 * cols + j] = bad;
            var e = Assert.Throws<ArgumentException>(() => new CalibrationAccumulator().AddProbabilities(q, y, cols, path.Options, unnormalized));
            Assert.Contains(unnormalized ? "row 3 has a negative or NaN entry" : "row 3 is not a probability distribution", e.Message);
        }
        // negative zero is zero: a one-hot row written with -0 is a distribution
        var oneHot = Enumerable.Repeat(-0f, 2 * cols).ToArray();
        oneHot[4] = 1;
        oneHot[cols + 36] = 1;
        var a = new CalibrationAccumulator();
        a.AddProbabilities(oneHot, [4, 0], cols, path.Options);
        Assert.Equal(2, a.Count);
    }

    [Fact]
    public void Tiny_confidences_are_rounded_to_whole_units_of_two_to_the_minus_40_one_by_one()
    {
        // below 2^-17 a float32 confidence is not a whole number of 2^-40 units; each is rounded (halves up) before adding
        var c = new[] { 1e-13f, 3e-12f, MathF.ScaleB(1, -41), MathF.ScaleB(3, -42), 7.6e-6f, 0.25f };
        var a = new CalibrationAccumulator(4);
        a.AddConfidences(c, c.Select(_ => false).ToArray());
        double one = Math.ScaleB(1, 40);
        double units = c.Sum(v => Math.Floor(v * one + 0.5));
        Assert.Equal(units / one / c.Length, a.Report().MeanConfidence);
    }
}
