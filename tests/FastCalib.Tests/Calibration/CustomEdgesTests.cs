using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>
/// Custom bin edges: with e_k = k / n they give the equal-width accumulator bit for bit on every path and rule; on
/// decision buckets every edge value lands where each tool's definition (scanned here over the edges) puts it.
/// </summary>
public class CustomEdgesTests
{
    private static readonly BinningRule[] Rules = [BinningRule.TorchMetrics, BinningRule.ClosedLastBin, BinningRule.RightClosed, BinningRule.GuoReference];

    /// <summary>Each tool's bin of c over explicit edges: bucketize(c, edges, right=True) − 1 (torchmetrics, closed last)
    /// or searchsorted(inner edges, c, side='left') (sklearn, Guo with 0 in no bin).</summary>
    private static int ReferenceBin(float c, float[] edges, BinningRule rule)
    {
        int n = edges.Length - 1;
        if (rule is BinningRule.TorchMetrics or BinningRule.ClosedLastBin)
        {
            int first = n + 1;
            for (int k = 0; k <= n; k++)
                if (edges[k] > c) { first = k; break; }
            return rule == BinningRule.ClosedLastBin ? Math.Min(first - 1, n - 1) : first - 1;
        }
        if (rule == BinningRule.GuoReference && c == 0) return -1;
        int below = 0;
        for (int k = 1; k < n; k++)
            if (edges[k] < c) below++;
        return below;
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Equal_width_edges_give_the_equal_width_accumulator_bit_for_bit(KernelPath path)
    {
        foreach (int bins in new[] { 1, 10, 15, 100 })   // 100: past the vector form's 64 bins, the binary search
            foreach (var rule in Rules)
            {
                var (p, y) = CalibrationTests.ProbabilityData(3_001, 7, bins);
                var edges = Enumerable.Range(0, bins + 1).Select(k => Binning.Edge(k, bins)).ToArray();
                var plain = new CalibrationAccumulator(bins, rule);
                var custom = new CalibrationAccumulator(edges, rule, plain.Thresholds);
                plain.AddProbabilities(p, y, 7, path.Options);
                custom.AddProbabilities(p, y, 7, path.Options);
                // edge values and 0 and 1 exactly, through the confidence path
                var c = edges.Concat([0f, 1f, 0.5f]).ToArray();
                var ok = c.Select((_, i) => i % 2 == 0).ToArray();
                plain.AddConfidences(c, ok);
                custom.AddConfidences(c, ok);
                CalibrationPropertyTests.AssertIdentical(plain.Report(), custom.Report());
                Assert.True(custom.HasCustomEdges);
                Assert.Equal(plain.Edges, custom.Edges);
            }
    }

    [Theory]
    [InlineData(BinningRule.TorchMetrics)]
    [InlineData(BinningRule.ClosedLastBin)]
    [InlineData(BinningRule.RightClosed)]
    [InlineData(BinningRule.GuoReference)]
    public void Decision_buckets_put_every_edge_where_the_tools_do(BinningRule rule)
    {
        float[] edges = [0f, 0.5f, 0.8f, 0.9f, 0.95f, 0.99f, 1f];
        var random = new Random(3);
        // whole vectors of edge values, values just off them, and random confidences
        var c = Enumerable.Range(0, 4_000).Select(i => (i % 4) switch
        {
            0 => edges[i % edges.Length],
            1 => MathF.BitIncrement(edges[i % (edges.Length - 1)]),
            2 => MathF.BitDecrement(edges[1 + i % (edges.Length - 1)]),
            _ => (float)random.NextDouble(),
        }).ToArray();
        var ok = c.Select(_ => random.NextDouble() < 0.8).ToArray();
        foreach (var options in new[] { new ComputeOptions { VectorWidth = 128 }, new ComputeOptions { VectorWidth = 512 } })
        {
            var accumulator = new CalibrationAccumulator(edges, rule);
            // as probability rows [c, 1 − c] with label 0, so the vector binner sees every value
            var p = c.SelectMany(v => new[] { v, 1 - v }).ToArray();
            var y = ok.Select(v => v ? 0 : 1).ToArray();
            var confidences = c.Select(v => Math.Max(v, 1 - v)).ToArray();
            var correct = c.Select((v, i) => (v >= 1 - v) == ok[i]).ToArray();
            accumulator.AddProbabilities(p, y, 2, options, unnormalized: true);
            var report = accumulator.Report();
            var expected = new long[report.Bins.Count];
            foreach (float v in confidences)
                if (ReferenceBin(v, edges, rule) is int b and >= 0) expected[b]++;
            Assert.Equal(expected, report.Bins.Select(b => b.Count).ToArray());
            Assert.Equal(0.8, report.Bins[2].Lower, 6);
            Assert.Equal(0.9, report.Bins[2].Upper, 6);
            // ECE from the reference bins in float64
            double n = confidences.Length, ece = 0;
            for (int b = 0; b < expected.Length; b++)
            {
                var members = Enumerable.Range(0, confidences.Length).Where(i => ReferenceBin(confidences[i], edges, rule) == b).ToArray();
                if (members.Length == 0) continue;
                ece += members.Length / n * Math.Abs(members.Average(i => correct[i] ? 1.0 : 0.0) - members.Average(i => (double)confidences[i]));
            }
            Assert.Equal(ece, report.Ece, 12);
            // the overconfidence profile defaults to the inner edges: coverage and accuracy at ≥ each
            Assert.Equal(edges[1..^1], report.Thresholds.Select(t => t.Threshold).ToArray());
        }
    }

    [Fact]
    public void Bad_edges_and_mixed_merges_are_clear_errors()
    {
        Assert.Throws<ArgumentException>(() => new CalibrationAccumulator([0.1f, 1f]));
        Assert.Throws<ArgumentException>(() => new CalibrationAccumulator([0f, 0.9f]));
        Assert.Throws<ArgumentException>(() => new CalibrationAccumulator([0f, 0.5f, 0.5f, 1f]));
        Assert.Throws<ArgumentException>(() => new CalibrationAccumulator([0f, float.NaN, 1f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CalibrationAccumulator([0f]));
        var custom = new CalibrationAccumulator([0f, 0.5f, 1f]);
        Assert.Throws<ArgumentException>(() => custom.Merge(new CalibrationAccumulator(2)));
        Assert.Throws<InvalidOperationException>(() => custom.ToState());
        // bootstrap and custom edges together, through a tensor in blocks
        var withBoth = new CalibrationAccumulator([0f, 0.5f, 0.9f, 1f]) { Bootstrap = new BootstrapOptions(20, 1) };
        withBoth.AddConfidences([0.95f, 0.4f, 0.7f], [true, false, true]);
        Assert.Equal(3, withBoth.Count);
        Assert.Equal(3, withBoth.NextRow);
        Assert.False(double.IsNaN(withBoth.BootstrapIntervals().Accuracy.Low));
    }
}
