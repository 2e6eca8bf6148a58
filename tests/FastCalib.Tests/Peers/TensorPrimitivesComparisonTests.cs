using System.Numerics.Tensors;
using Xunit;

namespace FastCalib.Tests.Peers;

/// <summary>
/// The correctness difference to the benchmark peer, as RESULTS.md states it: TensorPrimitives.SoftMax does not
/// subtract the row maximum, so logits above about 88 (float's e^x overflow) give NaN where FastCalib is exact.
/// </summary>
public class TensorPrimitivesComparisonTests
{
    [Theory]
    [InlineData(89f)]
    [InlineData(1e4f)]
    public void TensorPrimitives_overflows_where_FastCalib_does_not(float large)
    {
        float[] z = [large, 0f, -large];
        var peer = new float[3];
        TensorPrimitives.SoftMax(z, peer);
        Assert.Contains(peer, float.IsNaN);

        var ours = new float[3];
        FastCalib.Softmax.Forward(z, ours, 3);
        var expected = Reference.Softmax(z, 1);
        for (int j = 0; j < 3; j++) Assert.Equal(expected[j], ours[j], Math.Max(1e-45, expected[j] * 1e-6));
    }

    [Fact]
    public void Both_agree_on_moderate_logits()
    {
        float[] z = [3f, -1.5f, 0.25f, 7f];
        var peer = new float[4];
        TensorPrimitives.SoftMax(z, peer);
        var ours = new float[4];
        FastCalib.Softmax.Forward(z, ours, 4);
        for (int j = 0; j < 4; j++) Assert.Equal(peer[j], ours[j], 1e-6);
    }
}
