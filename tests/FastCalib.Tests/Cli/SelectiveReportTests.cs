using System.Text.Json;
using FastCalib.Tests.Calibration;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>The report's debiased RMS calibration error, with --risk-coverage AURC, E-AURC and AUROC, and with --bootstrap the intervals, through the JSON.</summary>
public sealed class SelectiveReportTests : ToolTest
{
    /// <summary>Probability rows and labels of <see cref="CalibrationTests.ProbabilityData"/>, written as p.npy and y.npy.</summary>
    private (float[] P, int[] Y) WriteProbabilities(int rows, int classes, int seed)
    {
        var (p, y) = CalibrationTests.ProbabilityData(rows, classes, seed);
        File.WriteAllBytes(PathOf("p.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(p)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(y)));
        return (p, y);
    }

    [Fact]
    public void Report_json_has_the_debiased_rmsce_and_the_selective_metrics_of_the_references()
    {
        const int rows = 3000, classes = 10;
        var (p, y) = WriteProbabilities(rows, classes, 17);
        var (code, output, error) = Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--json", "--risk-coverage", "--bins", "12");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;

        var (confidence, correct, _, _) = CalibrationReference.FromProbabilities(p, y, classes);
        Assert.Equal(SelectiveAndDebiasedTests.DebiasedReference(confidence, correct, 12, BinningRule.TorchMetrics), root.GetProperty("rmsce_debiased").GetDouble(), 10);
        double aurc = SelectiveAndDebiasedTests.AurcOverTieOrders(confidence, correct);   // the data holds one tie
        Assert.Equal(aurc, root.GetProperty("aurc").GetDouble(), 10);
        Assert.Equal(aurc - SelectiveAndDebiasedTests.AurcOf(correct.OrderByDescending(c => c).ToList()), root.GetProperty("eaurc").GetDouble(), 10);
        Assert.Equal(SelectiveAndDebiasedTests.AurocByPairs(confidence, correct), root.GetProperty("auroc").GetDouble(), 10);

        var curve = root.GetProperty("risk_coverage");
        Assert.InRange(curve.GetArrayLength(), 2, 200);
        Assert.Equal(1.0, curve[curve.GetArrayLength() - 1].GetProperty("coverage").GetDouble());
        Assert.Equal(1 - correct.Count(c => c) / (double)rows, curve[curve.GetArrayLength() - 1].GetProperty("risk").GetDouble(), 12);

        // without the flag the selective fields are null; the text report names them when asked
        var plain = Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--json");
        using var plainJson = JsonDocument.Parse(plain.Out);
        Assert.Equal(JsonValueKind.Null, plainJson.RootElement.GetProperty("aurc").ValueKind);
        Assert.Contains("AURC", Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--risk-coverage").Out);
    }

    [Fact]
    public void Bootstrap_intervals_in_the_json_are_the_library_s_and_misuse_is_a_usage_error()
    {
        const int rows = 2000, classes = 4;
        var (p, y) = WriteProbabilities(rows, classes, 23);
        var (code, output, error) = Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--json", "--bootstrap", "60", "--ci", "0.8", "--seed", "5");
        Assert.True(code == 0, error);
        var accumulator = new CalibrationAccumulator(15) { Bootstrap = new BootstrapOptions(60, 5) };
        accumulator.AddProbabilities(p, y, classes);
        var expected = accumulator.BootstrapIntervals(0.8);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        void Same(string name, Interval i)
        {
            var pair = root.GetProperty(name);
            Assert.Equal(i.Low, pair[0].GetDouble());
            Assert.Equal(i.High, pair[1].GetDouble());
        }
        Same("ece_ci", expected.Ece);
        Same("accuracy_ci", expected.Accuracy);
        Same("nll_ci", expected.NegativeLogLikelihood);
        Same("brier_ci", expected.Brier);
        Same("rmsce_debiased_ci", expected.RmsceDebiased);
        Assert.Equal(60, root.GetProperty("bootstrap_replicas").GetInt32());
        Assert.Equal(0.8, root.GetProperty("ci_level").GetDouble(), 6);
        var bins = root.GetProperty("bins");
        int filled = Enumerable.Range(0, bins.GetArrayLength()).First(b => bins[b].GetProperty("count").GetInt64() > 100);
        Assert.Equal(expected.BinAccuracy[filled].Low, bins[filled].GetProperty("accuracy_ci")[0].GetDouble());
        var profile = root.GetProperty("overconfidence");
        Assert.Equal(expected.ThresholdCoverage[0].Low, profile[0].GetProperty("coverage_ci")[0].GetDouble());
        Assert.Equal(expected.ThresholdAccuracy[0].High, profile[0].GetProperty("accuracy_ci")[1].GetDouble());
        Assert.Contains("[", Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--bootstrap", "20").Out);
        foreach (var args in new[] { new[] { "--ci", "0.9" }, new[] { "--bootstrap", "0" }, new[] { "--bootstrap", "20", "--ci", "1.5" }, new[] { "--bootstrap", "20", "--seed", "-1" }, new[] { "--bootstrap", "20", "--save-state", PathOf("s.npy") } })
        {
            var bad = Run(["report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), .. args]);
            Assert.True(bad.Code == 2, $"{string.Join(" ", args)}: exit {bad.Code} {bad.Error}");
        }
        Assert.False(File.Exists(PathOf("s.npy")));
    }

    [Fact]
    public void Custom_edges_give_the_library_s_decision_buckets_and_bad_edges_are_usage_errors()
    {
        const int rows = 2500, classes = 3;
        var (p, y) = WriteProbabilities(rows, classes, 29);
        float[] edges = [0f, 0.5f, 0.8f, 0.9f, 0.95f, 1f];
        var (code, output, error) = Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--json", "--edges", "0,0.5,0.8,0.9,0.95,1", "--binning", "sklearn");
        Assert.True(code == 0, error);
        var accumulator = new CalibrationAccumulator(edges, BinningRule.RightClosed);
        accumulator.AddProbabilities(p, y, classes);
        var expected = accumulator.Report();
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(expected.Ece, root.GetProperty("ece").GetDouble());
        Assert.Equal(5, root.GetProperty("bin_count").GetInt32());
        Assert.Equal(0.8, root.GetProperty("bins")[2].GetProperty("lower").GetDouble(), 6);
        Assert.Equal(expected.Bins[3].Count, root.GetProperty("bins")[3].GetProperty("count").GetInt64());
        Assert.Equal(4, root.GetProperty("overconfidence").GetArrayLength());   // the inner edges
        foreach (var args in new[] { new[] { "--edges", "0,0.5,1", "--bins", "2" }, new[] { "--edges", "0.1,1" }, new[] { "--edges", "0,x,1" }, new[] { "--edges", "0,0.6,0.6,1" }, new[] { "--edges", "0,1", "--save-state", PathOf("s.npy") } })
        {
            var bad = Run(["report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), .. args]);
            Assert.True(bad.Code == 2, $"{string.Join(" ", args)}: exit {bad.Code} {bad.Error}");
        }
    }
}
