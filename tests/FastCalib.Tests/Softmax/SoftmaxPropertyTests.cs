using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Softmax;

using Softmax = FastCalib.Softmax;

/// <summary>
/// Every softmax kernel on every path against the float64 reference, on generated shapes, scales and temperatures.
/// Each case runs on all paths; outputs are poisoned first so an element left unwritten fails the test.
/// Error bounds follow the float32 error analysis of the computation (see <see cref="Tolerance"/>).
/// </summary>
[Properties(Arbitrary = new[] { typeof(Arbitraries) }, MaxTest = 25)]
public class SoftmaxPropertyTests
{
    [Property]
    public void Forward_matches_reference_and_rows_sum_to_one(SoftmaxCase c)
    {
        var z = c.Logits();
        foreach (var path in Paths.All)
        {
            var p = TestData.Poisoned(z.Length, TestData.Poison);
            Softmax.Forward(z, p, c.Cols, c.Temperature, path.Options);
            for (int r = 0; r < c.Rows; r++)
            {
                var row = z.AsSpan(r * c.Cols, c.Cols);
                var expected = Reference.Softmax(row, c.Temperature);
                var a = Reference.ExponentSizes(row, c.Temperature);
                double sum = 0;
                for (int j = 0; j < c.Cols; j++)
                {
                    float actual = p[r * c.Cols + j];
                    Assert.False(TestData.IsPoison(actual), $"{path} {c}: element [{r},{j}] not written");
                    Tolerance.AssertClose(actual, expected[j], Tolerance.Probability(expected[j], a[j], c.Cols), $"{path} {c}: p[{r},{j}]");
                    sum += actual;
                }
                Assert.True(Math.Abs(sum - 1) <= Tolerance.RowSum(c.Cols), $"{path} {c}: row {r} sums to {sum:R}");
            }
        }
    }

    [Property]
    public void LogForward_matches_reference(SoftmaxCase c)
    {
        var z = c.Logits();
        foreach (var path in Paths.All)
        {
            var lp = TestData.Poisoned(z.Length, TestData.Poison);
            Softmax.LogForward(z, lp, c.Cols, c.Temperature, path.Options);
            for (int r = 0; r < c.Rows; r++)
            {
                var row = z.AsSpan(r * c.Cols, c.Cols);
                var expected = Reference.LogSoftmax(row, c.Temperature);
                var a = Reference.ExponentSizes(row, c.Temperature);
                for (int j = 0; j < c.Cols; j++)
                {
                    float actual = lp[r * c.Cols + j];
                    Assert.False(TestData.IsPoison(actual), $"{path} {c}: element [{r},{j}] not written");
                    Tolerance.AssertClose(actual, expected[j], Tolerance.LogProbability(a[j], expected[j], c.Cols), $"{path} {c}: logp[{r},{j}]");
                }
            }
        }
    }

    [Property]
    public void Top1_is_the_argmax_and_max_probability(SoftmaxCase c)
    {
        var z = c.Logits();
        foreach (var path in Paths.All)
        {
            var confidence = TestData.Poisoned(c.Rows, TestData.Poison);
            var predicted = TestData.Poisoned(c.Rows, -12345);
            var p = new float[z.Length];
            Softmax.Top1(z, confidence, predicted, c.Cols, c.Temperature, path.Options);
            Softmax.Forward(z, p, c.Cols, c.Temperature, path.Options);
            for (int r = 0; r < c.Rows; r++)
            {
                var row = z.AsSpan(r * c.Cols, c.Cols);
                int k = predicted[r];
                Assert.Equal(Reference.ArgMax(row), k);
                var expected = Reference.Softmax(row, c.Temperature);
                Tolerance.AssertClose(confidence[r], expected[k], Tolerance.Probability(expected[k], 0, c.Cols), $"{path} {c}: confidence[{r}]");
                // the fused result agrees with this path's own forward output
                var pRow = p.AsSpan(r * c.Cols, c.Cols);
                float maxP = float.NegativeInfinity;
                foreach (float v in pRow) maxP = Math.Max(maxP, v);
                Assert.Equal(maxP, pRow[k]);
                Tolerance.AssertClose(confidence[r], pRow[k], 2 * Tolerance.Probability(pRow[k], 0, c.Cols), $"{path} {c}: confidence vs forward, row {r}");
            }
        }
    }

