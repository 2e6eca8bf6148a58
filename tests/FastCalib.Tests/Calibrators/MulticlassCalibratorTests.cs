using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>The temperature calibrator: its fit is TemperatureScaling's, its outputs softmax(z / T), and JSON round-trips it exactly.</summary>
public class MulticlassCalibratorTests
{
    [Fact]
    public void Saved_and_loaded_it_gives_the_same_probabilities_as_softmax_at_its_temperature()
    {
        var random = new Random(2);
        const int rows = 500, classes = 4;
        var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        var logits = Enumerable.Range(0, rows * classes).Select(i => (float)(4 * ((i % classes == labels[i / classes] ? 1 : 0) + TestData.Normal(random)))).ToArray();
        var calibrator = TemperatureCalibrator.Fit(logits, labels, classes);
        Assert.Equal(TemperatureScaling.Fit(logits, labels, classes).Temperature, calibrator.Temperature);
        var loaded = MulticlassCalibrator.FromJson(calibrator.ToJson());
        Assert.Equal(calibrator, loaded);
        Assert.Contains("\"kind\": \"temperature\"", calibrator.ToJson());
        var fromLoaded = new float[logits.Length];
        loaded.Apply(logits, fromLoaded, classes);
        var reference = new float[logits.Length];
        FastCalib.Softmax.Forward(logits, reference, classes, calibrator.Temperature);
        Assert.Equal(reference, fromLoaded);
        // in place
        var inPlace = logits.ToArray();
        calibrator.Apply(inPlace, inPlace, classes);
        Assert.Equal(reference, inPlace);
    }

    [Theory]
    [InlineData("{\"kind\": \"temperature\", \"Temperature\": 0}", "greater than 0")]
    [InlineData("{\"kind\": \"temperature\", \"Temperature\": \"NaN\"}", "not a saved calibrator")]
    [InlineData("{\"kind\": \"spline\"}", "not a saved calibrator")]
    [InlineData("[1, 2]", "not a saved calibrator")]
    public void Files_that_are_not_valid_calibrators_are_refused(string json, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => MulticlassCalibrator.FromJson(json));
        Assert.Equal("json", e.ParamName);
        Assert.Contains(message, e.Message);
    }
}
