using System.Text.Json;
using FastCalib.Cli;
using FastCalib.Tests.Calibration;
using Xunit;
using static FastCalib.Tests.Cli.CliTests;

namespace FastCalib.Tests.Cli;

/// <summary>The command line on the platform's parser: help for every command, --version, suggestions, completion, one rule for exit codes.</summary>
public sealed class CommandLineTests : ToolTest
{
    [Theory]
    [InlineData("report", "--probs", "--logits", "--temperature", "--labels", "--bins", "--binning", "--device", "--unnormalized", "--adaptive", "--json")]
    [InlineData("fit-temperature", "--logits", "--labels", "--bins", "--binning", "--json")]
    [InlineData("plot", "--out", "--width", "--height", "--binning")]
    [InlineData("softmax", "--logits", "--temperature", "--out", "--float64")]
    [InlineData("log-softmax", "--logits", "--temperature", "--out", "--float64")]
    [InlineData("uncertainty", "--probs", "--logits", "--stack", "--logit-stack", "--labels", "--out", "--json")]
    [InlineData("entropy", "--probs", "--out")]
    [InlineData("fft-magnitude", "--images", "--shift", "--log1p", "--standardize", "--clip", "--half")]
    [InlineData("demo", "--rows", "--classes", "--seed", "--train", "--epochs")]
    public void Every_command_has_help_listing_its_options_with_their_meaning(string command, params string[] options)
    {
        var (code, output, error) = Run(command, "--help");
        Assert.True(code == 0, error);
        Assert.Contains($"fastcalib {command} [options]", output);
        foreach (var option in options) Assert.Contains(option, output);
        Assert.Contains("default", output);
        Assert.Empty(error);
    }

    [Fact]
    public void Version_and_top_level_help()
    {
        var (code, output, _) = Run("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^\d+\.\d+\.\d+", output.Trim());
        (code, output, _) = Run("--help");
        Assert.Equal(0, code);
        foreach (var command in new[] { "report", "fit-temperature", "plot", "softmax", "log-softmax", "uncertainty", "entropy", "fft-magnitude", "demo" }) Assert.Contains(command, output);
        Assert.Contains("Exit codes", output);
    }

    [Fact]
    public void Misspelt_options_and_commands_get_a_suggestion_and_exit_2()
    {
        var (code, _, error) = Run("report", "--probs", "p.npy", "--labels", "y.npy", "--bnis", "3");
        Assert.Equal(2, code);
        Assert.Contains("unknown option '--bnis' (did you mean '--bins'?)", error);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        (code, _, error) = Run("reprot");
        Assert.Equal(2, code);
        Assert.Contains("did you mean 'report'?", error);
    }

    [Fact]
    public void Every_usage_mistake_exits_2_whatever_its_value_with_no_exception_text()
    {
        var (p, y) = CalibrationTests.ProbabilityData(30, 3, 1);
        File.WriteAllBytes(PathOf("z.npy"), Npy("<f4", "(30, 3)", Floats(p)));
        File.WriteAllBytes(PathOf("y.npy"), Npy("<i8", "(30,)", Int64s(y)));
        foreach (var args in new[]
                 {
                     new[] { "report", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--temperature", "0" },
                     new[] { "report", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--temperature", "-2" },
                     new[] { "report", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--temperature", "x" },
                     new[] { "softmax", "--logits", PathOf("z.npy"), "--out", PathOf("o.npy"), "--temperature", "1e-45" },
                     new[] { "report", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--binning", "numpy" },
                     new[] { "report", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--bins" },
                     new[] { "entropy", "--probs", PathOf("z.npy") },
                 })
        {
            var (code, _, error) = Run(args);
            Assert.True(code == 2, $"{string.Join(' ', args)}: exit {code}, {error}");
            Assert.StartsWith("fastcalib: ", error);
            Assert.Single(error.TrimEnd('\n').Split('\n'));
            Assert.DoesNotContain("(Parameter", error);
            Assert.DoesNotContain("Actual value", error);
            Assert.DoesNotContain("z.npy", error);   // not blamed on the input file
        }
        Assert.False(File.Exists(PathOf("o.npy")));
    }

    [Theory]
    [InlineData("sklearn", BinningRule.RightClosed, "(0.533, 0.600]")]
    [InlineData("guo", BinningRule.GuoReference, "(0.533, 0.600]")]
    [InlineData("closed-last", BinningRule.ClosedLastBin, "[0.933, 1.000]")]
    [InlineData("torchmetrics", BinningRule.TorchMetrics, "[0.533, 0.600)")]
    public void Binning_rules_are_chosen_by_name_and_match_the_library(string name, BinningRule rule, string interval)
    {
        // confidences on and beside the edges, so that the rules disagree
        var confidence = Enumerable.Range(0, 400).Select(i => i % 3 == 0 ? CalibrationReference.Edge(i % 16, 15) : (i % 97) / 97f).ToArray();
        var p = confidence.SelectMany(c => new[] { c, 1 - c }).ToArray();
        var y = confidence.Select((c, i) => i % 4 == 0 ? 1 : 0).ToArray();
        File.WriteAllBytes(PathOf("p.npy"), Npy("<f4", "(400, 2)", Floats(p)));
        File.WriteAllBytes(PathOf("y.npy"), Npy("<i8", "(400,)", Int64s(y)));
        var (code, output, error) = Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--binning", name, "--json");
        Assert.True(code == 0, error);
        var expected = new CalibrationAccumulator(15, rule);
        expected.AddProbabilities(p, y, 2);
        var root = JsonDocument.Parse(output).RootElement;
        Assert.Equal(expected.Report().Ece, root.GetProperty("ece").GetDouble());
        Assert.Equal(expected.Report().Bins.Select(b => b.Count), root.GetProperty("bins").EnumerateArray().Select(b => b.GetProperty("count").GetInt64()));
        Assert.Contains(interval, Run("report", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--binning", name).Out);
    }

    [Fact]
    public void Tab_completion_answers_the_suggest_directive()
    {
        Assert.Equal(["report"], Run("[suggest]", "fastcalib rep").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["--binary", "--binning", "--bins"], Run("[suggest]", "fastcalib report --bi").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(["closed-last", "guo", "sklearn", "torchmetrics"], Run("[suggest]", "fastcalib report --binning ").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("gpu", Run("[suggest:27]", "fastcalib softmax --device ").Out);
        Assert.Equal(["--device"], Run("[suggest:25]", "fastcalib softmax --device ").Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
