using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibration;

/// <summary>Classwise and adaptive calibration, and feeding an accumulator from device views.</summary>
public class MoreCalibrationTests
{
    [Fact]
    public void Classwise_matches_the_per_class_reference_and_merges()
    {
        var (p, labels) = CalibrationTests.ProbabilityData(3000, 7, 11);
        var classwise = new ClasswiseCalibration(7, bins: 10);
        classwise.AddProbabilities(p, labels);
        var r = classwise.Report();
        double meanEce = 0, maxMce = 0;
        for (int j = 0; j < 7; j++)
        {
            var column = Enumerable.Range(0, labels.Length).Select(i => p[i * 7 + j]).ToArray();
            var outcome = labels.Select(y => y == j).ToArray();
            var expected = CalibrationReference.Compute(column, outcome, 10, BinningRule.TorchMetrics);
            Assert.Equal(expected.Counts, r.PerClass[j].Bins.Select(b => b.Count).ToArray());
            Assert.Equal(expected.Ece, r.PerClass[j].Ece, 1e-12);
            meanEce += expected.Ece / 7;
            maxMce = Math.Max(maxMce, expected.Mce);
        }
        Assert.Equal(meanEce, r.Ece, 1e-12);
        Assert.Equal(maxMce, r.Mce, 1e-12);

        var halves = new ClasswiseCalibration(7, bins: 10);
        var other = new ClasswiseCalibration(7, bins: 10);
        halves.AddProbabilities(p.AsSpan(0, 1000 * 7), labels.AsSpan(0, 1000));
        other.AddProbabilities(p.AsSpan(1000 * 7), labels.AsSpan(1000));
        halves.Merge(other);
        Assert.Equal(r.Ece, halves.Report().Ece);
    }

    [Fact]
    public void Classwise_rejects_bad_input_and_stays_unchanged()
    {
        var classwise = new ClasswiseCalibration(2, bins: 4);
        classwise.AddProbabilities([0.3f, 0.7f], [1]);
        double before = classwise.Report().Ece;
        Assert.Throws<ArgumentException>(() => classwise.AddProbabilities([0.3f, 1.7f], [1]));
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => classwise.AddProbabilities([0.3f, 0.7f], [2])).ParamName);
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => classwise.AddProbabilities([0.3f, 0.7f, 0.1f], [1])).ParamName);
        Assert.Equal(before, classwise.Report().Ece);
        Assert.Equal(1, classwise.Report().PerClass[0].Count);
    }

    /// <summary>
    /// By hand: confidences 0.1 .. 0.6 with outcomes F F T F T T in 3 equal-mass bins of two: {0.1, 0.2} (mean 0.15,
    /// accuracy 0, gap 0.15), {0.3, 0.4} (0.35 vs 0.5, gap 0.15), {0.5, 0.6} (0.55 vs 1, gap 0.45):
    /// ECE = (0.15 + 0.15 + 0.45) / 3 = 0.25, MCE = 0.45. The input is shuffled first: order must not matter.
    /// </summary>
    [Fact]
    public void Adaptive_bins_by_hand()
    {
        float[] c = [0.5f, 0.1f, 0.4f, 0.6f, 0.2f, 0.3f];
        bool[] ok = [true, false, false, true, false, true];
        var r = AdaptiveCalibration.Compute(c, ok, bins: 3);
        Assert.Equal(0.25, r.Ece, 6);
        Assert.Equal(0.45, r.Mce, 6);
        Assert.Equal(new long[] { 2, 2, 2 }, r.Bins.Select(b => b.Count).ToArray());
        Assert.Equal(0.1, r.Bins[0].Lower, 6);
        Assert.Equal(0.2, r.Bins[0].Upper, 6);
        // 7 predictions in 3 bins: sizes 3, 2, 2; more bins than predictions: one per prediction
        Assert.Equal(new long[] { 3, 2, 2 }, AdaptiveCalibration.Compute([.1f, .2f, .3f, .4f, .5f, .6f, .7f], new bool[7], 3).Bins.Select(b => b.Count).ToArray());
        Assert.Equal(2, AdaptiveCalibration.Compute([.1f, .9f], [false, true], 10).Bins.Count);
        Assert.True(double.IsNaN(AdaptiveCalibration.Compute([], [], 5).Ece));
        Assert.Equal("confidence", Assert.Throws<ArgumentException>(() => AdaptiveCalibration.Compute([1.5f], [true], 5)).ParamName);
        Assert.Equal("bins", Assert.Throws<ArgumentOutOfRangeException>(() => AdaptiveCalibration.Compute([0.5f], [true], 0)).ParamName);
    }

    public static IEnumerable<object[]> Accelerators() => new[] { new object[] { "ilgpu-cpu" }, new object[] { "cuda" } };

    [SkippableTheory]
    [MemberData(nameof(Accelerators))]
    public void Device_views_give_the_host_result(string name)
    {
        var maybe = Paths.Device(name);
        Skip.If(maybe is null, Paths.NoCuda);
        var accelerator = maybe!;
        var (p, labels) = CalibrationTests.ProbabilityData(2000, 10, 3);
        var host = new CalibrationAccumulator();
        host.AddProbabilities(p, labels, 10, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
        var device = new CalibrationAccumulator();
        using var dp = accelerator.Allocate1D(p);
        using var dy = accelerator.Allocate1D(labels);
        device.AddProbabilities(accelerator.DefaultStream, dp.View, dy.View, 10);
        CalibrationPropertyTests.AssertIdentical(host.Report(), device.Report());

        var hostLogits = new CalibrationAccumulator();
        var deviceLogits = new CalibrationAccumulator();
        hostLogits.AddLogits(p, labels, 10, 0.5f, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator });
        deviceLogits.AddLogits(accelerator.DefaultStream, dp.View, dy.View, 10, 0.5f);
        CalibrationPropertyTests.AssertIdentical(hostLogits.Report(), deviceLogits.Report());

        // many bins do not fit the device's shared-memory histogram and are binned on the host: same result
        var manyHost = new CalibrationAccumulator(100);
        var manyDevice = new CalibrationAccumulator(100);
        manyHost.AddProbabilities(p, labels, 10);
        manyDevice.AddProbabilities(accelerator.DefaultStream, dp.View, dy.View, 10);
        CalibrationPropertyTests.AssertSame(manyHost.Report(), manyDevice.Report());
        // the device binning finds invalid rows too, and adds nothing then
        var withNaN = (float[])p.Clone();
        withNaN[1234 * 10 + 3] = float.NaN;
        using var dNaN = accelerator.Allocate1D(withNaN);
        long before = device.Count;
        Assert.Contains("row 1234", Assert.Throws<ArgumentException>(() => device.AddProbabilities(accelerator.DefaultStream, dNaN.View, dy.View, 10)).Message);
        Assert.Equal(before, device.Count);

        using var bad = accelerator.Allocate1D(new[] { 10 });
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => device.AddProbabilities(accelerator.DefaultStream, dp.View.SubView(0, 10), bad.View, 10)).ParamName);
    }
}
