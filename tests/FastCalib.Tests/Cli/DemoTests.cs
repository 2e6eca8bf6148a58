using FastCalib.Cli;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>The main job's numbers agree with the library; its options are checked.</summary>
public class DemoTests
{
    [Fact]
    public void Demo_reports_what_the_library_computes()
    {
        var dir = Directory.CreateTempSubdirectory("fastcalib-demo-").FullName;
        var options = new Options(Rows: 5000, Classes: 7, Seed: 3, OutDir: dir);
        var output = new StringWriter();
        Assert.Equal(0, Demo.Run(options, output));
        string text = output.ToString();
        var (logits, labels) = Demo.Synthesize(options);
        var calibration = new CalibrationAccumulator(15);
        calibration.AddLogits(logits, labels, 7, 1f);
        Assert.Contains($"ECE              {calibration.Report().Ece:F4}", text);
        Assert.Contains($"T* = {TemperatureScaling.Fit(logits, labels, 7).Temperature:F4}", text);
        Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("--rows", "0")]
    [InlineData("--classes", "1")]
    [InlineData("--rows", "x")]
    [InlineData("--bogus", "1")]
    public void Bad_options_are_usage_errors(string flag, string value)
    {
        var error = new StringWriter();
        Assert.Equal(2, Program.Run(["demo", flag, value], new StringWriter(), error));
        Assert.StartsWith("fastcalib: ", error.ToString());
        Assert.Single(error.ToString().TrimEnd('\n').Split('\n'));
    }
}
