using System.Numerics.Tensors;
using Xunit;

namespace FastCalib.Tests.Softmax;

using Softmax = FastCalib.Softmax;

/// <summary>Tensor-span overloads: the last dimension is the class dimension and the results equal the flat-span calls.</summary>
public class SoftmaxTensorTests
{
    [Fact]
    public void Rank_three_tensors_match_the_flat_api()
    {
        var c = new SoftmaxCase(2 * 5, 7, 3, 0.8f, 31, false);
        var z = c.Logits();
        var logits = new ReadOnlyTensorSpan<float>(z, [2, 5, 7], []);
        var p = new float[z.Length];
        var expected = new float[z.Length];
        Softmax.Forward(logits, new TensorSpan<float>(p, [2, 5, 7], []), c.Temperature);
        Softmax.Forward(z, expected, 7, c.Temperature);
        Assert.Equal(expected, p);

        Softmax.LogForward(logits, new TensorSpan<float>(p, [2, 5, 7], []), c.Temperature);
        Softmax.LogForward(z, expected, 7, c.Temperature);
        Assert.Equal(expected, p);

        var conf = new float[10];
        var k = new int[10];
        var expectedConf = new float[10];
        var expectedK = new int[10];
        Softmax.Top1(logits, conf, k, c.Temperature);
        Softmax.Top1(z, expectedConf, expectedK, 7, c.Temperature);
        Assert.Equal(expectedConf, conf);
        Assert.Equal(expectedK, k);
    }

    [Fact]
    public void Mismatched_or_strided_tensors_are_rejected()
    {
        var data = new float[12];
        var e = Assert.Throws<ArgumentException>(() => Softmax.Forward(new ReadOnlyTensorSpan<float>(data, [3, 4], []), new TensorSpan<float>(new float[12], [4, 3], [])));
        Assert.Equal("probabilities", e.ParamName);
        Assert.Contains("[4, 3]", e.Message);
        // every other column: not dense
        e = Assert.Throws<ArgumentException>(() => Softmax.Forward(new ReadOnlyTensorSpan<float>(data, [3, 2], [4, 2]), new TensorSpan<float>(new float[6], [3, 2], [])));
        Assert.Equal("logits", e.ParamName);
        Assert.Contains("dense", e.Message);
    }
}
