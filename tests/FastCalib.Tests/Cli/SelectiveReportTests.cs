using System.Text.Json;
using FastCalib.Tests.Calibration;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>The report's debiased RMS calibration error and, with --risk-coverage, AURC, E-AURC and AUROC, through the JSON.</summary>
public sealed class SelectiveReportTests : ToolTest
{
    [Fact]
    public void Report_json_has_the_debiased_rmsce_and_the_selective_metrics_of_the_references()
    {
        const int rows = 3000, classes = 10;
        var (p, y) = CalibrationTests.ProbabilityData(rows, classes, 17);
        File.WriteAllBytes(PathOf("p.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(p)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(y)));
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

        // without the flag the selective fields are null; the text report names them when asked
        var plain = Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--json");
        using var plainJson = JsonDocument.Parse(plain.Out);
        Assert.Equal(JsonValueKind.Null, plainJson.RootElement.GetProperty("aurc").ValueKind);
        Assert.Contains("AURC", Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--risk-coverage").Out);
    }
}
