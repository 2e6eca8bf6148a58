using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Binary;

/// <summary>Sigmoid binary cross-entropy with label smoothing against a float64 reference, on every path.</summary>
public class BinaryCrossEntropyTests
{
    /// <summary>The loss and σ in float64, in the stable form, with the smoothed target q = t(1 − ε) + ε/2.</summary>
    private static (double Loss, double Sigmoid) Reference(float z, float t, float epsilon)
    {
        double q = t * (1.0 - epsilon) + epsilon / 2.0, e = Math.Exp(-Math.Abs((double)z));
        return (Math.Max(z, 0.0) - z * q + Math.Log(1 + e) + (e < 1e-8 ? e - Math.Log(1 + e) : 0), z >= 0 ? 1 / (1 + e) : e / (1 + e));
    }

    public static Arbitrary<(float[] Logits, float[] Targets, float Epsilon)> Cases() => Arb.From(
        from n in Gen.Elements(0, 1, 5, 17, 1023, 1024, 1025, 3000)
        from scale in Gen.Elements(1e-3f, 1f, 8f, 60f, 1e4f)
        from seed in Gen.Choose(0, int.MaxValue)
        from epsilon in Gen.Elements(0f, 0.1f, 0.5f, 1f)
        select Make(n, scale, seed, epsilon));

    private static (float[], float[], float) Make(int n, float scale, int seed, float epsilon)
    {
        var random = new Random(seed);
        var logits = Enumerable.Range(0, n).Select(i => i % 97 == 3 ? 0f : (float)(scale * TestData.Normal(random))).ToArray();
        var targets = Enumerable.Range(0, n).Select(i => i % 5 == 4 ? (float)random.NextDouble() : random.Next(2)).ToArray();
        return (logits, targets, epsilon);
    }

    [Property(Arbitrary = new[] { typeof(BinaryCrossEntropyTests) }, MaxTest = 20)]
    public void Loss_and_gradient_match_the_float64_reference_on_every_path((float[] Logits, float[] Targets, float Epsilon) c)
    {
        var (z, t, epsilon) = c;
        int n = z.Length;
        double loss = 0, magnitude = 0;
        var sigmoid = new double[n];
        for (int i = 0; i < n; i++)
        {
            var (l, s) = Reference(z[i], t[i], epsilon);
            loss += l;
            sigmoid[i] = s;
            magnitude += Math.Abs(z[i]) + l + 1;
        }
        foreach (var path in Paths.All)
        {
            var grad = Enumerable.Repeat(float.NaN, n).ToArray();
            double actual = BinaryCrossEntropy.WithLogits(z, t, grad, epsilon, path.Options);
            if (n == 0)
            {
                Assert.Equal(0, actual);
                continue;
            }
            // float terms (a few ulp of |z|, the products and the log) and float row sums of 1024 terms
            Tolerance.AssertClose(actual, loss / n, 2e-6 * magnitude / n, $"{path} n={n} eps={epsilon}: mean loss");
            for (int i = 0; i < n; i++)
            {
                double q = t[i] * (1.0 - epsilon) + epsilon / 2.0;
                double expected = (sigmoid[i] - q) / n;
                Tolerance.AssertClose(grad[i], expected, 4e-7 * (sigmoid[i] + q) / n + 1e-45, $"{path} n={n}: grad[{i}] (z {z[i]}, t {t[i]})");
            }
        }
    }

    [Fact]
    public void Confident_correct_logits_keep_their_tiny_loss()
    {
        // z = 20, t = 1: the loss is ln(1 + e^-20) = 2.06e-9, which 1 + e in float would round to 0
        var grad = new float[1];
        double loss = BinaryCrossEntropy.WithLogits([20f], [1f], grad);
        Assert.Equal(Math.Log(1 + Math.Exp(-20)), loss, 1e-15);
        Assert.True(loss > 0);
        // where 1 + e rounds in float but is not 1 (e from 2^-24 to 1), ln(1 + e) keeps full relative precision
        foreach (float z in new[] { 0.5f, 3f, 7.5f, 10f, 14f, 16.5f })
        {
            double expected = Math.Log(1 + Math.Exp(-(double)z));
            Tolerance.AssertClose(BinaryCrossEntropy.WithLogits([z], [1f], grad), expected, 1e-6 * expected, $"ln(1 + e^-{z})");
            Tolerance.AssertClose(BinaryCrossEntropy.WithLogits([-z], [0f], grad), expected, 1e-6 * expected, $"ln(1 + e^-{z}), t = 0");
        }
        // ε = 0.2 pulls a target of 1 to 0.9: the gradient at z = 0 is σ(0) - 0.9 = -0.4
        BinaryCrossEntropy.WithLogits([0f], [1f], grad, 0.2f);
        Assert.Equal(-0.4f, grad[0], 1e-7f);
    }

    [Fact]
    public void Bad_arguments_are_refused_by_name()
    {
        var grad = new float[2];
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.WithLogits([1f, float.NaN], [0f, 1f], grad)).ParamName);
        Assert.Contains("targets[1] is 1.5", Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.WithLogits([1f, 2f], [0f, 1.5f], grad)).Message);
        Assert.Equal("labelSmoothing", Assert.Throws<ArgumentOutOfRangeException>(() => BinaryCrossEntropy.WithLogits([1f, 2f], [0f, 1f], grad, 2f)).ParamName);
        Assert.Equal("targets", Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.WithLogits([1f, 2f], [0f], grad)).ParamName);
        var z = new float[] { 1f, 2f };
        Assert.Throws<ArgumentException>(() => BinaryCrossEntropy.WithLogits(z, [0f, 1f], z));
    }
}
