using System.Text.Json;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>fastcalib thresholds and report --binary: the library's numbers for the same files; one-line errors.</summary>
public sealed class ThresholdsCliTests : ToolTest
{
    private const int Rows = 1500;

    /// <summary>Scores of a detector, positives scored higher on average, rounded to 3 decimals so that ties occur.</summary>
    private (float[] Scores, int[] Labels) Data()
    {
        var random = new Random(9);
        var labels = Enumerable.Range(0, Rows).Select(_ => random.NextDouble() < 0.3 ? 1 : 0).ToArray();
        var scores = labels.Select(y => (float)Math.Round(Math.Clamp((y == 1 ? 0.65 : 0.4) + 0.2 * TestData.Normal(random), 0, 1), 3)).ToArray();
        File.WriteAllBytes(PathOf("s.npy"), CliTests.Npy("<f4", $"({Rows},)", CliTests.Floats(scores)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({Rows},)", CliTests.Int64s(labels)));
        return (scores, labels);
    }

    private static void AssertPoint(OperatingPoint? expected, JsonElement actual)
    {
        if (expected is not { } p)
        {
            Assert.Equal(JsonValueKind.Null, actual.ValueKind);
            return;
        }
        Assert.Equal((float)p.Threshold, actual.GetProperty("threshold").GetSingle());
        Assert.Equal(p.Precision, actual.GetProperty("precision").GetDouble(), 12);
        Assert.Equal(p.Recall, actual.GetProperty("recall").GetDouble(), 12);
        Assert.Equal(p.FalsePositiveRate, actual.GetProperty("fpr").GetDouble(), 12);
    }

    [Fact]
    public void Thresholds_json_holds_the_library_result()
    {
        var (scores, labels) = Data();
        var expected = BinaryCurves.Thresholds(scores, labels, 0.8, 0.9);
        var (code, output, error) = Run(["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--target-precision", "0.8", "--target-recall", "0.9", "--json"]);
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(Rows, json.GetProperty("n").GetInt32());
        Assert.Equal(expected.Auroc, json.GetProperty("auroc").GetDouble(), 12);
        Assert.Equal(expected.AveragePrecision, json.GetProperty("average_precision").GetDouble(), 12);
        AssertPoint(expected.Youden, json.GetProperty("youden"));
        AssertPoint(expected.MaxF1, json.GetProperty("max_f1"));
        AssertPoint(expected.TargetPrecision, json.GetProperty("target_precision"));
        AssertPoint(expected.TargetRecall, json.GetProperty("target_recall"));
        Assert.NotNull(expected.TargetPrecision);

        var (textCode, text, _) = Run(["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy")]);
        Assert.Equal(0, textCode);
        Assert.Contains($"AUROC              {expected.Auroc:F4}", text);
        Assert.Contains("largest Youden's J", text);
    }

    [Fact]
    public void Report_binary_is_the_accumulators_binary_report()
    {
        var (scores, labels) = Data();
        var expected = new CalibrationAccumulator(15);
        expected.AddBinary(scores, labels);
        var report = expected.Report();
        var (code, output, error) = Run(["report", "--binary", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--json"]);
        Assert.True(code == 0, error);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(report.Ece, json.GetProperty("ece").GetDouble(), 12);
        Assert.Equal(report.Brier, json.GetProperty("brier").GetDouble(), 12);
        Assert.Equal(report.Accuracy, json.GetProperty("accuracy").GetDouble(), 12);
    }

    [Theory]
    [InlineData("--roc", "roc.png")]
    [InlineData("--pr", "pr.svg")]
    [InlineData("--roc --pr", "both.png")]
    public void Plot_draws_the_roc_and_precision_recall_curves(string flags, string name)
    {
        Data();
        var (code, output, error) = Run(["plot", .. flags.Split(' '), "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--out", PathOf(name), "--width", "640", "--height", "500"]);
        Assert.True(code == 0, error);
        Assert.Contains($"wrote {PathOf(name)} (640 x 500)", output);
        var bytes = File.ReadAllBytes(PathOf(name));
        if (name.EndsWith(".png"))
        {
            Assert.Equal((byte)'P', bytes[1]);
            Assert.Equal(640, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
            Assert.Equal(500, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        }
        else Assert.Contains("<svg", System.Text.Encoding.UTF8.GetString(bytes));
        var (bad, _, badError) = Run(["plot", "--roc", "--probs", PathOf("s.npy"), "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("x.png")]);
        Assert.Equal(2, bad);
        Assert.Contains("--probs does not go with --roc or --pr", badError);
    }

    [Fact]
    public void Bad_labels_and_mixed_options_get_one_line_errors()
    {
        Data();
        File.WriteAllBytes(PathOf("y2.npy"), CliTests.Npy("<i8", "(1500,)", CliTests.Int64s(Enumerable.Range(0, Rows).Select(i => i == 7 ? 2 : 0).ToArray())));
        foreach (var (args, code, message) in new (string[], int, string)[]
                 {
                     (["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y2.npy")], 1, "y2.npy: labels[7] is 2; binary labels must be 0 or 1"),
                     (["report", "--binary", "--scores", PathOf("s.npy"), "--labels", PathOf("y2.npy")], 1, "y2.npy: target[7] is 2"),
                     (["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--target-precision", "1.5"], 2, "--target-precision needs a number from 0 to 1"),
                     (["report", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy")], 2, "--scores goes with --binary"),
                     (["report", "--binary", "--scores", PathOf("s.npy"), "--probs", PathOf("s.npy"), "--labels", PathOf("y.npy")], 2, "--probs does not go with --binary"),
                 })
        {
            var (actual, _, error) = Run(args);
            Assert.Equal(code, actual);
            Assert.Contains(message, error);
            Assert.Single(error.Trim().Split('\n'));
        }
    }
}
