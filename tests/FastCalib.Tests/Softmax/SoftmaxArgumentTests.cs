using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Softmax;

using Softmax = FastCalib.Softmax;

/// <summary>Bad input is rejected before any kernel runs, with the argument named.</summary>
public class SoftmaxArgumentTests
{
    private static readonly float[] Six = [1, 2, 3, 4, 5, 6];

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Classes_must_be_positive(int classes)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Forward(Six, new float[6], classes));
        Assert.Equal("classes", e.ParamName);
        Assert.Contains("at least 1", e.Message);
    }

    [Fact]
    public void Length_must_be_whole_rows()
    {
        var e = Assert.Throws<ArgumentException>(() => Softmax.Forward(Six, new float[6], 4));
        Assert.Equal("logits", e.ParamName);
        Assert.Contains("6 elements", e.Message);
    }

    [Fact]
    public void Outputs_must_match_the_input_shape()
    {
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Softmax.Forward(Six, new float[5], 3)).ParamName);
        Assert.Equal("logProbabilities", Assert.Throws<ArgumentException>(() => Softmax.LogForward(Six, new float[7], 3)).ParamName);
        Assert.Equal("confidence", Assert.Throws<ArgumentException>(() => Softmax.Top1(Six, new float[3], new int[2], 3)).ParamName);
        Assert.Equal("predicted", Assert.Throws<ArgumentException>(() => Softmax.Top1(Six, new float[2], new int[6], 3)).ParamName);
        Assert.Equal("gradProbabilities", Assert.Throws<ArgumentException>(() => Softmax.Backward(Six, new float[3], new float[6], 3)).ParamName);
        Assert.Equal("gradLogits", Assert.Throws<ArgumentException>(() => Softmax.BackwardWithTemperature(Six, Six, Six, new float[4], 3)).ParamName);
        Assert.Equal("logProbabilities", Assert.Throws<ArgumentException>(() => Softmax.LogBackwardWithTemperature(Six, new float[3], Six, new float[6], 3)).ParamName);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(1e-39f)]   // finite but 1/T overflows float
    public void Temperature_must_be_finite_and_positive(float temperature)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Forward(Six, new float[6], 3, temperature));
        Assert.Equal("temperature", e.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Top1(Six, new float[2], new int[2], 3, temperature));
        Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.LogBackward(Six, Six, new float[6], 3, temperature));
    }

    [Fact]
    public void Partly_overlapping_outputs_are_rejected()
    {
        var buffer = new float[12];
        var e = Assert.Throws<ArgumentException>(() => Softmax.Forward(buffer.AsSpan(0, 6), buffer.AsSpan(3, 6), 3));
        Assert.Equal("probabilities", e.ParamName);
        Assert.Throws<ArgumentException>(() => Softmax.Backward(buffer.AsSpan(0, 6), Six, buffer.AsSpan(0, 6), 3));
        var both = new float[8];
        Assert.Throws<ArgumentException>(() => Softmax.Top1(both.AsSpan(0, 6), both.AsSpan(5, 2), new int[2], 3));
    }

    [Fact]
    public void Bad_options_are_rejected()
    {
        Assert.Equal("MaxThreads", Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Forward(Six, new float[6], 3, 1f, new ComputeOptions { MaxThreads = -2 })).ParamName);
        Assert.Equal("VectorWidth", Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Forward(Six, new float[6], 3, 1f, new ComputeOptions { VectorWidth = 100 })).ParamName);
    }

    [Fact]
    public void Device_views_are_checked_too()
    {
        var accelerator = Paths.CpuAccelerator.Value;
        using var z = accelerator.Allocate1D<float>(6);
        using var p = accelerator.Allocate1D<float>(5);
        using var c = accelerator.Allocate1D<float>(2);
        using var k = accelerator.Allocate1D<int>(3);
        using var t = accelerator.Allocate1D<double>(2);
        var stream = accelerator.DefaultStream;
        Assert.Equal("probabilities", Assert.Throws<ArgumentException>(() => Softmax.Forward(stream, z.View, p.View, 3)).ParamName);
        Assert.Equal("predicted", Assert.Throws<ArgumentException>(() => Softmax.Top1(stream, z.View, c.View, k.View, 3)).ParamName);
        Assert.Equal("gradTemperature", Assert.Throws<ArgumentException>(() => Softmax.BackwardWithTemperature(stream, z.View, z.View, z.View, z.View, t.View, 3)).ParamName);
        Assert.Equal("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => Softmax.Forward(stream, z.View, z.View, 3, -1f)).ParamName);
    }
}
