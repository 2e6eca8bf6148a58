using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>
/// Poisson bootstrap intervals: the weights follow the documented generator (rewritten here from its description);
/// each replica equals the reference report of the rows repeated by their weights; percentiles as NumPy's default;
/// replicas identical at every vector width, thread count, batch split, backend and merge of shards; a coverage
/// check on a source of known accuracy; refusals.
/// </summary>
public class BootstrapTests
{
    // ---- the documented generator, from its description ----

    private static ulong Mix64(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static uint LowBias32(uint x)
    {
        x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; return x ^ (x >> 16);
    }

    /// <summary>The weight of row <paramref name="row"/> in replica <paramref name="replica"/>: F⁻¹ of Poisson(1), capped at 9.</summary>
    internal static int Weight(ulong seed, long row, int replica)
    {
        const ulong phi = 0x9E3779B97F4A7C15UL;
        ulong rowKey = Mix64(seed + (ulong)(row + 1) * phi);
        uint replicaKey = (uint)Mix64((seed ^ 0xD1B54A32D192ED03UL) + (ulong)(replica + 1) * phi);
        uint u = LowBias32(((uint)rowKey ^ replicaKey) + (uint)(rowKey >> 32));
        double cdf = 0, term = Math.Exp(-1);
        int w = 0;
        for (int k = 0; k < 9; k++)
        {
            cdf += term;
            term /= k + 1;
            if (u >> 1 >= (uint)Math.Min(int.MaxValue, Math.Round(cdf * 2147483648.0))) w++;
        }
        return w;
    }

    [Fact]
    public void Weights_have_the_moments_of_poisson_one()
    {
        var w = Enumerable.Range(0, 200_000).Select(i => (double)Weight(7, i / 50, i % 50)).ToArray();
        double mean = w.Average(), variance = w.Select(x => (x - mean) * (x - mean)).Average();
        Assert.InRange(mean, 0.99, 1.01);
        Assert.InRange(variance, 0.98, 1.02);
        Assert.InRange(w.Count(x => x == 0) / (double)w.Length, Math.Exp(-1) - 0.005, Math.Exp(-1) + 0.005);
    }

    /// <summary>NumPy's default percentile (linear interpolation between order statistics).</summary>
    private static double Percentile(IEnumerable<double> values, double q)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        double at = q * (sorted.Length - 1);
        int low = (int)Math.Floor(at);
        return sorted[low] + (at - low) * (sorted[Math.Min(low + 1, sorted.Length - 1)] - sorted[low]);
    }

