using FastCalib.Cli;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>The main job runs on its embedded input, prints the report, and its numbers agree with the library.</summary>
public class DemoTests
{
    [Fact]
    public void Demo_prints_the_calibration_report()
    {
        var options = new Options(Rows: 5000, Classes: 7, Seed: 3);
        var output = new StringWriter();
        Assert.Equal(0, Demo.Run(options, output));
        string text = output.ToString();
        Assert.Contains("ECE", text);
        Assert.Contains("reliability at temperature 1", text);
        Assert.Contains("confidence >= 0.95", text);
        Assert.Contains("fitted temperature: T* = ", text);

        // the T = 1 line carries the accumulator's own ECE
        var (logits, labels) = Demo.Synthesize(options);
        var calibration = new CalibrationAccumulator(15);
        calibration.AddLogits(logits, labels, 7, 1f);
        Assert.Contains($"{calibration.Report().Ece,6:F4}", text.Split('\n').Single(l => l.TrimStart().StartsWith("1.00")));
    }

    [Theory]
    [InlineData("--rows", "0")]
    [InlineData("--classes", "1")]
    [InlineData("--rows", "x")]
    [InlineData("--bogus", "1")]
    public void Bad_options_are_one_clear_error(string flag, string value)
    {
        Assert.Throws<ArgumentException>(() => Options.Parse([flag, value]));
    }
}
