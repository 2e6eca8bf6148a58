using System.Text;
using System.Text.Json;
using FastCalib.Cli;
using FastCalib.Tests.Calibration;
using Xunit;
using static FastCalib.Tests.Cli.CliTests;

namespace FastCalib.Tests.Cli;

/// <summary>
/// What real models and deliberately bad files did to the tool: each case ends in a correct result or in one line on
/// stderr with exit code 1 or 2, never a crash, a silently wrong answer, invalid JSON or a half-written file. The
/// files are written byte for byte.
/// </summary>
public sealed class HostileInputTests : ToolTest
{
    /// <summary>One line on stderr, the tool's prefix, no stack trace.</summary>
    private static void AssertOneLine(string error)
    {
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("fastcalib: ", error);
        Assert.DoesNotContain("   at ", error);
    }

    private (string P, string Y) Write(float[] p, int[] y, int cols, string name = "p")
    {
        File.WriteAllBytes(PathOf(name + ".npy"), Npy("<f4", $"({y.Length}, {cols})", Floats(p)));
        File.WriteAllBytes(PathOf(name + "-y.npy"), Npy("<i8", $"({y.Length},)", Int64s(y)));
        return (PathOf(name + ".npy"), PathOf(name + "-y.npy"));
    }

    [Fact]
    public void A_header_that_promises_more_than_the_file_holds_is_an_error_before_anything_is_allocated()
    {
        var (_, labels) = Write([0.5f, 0.5f], [0], 2);
        var cases = new (string Shape, string Message)[]
        {
            ("(1, 2147483647)", "rows must hold between 1 and 67,108,864"),
            ("(1, 60000000)", "promises"),
            ("(3, 1073741824)", "rows must hold between 1"),
            ("(1099511627776, 1099511627776)", "more values than 64-bit sizes can count"),
            ("(600000000, 1)", "promises"),
        };
        foreach (var (shape, message) in cases)
        {
            File.WriteAllBytes(PathOf("claims.npy"), Npy("<f4", shape, new byte[900]));
            foreach (var args in new[]
                     {
                         new[] { "report", "--probs", PathOf("claims.npy"), "--labels", labels },
                         new[] { "softmax", "--logits", PathOf("claims.npy"), "--out", PathOf("o.npy") },
                         new[] { "entropy", "--probs", PathOf("claims.npy"), "--out", PathOf("o.npy") },
                     })
            {
                var (code, _, error) = Run(args);
                Assert.True(code == 1, $"{shape} {args[0]}: exit {code}: {error}");
                Assert.Contains(message, error);
                AssertOneLine(error);
                Assert.False(File.Exists(PathOf("o.npy")));
            }
        }
        Assert.Equal(2, Run("demo", "--rows", "2000000000").Code);
        Assert.Contains("at most 268,435,456", Run("demo", "--rows", "100000000", "--classes", "10").Error);
    }

    [Fact]
    public void Bin_counts_up_to_the_maximum_work_and_beyond_it_are_usage_errors()
    {
        var (p, y) = CalibrationTests.ProbabilityData(4000, 5, 3);
        var (probs, labels) = Write(p, y, 5);
        var (code, output, error) = Run("report", "--probs", probs, "--labels", labels, "--bins", "1000000", "--json");
        Assert.True(code == 0, error);
        Assert.Equal(4000, JsonDocument.Parse(output).RootElement.GetProperty("n").GetInt64());
        foreach (string bins in new[] { "1000001", "2000000000" })
        {
            (code, _, error) = Run("report", "--probs", probs, "--labels", labels, "--bins", bins);
            Assert.Equal(2, code);
            Assert.Contains("--bins needs an integer from 1 to 1,000,000", error);
        }
    }

    [Fact]
    public void A_huge_plot_is_a_usage_error_and_writes_nothing()
    {
        var (p, y) = CalibrationTests.ProbabilityData(100, 3, 1);
        var (probs, labels) = Write(p, y, 3);
        var (code, _, error) = Run("plot", "--probs", probs, "--labels", labels, "--out", PathOf("big.png"), "--width", "100000", "--height", "100000");
        Assert.Equal(2, code);
        Assert.Contains("--width needs an integer from 100 to 10,000", error);
        Assert.False(File.Exists(PathOf("big.png")));
    }