    [Fact]
    public void Each_replica_is_the_report_of_the_rows_repeated_by_their_weights()
    {
        const int rows = 600, classes = 5, replicas = 40, bins = 10;
        const ulong seed = 11;
        var (p, y) = CalibrationTests.ProbabilityData(rows, classes, 8);
        var accumulator = new CalibrationAccumulator(bins, thresholds: [0.6f, 0.4f]) { Bootstrap = new BootstrapOptions(replicas, seed) };
        accumulator.AddProbabilities(p, y, classes);
        var intervals = accumulator.BootstrapIntervals(0.9);

        var (confidence, correct, _, _) = CalibrationReference.FromProbabilities(p, y, classes);
        var table = accumulator.Report().Bins;
        int fullest = Enumerable.Range(0, table.Count).MaxBy(b => table[b].Count);
        var ece = new double[replicas];
        var accuracy = new double[replicas];
        var nll = new double[replicas];
        var binAccuracy = new double[replicas];
        var coverage = new double[replicas];
        var aboveAccuracy = new double[replicas];
        for (int r = 0; r < replicas; r++)
        {
            var expanded = Enumerable.Range(0, rows).SelectMany(i => Enumerable.Repeat(i, Weight(seed, i, r))).ToArray();
            var reference = CalibrationReference.Compute(expanded.Select(i => confidence[i]).ToArray(), expanded.Select(i => correct[i]).ToArray(), bins, BinningRule.TorchMetrics);
            ece[r] = reference.Ece;
            accuracy[r] = reference.AccuracyAll;
            binAccuracy[r] = reference.Accuracy[fullest];
            nll[r] = expanded.Average(i => -Math.Log(p[i * classes + y[i]]));
            // the profile's second threshold (0.95 by default... here 0.4, set below): share at or above it, and its accuracy
            var above = expanded.Where(i => confidence[i] >= 0.4f).ToArray();
            coverage[r] = (double)above.Length / expanded.Length;
            aboveAccuracy[r] = above.Average(i => correct[i] ? 1.0 : 0.0);
        }
        Assert.Equal(Percentile(ece, 0.05), intervals.Ece.Low, 10);
        Assert.Equal(Percentile(ece, 0.95), intervals.Ece.High, 10);
        Assert.Equal(Percentile(accuracy, 0.05), intervals.Accuracy.Low, 12);
        Assert.Equal(Percentile(accuracy, 0.95), intervals.Accuracy.High, 12);
        Assert.Equal(Percentile(binAccuracy, 0.05), intervals.BinAccuracy[fullest].Low, 12);
        Assert.Equal(Percentile(nll, 0.05), intervals.NegativeLogLikelihood.Low, 5);
        Assert.Equal(Percentile(nll, 0.95), intervals.NegativeLogLikelihood.High, 5);
        Assert.Equal(replicas, intervals.Replicas);
        Assert.Equal(Percentile(coverage, 0.05), intervals.ThresholdCoverage[1].Low, 12);
        Assert.Equal(Percentile(coverage, 0.95), intervals.ThresholdCoverage[1].High, 12);
        Assert.Equal(Percentile(aboveAccuracy, 0.05), intervals.ThresholdAccuracy[1].Low, 12);
        Assert.Equal(Percentile(aboveAccuracy, 0.95), intervals.ThresholdAccuracy[1].High, 12);
        Assert.True(intervals.ThresholdCoverage[0].High <= intervals.ThresholdCoverage[1].High);   // 0.6 keeps fewer than 0.4
        var report = accumulator.Report();
        Assert.InRange(report.Accuracy, intervals.Accuracy.Low, intervals.Accuracy.High);
        Assert.InRange(report.MeanConfidence, intervals.MeanConfidence.Low, intervals.MeanConfidence.High);
    }

    private static long[] State(ExactSum sum)
    {
        var state = new long[ExactSum.StateLength];
        sum.WriteTo(state);
        return state;
    }

