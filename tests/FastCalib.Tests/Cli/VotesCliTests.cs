using System.Text.Json;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>fastcalib report --votes: sampled answers give the library's AddVotes report; bad files get one-line errors.</summary>
public sealed class VotesCliTests : ToolTest
{
    private const int Rows = 900, Samples = 5;

    /// <summary>Answers that agree with the label more often than not, a tenth of them outside the classes (-1).</summary>
    private static (int[] Answers, int[] Labels) Data()
    {
        var random = new Random(3);
        var labels = Enumerable.Range(0, Rows).Select(_ => random.Next(4)).ToArray();
        var answers = Enumerable.Range(0, Rows * Samples).Select(i =>
            random.Next(10) == 0 ? -1 : random.NextDouble() < 0.6 ? labels[i / Samples] : random.Next(4)).ToArray();
        return (answers, labels);
    }

    private void Save(string name, string shape, int[] values) =>
        File.WriteAllBytes(PathOf(name), CliTests.Npy("<i8", shape, CliTests.Int64s(values)));

    [Fact]
    public void Votes_give_the_report_of_the_library_fed_the_same_answers()
    {
        var (answers, labels) = Data();
        Save("v.npy", $"({Rows}, {Samples})", answers);
        Save("y.npy", $"({Rows},)", labels);
        var expected = new CalibrationAccumulator(10);
        expected.AddVotes(answers, labels, Samples);
        var report = expected.Report();

        var (code, output, error) = Run(["report", "--votes", PathOf("v.npy"), "--labels", PathOf("y.npy"), "--bins", "10", "--json"]);
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(report.Count, json.GetProperty("n").GetInt64());
        Assert.Equal(report.Ece, json.GetProperty("ece").GetDouble(), 12);
        Assert.Equal(report.Accuracy, json.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal(report.MeanConfidence, json.GetProperty("mean_confidence").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("nll").ValueKind);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("brier").ValueKind);

        var (textCode, text, _) = Run(["report", "--votes", PathOf("v.npy"), "--labels", PathOf("y.npy"), "--adaptive", "--risk-coverage"]);
        Assert.Equal(0, textCode);
        Assert.Contains($"ECE              {report.Ece:F4}", text);
        Assert.Contains("NLL, Brier       - (confidences without probabilities)", text);
        Assert.DoesNotContain("NaN", text);
        Assert.Contains("AURC", text);

        var (plotCode, _, plotError) = Run(["plot", "--votes", PathOf("v.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("r.svg")]);
        Assert.True(plotCode == 0, plotError);
        Assert.True(new FileInfo(PathOf("r.svg")).Length > 0);
    }

    [Fact]
    public void Bad_votes_and_mixed_inputs_get_one_line_errors()
    {
        Save("v.npy", "(3, 2)", [0, 1, 2, -2, 1, 1]);
        Save("ok.npy", "(3, 2)", [0, 1, 2, 2, 1, 1]);
        Save("y.npy", "(3,)", [0, 1, 1]);
        Save("yneg.npy", "(3,)", [0, -1, 1]);
        Save("y2.npy", "(2,)", [0, 1]);
        File.WriteAllBytes(PathOf("p.npy"), CliTests.Npy("<f4", "(3, 2)", CliTests.Floats([0.5f, 0.5f, 1, 0, 0, 1])));

        AssertError(Run(["report", "--votes", PathOf("v.npy"), "--labels", PathOf("y.npy")]), 1, "v.npy: answers[1, 1] is -2");
        AssertError(Run(["report", "--votes", PathOf("ok.npy"), "--labels", PathOf("yneg.npy")]), 1, "yneg.npy: labels[1] is -1");
        AssertError(Run(["report", "--votes", PathOf("ok.npy"), "--labels", PathOf("y2.npy")]), 1, "y2.npy: 2 labels for 3 rows");
        AssertError(Run(["report", "--votes", PathOf("ok.npy"), "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy")]), 2, "exactly one of --probs, --logits and --votes");
        AssertError(Run(["report", "--votes", PathOf("ok.npy"), "--labels", PathOf("y.npy"), "--temperature", "2"]), 2, "--temperature applies to --logits");
    }

    private static void AssertError((int Code, string Output, string Error) result, int code, string message)
    {
        Assert.Equal(code, result.Code);
        Assert.Contains(message, result.Error);
        Assert.Single(result.Error.Trim().Split('\n'));
    }
}
