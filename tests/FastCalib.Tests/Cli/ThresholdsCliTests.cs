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
    public void Thresholds_from_a_histogram_stream_the_files_and_hold_the_library_histograms_result()
    {
        var (scores, labels) = Data();
        var histogram = new ScoreHistogram(256);
        histogram.Add(scores, labels);
        var expected = histogram.Thresholds(0.8, 0.9);
        var exact = BinaryCurves.Thresholds(scores, labels, 0.8, 0.9);
        string[] args = ["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--histogram", "256", "--target-precision", "0.8", "--target-recall", "0.9", "--json"];
        // blocks of 100 rows: 15 of them, read and added one after another
        (int code, string output, string error) result;
        using (TensorRows.LimitBlocks(100)) result = Run(args);
        Assert.True(result.code == 0, result.error);
        var json = JsonDocument.Parse(result.output).RootElement;
        Assert.Equal(Rows, json.GetProperty("n").GetInt32());
        Assert.Equal(256, json.GetProperty("histogram_bins").GetInt32());
        Assert.Equal(expected.Auroc, json.GetProperty("auroc").GetDouble(), 12);
        Assert.Equal(expected.AveragePrecision, json.GetProperty("average_precision").GetDouble(), 12);
        Assert.Equal(histogram.Auroc().ErrorBound, json.GetProperty("auroc_bound").GetDouble(), 12);
        Assert.Equal(histogram.AveragePrecision().ErrorBound, json.GetProperty("average_precision_bound").GetDouble(), 12);
        AssertPoint(expected.Youden, json.GetProperty("youden"));
        AssertPoint(expected.MaxF1, json.GetProperty("max_f1"));
        AssertPoint(expected.TargetPrecision, json.GetProperty("target_precision"));
        AssertPoint(expected.TargetRecall, json.GetProperty("target_recall"));
        // and the exact values within the stated bounds
        Assert.InRange(exact.Auroc, expected.Auroc - json.GetProperty("auroc_bound").GetDouble() - 1e-12, expected.Auroc + json.GetProperty("auroc_bound").GetDouble() + 1e-12);
        Assert.InRange(exact.AveragePrecision, expected.AveragePrecision - json.GetProperty("average_precision_bound").GetDouble() - 1e-12, expected.AveragePrecision + json.GetProperty("average_precision_bound").GetDouble() + 1e-12);

        var (textCode, text, _) = Run(["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--histogram", "256"]);
        Assert.Equal(0, textCode);
        Assert.Contains("of the exact value; 256 bins", text);

        // a score outside [0, 1] in a later block, and a bad label: named by file and row
        var outside = scores.ToArray();
        outside[1234] = 1.5f;
        File.WriteAllBytes(PathOf("s2.npy"), CliTests.Npy("<f4", $"({Rows},)", CliTests.Floats(outside)));
        var badLabels = labels.ToArray();
        badLabels[900] = 2;
        File.WriteAllBytes(PathOf("y3.npy"), CliTests.Npy("<i8", $"({Rows},)", CliTests.Int64s(badLabels)));
        foreach (var (scoresFile, labelsFile, message) in new[]
                 {
                     ("s2.npy", "y.npy", "s2.npy: scores[1234] is 1.5; --histogram takes scores in [0, 1]"),
                     ("s.npy", "y3.npy", "y3.npy: labels[900] is 2; binary labels must be 0 or 1"),
                 })
        {
            using (TensorRows.LimitBlocks(100)) result = Run(["thresholds", "--scores", PathOf(scoresFile), "--labels", PathOf(labelsFile), "--histogram", "64"]);
            Assert.Equal(1, result.code);
            Assert.Contains(message, result.error);
            Assert.Single(result.error.Trim().Split('\n'));
        }
        Assert.Equal(2, Run(["thresholds", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--histogram", "1"]).Code);
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