    [Theory]
    [InlineData(BinningRule.GuoReference, false)]
    [InlineData(BinningRule.TorchMetrics, true)]
    public unsafe void The_replica_binner_gives_the_same_totals_at_every_width(BinningRule rule, bool skewed)
    {
        // blocks of several sizes; confidences of 0, 1/2 and 1 (bin edges), a skewed share in the top bin (groups longer
        // than a block's group limit); NLL terms of +inf, of 0, and far below the block's largest (outside its window)
        var random = new Random(5);
        int n = 3000;
        var c = Enumerable.Range(0, n).Select(i => i % 17 == 0 ? (float)(i % 3) / 2
            : skewed && i % 10 < 8 ? 0.95f + 0.05f * (float)random.NextDouble() : (float)random.NextDouble()).ToArray();
        var ok = c.Select((_, i) => (float)(i % 3 == 0 || skewed && i % 10 < 7 ? 1 : 0)).ToArray();
        var nll = c.Select((v, i) => v == 0 ? float.PositiveInfinity : i % 29 == 0 ? 1e-30f : -MathF.Log(v)).ToArray();
        var brier = c.Select(v => (1 - v) * (1 - v)).ToArray();
        var options = new BootstrapOptions(37, 3);
        float[] thresholds = [0.9f, 0.5f, 0.99f];
        int slots = Binning.Slots(15, rule);
        ReplicaTotals Run(int width, bool givenSlots)
        {
            var totals = new ReplicaTotals(slots, options, ReplicaBinner.Stride(options), thresholds.Length);
            var binner = new ReplicaBinner(15, rule, options, width, thresholds: thresholds);
            int at = 0;
            fixed (float* pc = c, pk = ok, pl = nll, pb = brier)
            {
                foreach (int size in new[] { 1, 1024, 700, 1024, 251 })
                {
                    // the block binner's slot layout: the block's row i in copy i mod 4, past every copy for no bin
                    var slot = Enumerable.Range(0, size).Select(i => Binning.Of(c[at + i], 15, rule) is var bin && bin < 0 ? 4 * slots : (i & 3) * slots + bin).ToArray();
                    fixed (int* ps = slot)
                        binner.Add(totals, pc + at, pk + at, pl + at, pb + at, size, 1_000_000 + at, givenSlots ? ps : null, 4);
                    at += size;
                }
            }
            binner.Flush(totals);
            return totals;
        }
        var scalar = Run(0, false);
        foreach (var (width, givenSlots) in new[] { (128, false), (256, true), (512, false), (512, true) })
        {
            var vector = Run(width, givenSlots);
            Assert.Equal(scalar.Count, vector.Count);
            Assert.Equal(scalar.Correct, vector.Correct);
            Assert.Equal(scalar.Units, vector.Units);
            Assert.Equal(scalar.ScoredWeight, vector.ScoredWeight);
            Assert.Equal(scalar.TierCount, vector.TierCount);
            Assert.Equal(scalar.TierCorrect, vector.TierCorrect);
            for (int r = 0; r < options.Replicas; r++)
            {
                // the exact sums' states (digits and infinity counts), since a sum with a +inf term reads as +inf
                Assert.Equal(State(scalar.NegLogLikelihood[r]), State(vector.NegLogLikelihood[r]));
                Assert.Equal(State(scalar.Brier[r]), State(vector.Brier[r]));
            }
        }
        // the weights are the documented ones: replica 5's total weight, and its weight of rows at or above 0.9
        long weight = 0;
        for (int s = 0; s <= scalar.Slots; s++) weight += scalar.Count[s * scalar.Stride + 5];
        Assert.Equal(Enumerable.Range(0, n).Sum(i => Weight(3, 1_000_000 + i, 5)), weight);
        long above = 0;
        for (int tier = 2; tier <= thresholds.Length; tier++) above += scalar.TierCount[tier * scalar.Stride + 5];
        Assert.Equal(Enumerable.Range(0, n).Where(i => c[i] >= 0.9f).Sum(i => Weight(3, 1_000_000 + i, 5)), above);
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Shards_threads_batches_and_paths_give_the_same_intervals(KernelPath path)
    {
        const int rows = 5_003, classes = 6;
        var (p, y) = CalibrationTests.ProbabilityData(rows, classes, 2);
        var z = p.Select(v => MathF.Log(v + 1e-3f) * 3).ToArray();
        var options = new BootstrapOptions(50, 9);
        // per-row terms of logits round differently on different paths, so each path is compared with itself:
        // one call on one thread, against uneven batches on two threads and three shards merged out of order
        var whole = new CalibrationAccumulator(12) { Bootstrap = options };
        whole.AddLogits(z, y, classes, 1.3f, path.Options with { MaxThreads = 1 });
        var expected = whole.BootstrapIntervals();

        var batched = new CalibrationAccumulator(12) { Bootstrap = options };
        var compute = path.Options with { MaxThreads = 2 };
        foreach (var (start, count) in new[] { (0, 1), (1, 2_000), (2_001, 3_002) })
            batched.AddLogits(z.AsSpan(start * classes, count * classes), y.AsSpan(start, count), classes, 1.3f, compute);
        Assert.Equal(expected, batched.BootstrapIntervals(), new IntervalsComparer());

        var shards = new[] { (3_000, 2_003), (0, 1_500), (1_500, 1_500) }.Select(s =>
        {
            var shard = new CalibrationAccumulator(12) { Bootstrap = options, NextRow = s.Item1 };
            shard.AddLogits(z.AsSpan(s.Item1 * classes, s.Item2 * classes), y.AsSpan(s.Item1, s.Item2), classes, 1.3f, compute);
            return shard;
        }).ToArray();
        shards[0].Merge(shards[1]);
        shards[0].Merge(shards[2]);
        Assert.Equal(expected, shards[0].BootstrapIntervals(), new IntervalsComparer());
        Assert.Equal(whole.Report().Ece, shards[0].Report().Ece);
    }

    internal sealed class IntervalsComparer : IEqualityComparer<BootstrapReport>
    {
        public bool Equals(BootstrapReport? a, BootstrapReport? b) => a is not null && b is not null && Same(a, b);

        /// <summary>Equal numbers, the lists compared element by element.</summary>
        internal static bool Same(BootstrapReport a, BootstrapReport b) =>
            a with { BinAccuracy = [], ThresholdCoverage = [], ThresholdAccuracy = [] } == b with { BinAccuracy = [], ThresholdCoverage = [], ThresholdAccuracy = [] }
            && a.BinAccuracy.SequenceEqual(b.BinAccuracy) && a.ThresholdCoverage.SequenceEqual(b.ThresholdCoverage) && a.ThresholdAccuracy.SequenceEqual(b.ThresholdAccuracy);

        public int GetHashCode(BootstrapReport r) => r.Replicas;
    }

    [Fact]
    public void The_accuracy_interval_covers_the_true_accuracy_as_often_as_it_says()
    {
        // 400 data sets of 400 predictions, correct with probability 0.8: the 90% interval should hold 0.8 in 85-95% of them
        var random = new Random(12);
        Interval AccuracyInterval(int rows, int set)
        {
            var confidence = Enumerable.Range(0, rows).Select(_ => 0.5f + 0.5f * (float)random.NextDouble()).ToArray();
            var correct = confidence.Select(_ => random.NextDouble() < 0.8).ToArray();
            var accumulator = new CalibrationAccumulator(10) { Bootstrap = new BootstrapOptions(200, (ulong)set) };
            accumulator.AddConfidences(confidence, correct);
            return accumulator.BootstrapIntervals(0.9).Accuracy;
        }
        var small = Enumerable.Range(0, 400).Select(set => AccuracyInterval(400, set)).ToArray();
        Assert.InRange(small.Count(i => i.Low <= 0.8 && 0.8 <= i.High), 340, 380);
        // four times the rows: half the width (1/√N)
        var large = Enumerable.Range(0, 40).Select(set => AccuracyInterval(1_600, set)).ToArray();
        double wideSum = small.Sum(i => i.High - i.Low), narrowSum = large.Sum(i => i.High - i.Low);
        Assert.InRange(wideSum / 400 / (narrowSum / 40), 1.7, 2.3);
    }

    [Fact]
    public void Misuse_is_a_clear_error()
    {
        var plain = new CalibrationAccumulator(10);
        Assert.Throws<InvalidOperationException>(() => plain.BootstrapIntervals());
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationAccumulator(10) { Bootstrap = new BootstrapOptions(0) });
        var withReplicas = new CalibrationAccumulator(10) { Bootstrap = new BootstrapOptions(20) };
        Assert.Throws<ArgumentOutOfRangeException>(() => withReplicas.BootstrapIntervals(1.0));
        Assert.Throws<ArgumentException>(() => withReplicas.Merge(plain));
        Assert.Throws<ArgumentException>(() => withReplicas.Merge(new CalibrationAccumulator(10) { Bootstrap = new BootstrapOptions(20, 1) }));
        Assert.Throws<InvalidOperationException>(() => withReplicas.ToState());
        // nothing added: every interval NaN
        Assert.True(double.IsNaN(withReplicas.BootstrapIntervals().Ece.Low));
    }
}
