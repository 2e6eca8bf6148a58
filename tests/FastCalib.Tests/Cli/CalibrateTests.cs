using System.Text.Json;
using FastCalib.Cli;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>'fastcalib fit' and 'apply': the saved calibrator is the library's fit, applying it gives the library's probabilities.</summary>
public sealed class CalibrateTests : ToolTest
{
    [Fact]
    public void Fit_saves_the_library_s_calibrator_and_apply_reproduces_its_outputs()
    {
        var random = new Random(4);
        var scores = Enumerable.Range(0, 3_000).Select(_ => (float)(0.01 + 0.98 * random.NextDouble())).ToArray();
        var labels = scores.Select(s => random.NextDouble() < s * s ? 1 : 0).ToArray();
        File.WriteAllBytes(PathOf("s.npy"), CliTests.Npy("<f4", $"({scores.Length},)", CliTests.Floats(scores)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({labels.Length},)", CliTests.Int64s(labels)));
        foreach (var (method, expected) in new (string, BinaryCalibrator)[]
        {
            ("platt", PlattCalibrator.Fit(scores, labels)),
            ("beta", BetaCalibrator.Fit(scores, labels)),
            ("isotonic", IsotonicCalibrator.Fit(scores, labels)),
            ("histogram", HistogramCalibrator.Fit(scores, labels, 7)),
        })
        {
            string[] bins = method == "histogram" ? ["--bins", "7"] : [];
            var fit = Run(["fit", "--method", method, "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), .. bins, "--out", PathOf($"{method}.json"), "--json"]);
            Assert.True(fit.Code == 0, fit.Error);
            Assert.Equal(expected.ToJson(), BinaryCalibrator.FromJson(File.ReadAllText(PathOf($"{method}.json"))).ToJson());
            using var json = JsonDocument.Parse(fit.Out);
            Assert.True(json.RootElement.GetProperty("nll_after").GetDouble() <= json.RootElement.GetProperty("nll_before").GetDouble() + 1e-12);
            var apply = Run("apply", "--calibrator", PathOf($"{method}.json"), "--scores", PathOf("s.npy"), "--out", PathOf($"{method}.npy"));
            Assert.True(apply.Code == 0, apply.Error);
            using var written = ArraySource.Open(PathOf($"{method}.npy"));
            var probabilities = new float[written.Rows];
            written.ReadFloats(probabilities);
            Assert.Equal(expected.Apply(scores), probabilities);
        }

        Assert.Equal(2, Run("fit", "--method", "magic", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
        Assert.False(File.Exists(PathOf("m.json")));
        Assert.Equal(2, Run("fit", "--method", "platt", "--bins", "7", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
        Assert.Equal(1, Run("apply", "--calibrator", PathOf("s.npy"), "--scores", PathOf("s.npy"), "--out", PathOf("x.npy")).Code);
        File.WriteAllBytes(PathOf("bad-y.npy"), CliTests.Npy("<i8", $"({labels.Length},)", CliTests.Int64s(labels.Select(v => v * 2).ToArray())));
        var bad = Run("fit", "--method", "beta", "--scores", PathOf("s.npy"), "--labels", PathOf("bad-y.npy"), "--out", PathOf("b.json"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("bad-y.npy", bad.Error);
        Assert.False(File.Exists(PathOf("b.json")));
    }

    [Fact]
    public void A_temperature_fitted_on_logits_saves_as_json_and_applies_as_the_librarys_softmax()
    {
        var random = new Random(6);
        const int rows = 2_000, classes = 5;
        var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        var logits = Enumerable.Range(0, rows * classes).Select(i => (float)(3 * ((i % classes == labels[i / classes] ? 1.5 : 0) + TestData.Normal(random)))).ToArray();
        File.WriteAllBytes(PathOf("z.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(logits)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels)));
        var expected = TemperatureScaling.Fit(logits, labels, classes);

        var fit = Run("fit", "--method", "temperature", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("t.json"), "--json");
        Assert.True(fit.Code == 0, fit.Error);
        var saved = MulticlassCalibrator.FromJson(File.ReadAllText(PathOf("t.json")));
        var temperature = Assert.IsType<TemperatureCalibrator>(saved).Temperature;
        Assert.Equal(expected.Temperature, temperature, 1e-5f);
        using (var json = JsonDocument.Parse(fit.Out))
        {
            Assert.Equal("temperature", json.RootElement.GetProperty("method").GetString());
            Assert.Equal(expected.NllAfter, json.RootElement.GetProperty("nll_after").GetDouble(), 5);
            Assert.True(json.RootElement.GetProperty("passes").GetInt32() > 0);
            Assert.Equal("temperature", json.RootElement.GetProperty("calibrator").GetProperty("kind").GetString());
        }

        var apply = Run("apply", "--calibrator", PathOf("t.json"), "--logits", PathOf("z.npy"), "--out", PathOf("p.npy"));
        Assert.True(apply.Code == 0, apply.Error);
        using (var written = ArraySource.Open(PathOf("p.npy")))
        {
            Assert.Equal(classes, written.Cols);
            var probabilities = new float[written.Rows * written.Cols];
            written.ReadFloats(probabilities);
            var reference = new float[logits.Length];
            FastCalib.Softmax.Forward(logits, reference, classes, temperature);
            Assert.Equal(reference, probabilities);
        }

        // the wrong input for the calibrator's kind, and a hand-edited temperature, are one-line errors
        var wrong = Run("apply", "--calibrator", PathOf("t.json"), "--scores", PathOf("y.npy"), "--out", PathOf("x.npy"));
        Assert.Equal(1, wrong.Code);
        Assert.Contains("applies to --logits", wrong.Error);
        File.WriteAllText(PathOf("bad.json"), "{\"kind\": \"temperature\", \"Temperature\": -2}");
        var bad = Run("apply", "--calibrator", PathOf("bad.json"), "--logits", PathOf("z.npy"), "--out", PathOf("x.npy"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("greater than 0", bad.Error);
        Assert.False(File.Exists(PathOf("x.npy")));
        Assert.Equal(2, Run("fit", "--method", "platt", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
    }
}