    [Property]
    public void Backward_matches_reference(SoftmaxCase c)
    {
        var z = c.Logits();
        var g = c.Gradient();
        var p = ReferenceProbabilities(z, c);
        foreach (var path in Paths.All)
        {
            var dz = TestData.Poisoned(z.Length, TestData.Poison);
            var dzT = TestData.Poisoned(z.Length, TestData.Poison);
            Softmax.Backward(p, g, dz, c.Cols, c.Temperature, path.Options);
            double dT = Softmax.BackwardWithTemperature(z, p, g, dzT, c.Cols, c.Temperature, path.Options);
            double expectedT = 0, toleranceT = 0;
            for (int r = 0; r < c.Rows; r++)
            {
                var pr = p.AsSpan(r * c.Cols, c.Cols);
                var gr = g.AsSpan(r * c.Cols, c.Cols);
                var expected = Reference.SoftmaxBackward(pr, gr, c.Temperature);
                double scale = 0;
                for (int j = 0; j < c.Cols; j++) scale += Math.Abs((double)gr[j] * pr[j]);
                for (int j = 0; j < c.Cols; j++)
                {
                    int i = r * c.Cols + j;
                    Assert.False(TestData.IsPoison(dz[i]) || TestData.IsPoison(dzT[i]), $"{path} {c}: element [{r},{j}] not written");
                    double tol = Tolerance.Gradient(pr[j] * (Math.Abs(gr[j]) + scale) / c.Temperature, c.Cols);
                    Tolerance.AssertClose(dz[i], expected[j], tol, $"{path} {c}: dz[{r},{j}]");
                    Tolerance.AssertClose(dzT[i], expected[j], tol, $"{path} {c}: dz (with T)[{r},{j}]");
                    toleranceT += (tol + Tolerance.Gradient(Math.Abs(expected[j]), c.Cols)) * Math.Abs(z[i]) / c.Temperature;
                }
                expectedT += Reference.TemperatureGradient(expected, z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
            }
            Tolerance.AssertClose(dT, expectedT, toleranceT + 1e-30, $"{path} {c}: dL/dT");
        }
    }

    [Property]
    public void LogBackward_matches_reference(SoftmaxCase c)
    {
        var z = c.Logits();
        var g = c.Gradient();
        var lp = new float[z.Length];
        for (int r = 0; r < c.Rows; r++)
        {
            var expected = Reference.LogSoftmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
            for (int j = 0; j < c.Cols; j++) lp[r * c.Cols + j] = (float)expected[j];
        }
        foreach (var path in Paths.All)
        {
            var dz = TestData.Poisoned(z.Length, TestData.Poison);
            var dzT = TestData.Poisoned(z.Length, TestData.Poison);
            Softmax.LogBackward(lp, g, dz, c.Cols, c.Temperature, path.Options);
            double dT = Softmax.LogBackwardWithTemperature(z, lp, g, dzT, c.Cols, c.Temperature, path.Options);
            double expectedT = 0, toleranceT = 0;
            for (int r = 0; r < c.Rows; r++)
            {
                var lr = lp.AsSpan(r * c.Cols, c.Cols);
                var gr = g.AsSpan(r * c.Cols, c.Cols);
                var expected = Reference.LogSoftmaxBackward(lr, gr, c.Temperature);
                double gAbs = 0;
                foreach (float v in gr) gAbs += Math.Abs(v);
                for (int j = 0; j < c.Cols; j++)
                {
                    int i = r * c.Cols + j;
                    Assert.False(TestData.IsPoison(dz[i]) || TestData.IsPoison(dzT[i]), $"{path} {c}: element [{r},{j}] not written");
                    double tol = Tolerance.Gradient((Math.Abs(gr[j]) + Math.Exp(lr[j]) * gAbs) / c.Temperature, c.Cols);
                    Tolerance.AssertClose(dz[i], expected[j], tol, $"{path} {c}: dz[{r},{j}]");
                    Tolerance.AssertClose(dzT[i], expected[j], tol, $"{path} {c}: dz (with T)[{r},{j}]");
                    toleranceT += (tol + Tolerance.Gradient(Math.Abs(expected[j]), c.Cols)) * Math.Abs(z[i]) / c.Temperature;
                }
                expectedT += Reference.TemperatureGradient(expected, z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
            }
            Tolerance.AssertClose(dT, expectedT, toleranceT + 1e-30, $"{path} {c}: dL/dT");
        }
    }

    /// <summary>
    /// Adding a constant to a row changes nothing: with logits on a grid of 2^-10 and an integer shift, z + c and
    /// max + c are exact, so (z + c) - (max + c) = z - max bit for bit and the outputs must be identical.
    /// </summary>
    [Property]
    public void Forward_is_invariant_to_shifting_a_row(SoftmaxCase c)
    {
        var z = c.Logits().Select(v => MathF.Round(Math.Clamp(v, -1000f, 1000f) * 1024f) / 1024f).ToArray();
        var random = new Random(c.Seed);
        var shifted = (float[])z.Clone();
        for (int r = 0; r < c.Rows; r++)
        {
            float shift = random.Next(-1000, 1001);
            for (int j = 0; j < c.Cols; j++) shifted[r * c.Cols + j] += shift;
        }
        foreach (var path in Paths.All)
        {
            var p = new float[z.Length];
            var q = new float[z.Length];
            Softmax.Forward(z, p, c.Cols, c.Temperature, path.Options);
            Softmax.Forward(shifted, q, c.Cols, c.Temperature, path.Options);
            Assert.True(p.AsSpan().SequenceEqual(q), $"{path} {c}: shifted rows give different probabilities");
        }
    }

    internal static float[] ReferenceProbabilities(float[] z, SoftmaxCase c)
    {
        var p = new float[z.Length];
        for (int r = 0; r < c.Rows; r++)
        {
            var expected = Reference.Softmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
            for (int j = 0; j < c.Cols; j++) p[r * c.Cols + j] = (float)expected[j];
        }
        return p;
    }
}