    [Fact]
    public void Probability_rows_must_sum_to_one_as_entropy_requires_unless_declared_unnormalized()
    {
        var (p, y) = CalibrationTests.ProbabilityData(300, 4, 9);
        foreach (float scale in new[] { 1.3f, 0.5f })
        {
            var scaled = p.Select((v, i) => i / 4 == 120 ? v * scale : v).ToArray();   // one row off
            var (probs, labels) = Write(scaled, y, 4, $"scaled{scale}");
            var (code, _, error) = Run("report", "--probs", probs, "--labels", labels);
            Assert.Equal(1, code);
            Assert.Contains("row 120 is not a probability distribution", error);
            Assert.Contains(Path.GetFileName(probs), error);
            AssertOneLine(error);
            Assert.Equal(1, Run("entropy", "--probs", probs, "--out", PathOf("h.npy")).Code);   // the same file, the same verdict
            Assert.Equal(1, Run("plot", "--probs", probs, "--labels", labels, "--out", PathOf("d.svg")).Code);
            (code, _, error) = Run("report", "--probs", probs, "--labels", labels, "--unnormalized");
            Assert.True(code == 0, error);
        }
        // sigmoid outputs of a multi-label model: every entry in [0, 1], rows far from summing to 1
        var sigmoid = p.Select(v => 1 / (1 + MathF.Exp(-8 * (v - 0.2f)))).ToArray();
        var (s, sy) = Write(sigmoid, y, 4, "sigmoid");
        Assert.Contains("is not a probability distribution", Run("report", "--probs", s, "--labels", sy).Error);
        Assert.Equal(0, Run("report", "--probs", s, "--labels", sy, "--unnormalized").Code);
        Assert.Equal(2, Run("report", "--logits", s, "--labels", sy, "--unnormalized").Code);
    }

    [Fact]
    public void Empty_inputs_are_errors_not_reports_of_NaN()
    {
        File.WriteAllBytes(PathOf("e.npy"), Npy("<f4", "(0, 5)", []));
        File.WriteAllBytes(PathOf("ey.npy"), Npy("<i8", "(0,)", []));
        foreach (var args in new[]
                 {
                     new[] { "report", "--probs", PathOf("e.npy"), "--labels", PathOf("ey.npy"), "--json" },
                     new[] { "fit-temperature", "--logits", PathOf("e.npy"), "--labels", PathOf("ey.npy") },
                     new[] { "plot", "--probs", PathOf("e.npy"), "--labels", PathOf("ey.npy"), "--out", PathOf("e.png") },
                 })
        {
            var (code, output, error) = Run(args);
            Assert.True(code == 1, $"{args[0]}: exit {code}, {output}");
            Assert.Contains("has no rows", error);
            AssertOneLine(error);
        }
        Assert.False(File.Exists(PathOf("e.png")));
    }

    [Fact]
    public void Json_stays_valid_when_a_label_has_probability_zero()
    {
        // a Gaussian-naive-Bayes-like model: many confidences of exactly 1, one true label at probability 0
        var p = new float[] { 1, 0, 0, 1, 0, 1, 0.3f, 0.7f, 1, 0 };
        var y = new[] { 0, 0, 1, 1, 0 };   // row 1 puts probability 0 on its label: NLL +∞
        var (probs, labels) = Write(p, y, 2);
        var (code, output, error) = Run("report", "--probs", probs, "--labels", labels, "--json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output, new JsonDocumentOptions { AllowTrailingCommas = false });
        var root = json.RootElement;
        Assert.Equal(JsonValueKind.Null, root.GetProperty("nll").ValueKind);
        Assert.True(root.GetProperty("nll_infinite").GetBoolean());
        Assert.Equal(JsonValueKind.Number, root.GetProperty("ece").ValueKind);
        Assert.DoesNotContain("Infinity", output);
        Assert.DoesNotContain("NaN", output);
        var text = Run("report", "--probs", probs, "--labels", labels).Out;
        Assert.Contains("exactly 1.000", text);   // the bin of confidence exactly 1.0, not "[1.000, 1.000)"
        Assert.DoesNotContain("[1.000, 1.000)", text);
    }

    [Fact]
    public void A_failed_command_leaves_no_half_written_output()
    {
        // NaN logits in the last of several chunks: the header and the first chunks were already produced
        int rows = (1 << 24) / 4 + 10, cols = 4;
        var z = new float[rows * cols];
        z[^1] = float.NaN;
        File.WriteAllBytes(PathOf("z.npy"), Npy("<f4", $"({rows}, {cols})", Floats(z)));
        var (code, output, error) = Run("softmax", "--logits", PathOf("z.npy"), "--out", PathOf("p.npy"));
        Assert.Equal(1, code);
        Assert.Contains($"row {rows - 1} has NaN", error);
        Assert.Empty(output);   // no "wrote ..."
        Assert.False(File.Exists(PathOf("p.npy")));
        Assert.Empty(Directory.GetFiles(PathOf(""), "*.tmp"));

        // a previous good output stays as it was
        File.WriteAllText(PathOf("keep.npy"), "previous");
        Assert.Equal(1, Run("softmax", "--logits", PathOf("z.npy"), "--out", PathOf("keep.npy")).Code);
        Assert.Equal("previous", File.ReadAllText(PathOf("keep.npy")));

        // an output nobody can write: one line naming the option
        File.WriteAllBytes(PathOf("small.npy"), Npy("<f4", "(2, 2)", Floats([1, 2, 3, 4])));
        (code, output, error) = Run("softmax", "--logits", PathOf("small.npy"), "--out", PathOf(Path.Combine("no-such-dir", "p.npy")));
        Assert.Equal(1, code);
        Assert.Contains("--out", error);
        AssertOneLine(error);
        if (File.Exists("/dev/full"))
        {
            (code, output, error) = Run("softmax", "--logits", PathOf("small.npy"), "--out", "/dev/full");
            Assert.Equal(1, code);
            Assert.Contains("--out /dev/full", error);
            Assert.Empty(output);
        }
    }

    [Fact]
    public void Messages_name_the_file_at_fault_and_say_what_is_wrong()
    {
        var (p, y) = CalibrationTests.ProbabilityData(50, 4, 2);
        var (probs, labels) = Write(p, y, 4);
        File.WriteAllBytes(PathOf("bad-labels.npy"), Npy("<i8", "(50,)", Int64s(y.Select((v, i) => i == 30 ? 5 : v).ToArray())));
        var error = Run("report", "--probs", probs, "--labels", PathOf("bad-labels.npy")).Error;
        Assert.Contains("bad-labels.npy: labels[30] is 5", error);
        Assert.DoesNotContain("p.npy", error);

        var huge = new byte[50 * 8];
        for (int i = 0; i < 50; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(huge.AsSpan(i * 8), i == 7 ? 1L << 40 : y[i]);
        File.WriteAllBytes(PathOf("huge-labels.npy"), Npy("<i8", "(50,)", huge));
        Assert.Contains("1099511627776 at position 7 is not a label: labels are class indices", Run("report", "--probs", probs, "--labels", PathOf("huge-labels.npy")).Error);

        File.WriteAllBytes(PathOf("objects.npy"), Npy("|O", "(50, 4)", new byte[50 * 4 * 8]));
        Assert.Contains("holds Python objects", Run("report", "--probs", PathOf("objects.npy"), "--labels", labels).Error);
    }

    [Fact]
    public void A_saturated_input_draws_the_bar_of_confidence_one_and_its_count()
    {
        // 437 predictions of confidence exactly 1.0 (300 right) and 53 at 0.7: the 1.0 bin is most of the data
        var p = new List<float>();
        var y = new List<int>();
        for (int i = 0; i < 437; i++) { p.AddRange([1f, 0f]); y.Add(i < 300 ? 0 : 1); }
        for (int i = 0; i < 53; i++) { p.AddRange([0.7f, 0.3f]); y.Add(0); }
        var (probs, labels) = Write(p.ToArray(), y.ToArray(), 2);
        var (code, _, error) = Run("plot", "--probs", probs, "--labels", labels, "--out", PathOf("d.svg"));
        Assert.True(code == 0, error);
        var texts = Texts(PathOf("d.svg"));
        Assert.Contains("437", texts);    // the count above the bar of confidences exactly 1.0
        Assert.Contains("53", texts);
        Assert.True(texts.Count(t => t == "= 1") >= 2, "the bar's label under it, in both panels");
        Assert.Contains("perfect calibration", texts);
        Assert.Contains("gap: overconfident", texts);

        // with bootstrap intervals: whiskers (three more lines a bin), the legend and the ECE's interval in the title
        Assert.Equal(0, Run("plot", "--probs", probs, "--labels", labels, "--out", PathOf("ci.svg"), "--bootstrap", "50").Code);
        var withIntervals = Texts(PathOf("ci.svg"));
        Assert.Contains(withIntervals, t => t.StartsWith("accuracy, 95% bootstrap interval (50 replicas)"));
        Assert.Contains(withIntervals, t => t.Contains("ECE") && t.Contains("["));
        int Lines(string file) => System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(PathOf(file)), "<(path|line|polyline)").Count;
        Assert.True(Lines("ci.svg") >= Lines("d.svg") + 2 * 3, $"{Lines("ci.svg")} drawing elements with whiskers, {Lines("d.svg")} without");

        // with --risk-coverage: a third panel with the curve and its AURC
        Assert.Equal(0, Run("plot", "--probs", probs, "--labels", labels, "--out", PathOf("rc.svg"), "--risk-coverage").Code);
        var rcTexts = Texts(PathOf("rc.svg"));
        Assert.Contains(rcTexts, t => t.StartsWith("Risk–coverage") && t.Contains("AURC"));
        Assert.Contains(rcTexts, t => t.StartsWith("coverage (share of predictions kept"));

        // only saturated predictions: still a picture with that bar, not an empty plot
        var (ps, ys) = Write(Enumerable.Repeat(new[] { 1f, 0f }, 23).SelectMany(r => r).ToArray(), Enumerable.Repeat(0, 23).ToArray(), 2, "all-one");
        Assert.Equal(0, Run("plot", "--probs", ps, "--labels", ys, "--out", PathOf("one.svg")).Code);
        Assert.Contains("23", Texts(PathOf("one.svg")));
    }

    /// <summary>The text elements of an SVG file, trimmed.</summary>
    private static List<string> Texts(string path) =>
        System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(path, Encoding.UTF8), "<text[^>]*>([^<]*)</text>")
            .Select(m => m.Groups[1].Value.Trim()).ToList();
}
