using Xunit;

namespace FastCalib.Tests.Softmax;

using Softmax = FastCalib.Softmax;

/// <summary>Edge cases on every path: empty input, one row or column, extreme temperatures and logits, non-finite values.</summary>
public class SoftmaxEdgeTests
{
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Empty_input_is_a_no_op(KernelPath path)
    {
        Softmax.Forward([], [], 7, 1f, path.Options);
        Softmax.LogForward([], [], 7, 1f, path.Options);
        Softmax.Top1([], [], [], 7, 1f, path.Options);
        Softmax.Backward([], [], [], 7, 1f, path.Options);
        Assert.Equal(0.0, Softmax.BackwardWithTemperature([], [], [], [], 7, 1f, path.Options));
        Assert.Equal(0.0, Softmax.LogBackwardWithTemperature([], [], [], [], 7, 1f, path.Options));
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void One_column_gives_certainty(KernelPath path)
    {
        float[] z = [-3f, 0f, 1e4f, -1e4f, 42f];
        var p = TestData.Poisoned(5, TestData.Poison);
        var lp = TestData.Poisoned(5, TestData.Poison);
        var c = TestData.Poisoned(5, TestData.Poison);
        var k = TestData.Poisoned(5, -1);
        Softmax.Forward(z, p, 1, 0.3f, path.Options);
        Softmax.LogForward(z, lp, 1, 0.3f, path.Options);
        Softmax.Top1(z, c, k, 1, 0.3f, path.Options);
        Assert.All(p, v => Assert.Equal(1f, v));
        Assert.All(lp, v => Assert.Equal(0f, v));
        Assert.All(c, v => Assert.Equal(1f, v));
        Assert.All(k, v => Assert.Equal(0, v));
        var dz = TestData.Poisoned(5, TestData.Poison);
        Softmax.Backward(p, [1f, 2f, 3f, 4f, 5f], dz, 1, 0.3f, path.Options);
        Assert.All(dz, v => Assert.Equal(0f, v));
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Extreme_temperatures_tend_to_uniform_and_one_hot(KernelPath path)
    {
        // rows of 5 and of 100 columns (the across-rows and within-row SIMD modes)
        foreach (int cols in new[] { 5, 100 })
        {
            var z = new float[3 * cols];
            for (int i = 0; i < z.Length; i++) z[i] = (i * 7919 % 23) - 11f;   // distinct per row except planned ties
            var p = new float[z.Length];
            Softmax.Forward(z, p, cols, 1e30f, path.Options);   // huge T: uniform
            Assert.All(p, v => Assert.Equal(1.0 / cols, v, 1e-6));
            Softmax.Forward(z, p, cols, 1e-30f, path.Options);  // tiny T: all mass on the maxima, split equally among ties
            for (int r = 0; r < 3; r++)
            {
                var row = z.AsSpan(r * cols, cols);
                float max = float.NegativeInfinity;
                foreach (float v in row) max = Math.Max(max, v);
                int ties = 0;
                foreach (float v in row) ties += v == max ? 1 : 0;
                for (int j = 0; j < cols; j++) Assert.Equal(row[j] == max ? 1.0 / ties : 0.0, p[r * cols + j], 1e-6);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Logits_of_plus_minus_1e4_are_stable(KernelPath path)
    {
        foreach (int cols in new[] { 3, 40 })
        {
            var z = new float[2 * cols];
            for (int j = 0; j < cols; j++)
            {
                z[j] = j % 2 == 0 ? 1e4f : -1e4f;
                z[cols + j] = 1e4f - j * 0.5f;
            }
            foreach (float t in new[] { 0.05f, 1f, 100f })
            {
                var p = new float[z.Length];
                var lp = new float[z.Length];
                Softmax.Forward(z, p, cols, t, path.Options);
                Softmax.LogForward(z, lp, cols, t, path.Options);
                for (int r = 0; r < 2; r++)
                {
                    var row = z.AsSpan(r * cols, cols);
                    var expected = Reference.Softmax(row, t);
                    var expectedLog = Reference.LogSoftmax(row, t);
                    var a = Reference.ExponentSizes(row, t);
                    for (int j = 0; j < cols; j++)
                    {
                        Tolerance.AssertClose(p[r * cols + j], expected[j], Tolerance.Probability(expected[j], a[j], cols), $"{path} T={t} p[{r},{j}]");
                        Tolerance.AssertClose(lp[r * cols + j], expectedLog[j], Tolerance.LogProbability(a[j], expectedLog[j], cols), $"{path} T={t} logp[{r},{j}]");
                    }
                }
            }
        }
    }

    /// <summary>Documented behaviour: −∞ is probability 0; NaN, +∞ or an all −∞ row makes that row NaN and leaves the others alone.</summary>
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Non_finite_logits_behave_as_documented(KernelPath path)
    {
        foreach (int cols in new[] { 4, 64 })
        {
            float ninf = float.NegativeInfinity;
            var rows = new List<float[]>
            {
                Row(cols, j => j == 1 ? ninf : j),                  // masked logit
                Row(cols, j => j == 2 ? float.NaN : j),             // NaN
                Row(cols, j => j == 3 ? float.PositiveInfinity : j),// +inf
                Row(cols, _ => ninf),                               // all masked
                Row(cols, j => -j),                                 // ordinary, must be unaffected
            };
            var z = rows.SelectMany(r => r).ToArray();
            var p = TestData.Poisoned(z.Length, TestData.Poison);
            var c = new float[rows.Count];
            var k = new int[rows.Count];
            Softmax.Forward(z, p, cols, 1f, path.Options);
            Softmax.Top1(z, c, k, cols, 1f, path.Options);

            var masked = Reference.Softmax(rows[0].Where(v => v != ninf).ToArray(), 1);
            Assert.Equal(0f, p[1]);
            Assert.Equal(masked[0], p[0], 1e-6);
            for (int r = 1; r <= 3; r++)
                for (int j = 0; j < cols; j++)
                    Assert.True(float.IsNaN(p[r * cols + j]) && !TestData.IsPoison(p[r * cols + j]), $"{path}: row {r} col {j} should be NaN, got {p[r * cols + j]}");
            var ordinary = Reference.Softmax(rows[4], 1);
            for (int j = 0; j < cols; j++) Assert.Equal(ordinary[j], p[4 * cols + j], 1e-6);

            Assert.Equal(cols - 1, k[0]);
            Assert.Equal(2, k[1]);               // NaN counts as the maximum (NumPy / PyTorch argmax)
            Assert.True(float.IsNaN(c[1]));
            Assert.Equal(3, k[2]);               // +inf is the maximum; its probability is NaN (inf - inf)
            Assert.True(float.IsNaN(c[2]));
            Assert.Equal(0, k[3]);               // all −inf: the first
            Assert.True(float.IsNaN(c[3]));
            Assert.Equal(0, k[4]);
            Assert.Equal(ordinary[0], c[4], 1e-6);
        }
    }

    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void In_place_equals_out_of_place(KernelPath path)
    {
        var c = new SoftmaxCase(7, 37, 3, 0.7f, 11, false);
        var z = c.Logits();
        var p = new float[z.Length];
        Softmax.Forward(z, p, c.Cols, c.Temperature, path.Options);
        var inPlace = (float[])z.Clone();
        Softmax.Forward(inPlace, inPlace, c.Cols, c.Temperature, path.Options);
        Assert.Equal(p, inPlace);

        Softmax.LogForward(z, p, c.Cols, c.Temperature, path.Options);
        inPlace = (float[])z.Clone();
        Softmax.LogForward(inPlace, inPlace, c.Cols, c.Temperature, path.Options);
        Assert.Equal(p, inPlace);

        var probs = SoftmaxPropertyTests.ReferenceProbabilities(z, c);
        var g = c.Gradient();
        var dz = new float[z.Length];
        double dT = Softmax.BackwardWithTemperature(z, probs, g, dz, c.Cols, c.Temperature, path.Options);
        var gInPlace = (float[])g.Clone();
        double dTInPlace = Softmax.BackwardWithTemperature(z, probs, gInPlace, gInPlace, c.Cols, c.Temperature, path.Options);
        Assert.Equal(dz, gInPlace);
        Assert.Equal(dT, dTInPlace);
    }

    /// <summary>LLM-vocabulary rows (131072 columns) with a few large logits, forward and top-1.</summary>
    [Theory]
    [MemberData(nameof(Paths.AllData), MemberType = typeof(Paths))]
    public void Vocabulary_sized_rows(KernelPath path)
    {
        var c = new SoftmaxCase(2, 131072, 2, 0.7f, 77, false);
        var z = c.Logits();
        z[123_457] = 25f;
        z[131072 + 99_999] = 24f;
        var p = TestData.Poisoned(z.Length, TestData.Poison);
        var conf = new float[2];
        var k = new int[2];
        Softmax.Forward(z, p, c.Cols, c.Temperature, path.Options);
        Softmax.Top1(z, conf, k, c.Cols, c.Temperature, path.Options);
        for (int r = 0; r < 2; r++)
        {
            var row = z.AsSpan(r * c.Cols, c.Cols);
            var expected = Reference.Softmax(row, c.Temperature);
            var a = Reference.ExponentSizes(row, c.Temperature);
            for (int j = 0; j < c.Cols; j++)
                Tolerance.AssertClose(p[r * c.Cols + j], expected[j], Tolerance.Probability(expected[j], a[j], c.Cols), $"{path} p[{r},{j}]");
            Assert.Equal(Reference.ArgMax(row), k[r]);
            Tolerance.AssertClose(conf[r], expected[k[r]], Tolerance.Probability(expected[k[r]], 0, c.Cols), $"{path} confidence[{r}]");
        }
        Assert.Equal(123_457, k[0]);
        Assert.Equal(99_999, k[1]);
    }

    private static float[] Row(int cols, Func<int, float> value) => Enumerable.Range(0, cols).Select(value).ToArray();
}

/// <summary>
/// Past 2^31 − 1 elements, the limit of a span: the tensor-span and pointer overloads run blocks of whole rows, so a
/// matrix of 2^31 + 7 values (8.6 GB) is computed whole. Skipped where the machine has too little memory.
/// </summary>
public class SoftmaxHugeTests
{
    [SkippableFact]
    public unsafe void A_matrix_of_two_to_the_31_plus_7_values_is_computed_whole()
    {
        long length = (1L << 31) + 7;   // 429,496,731 rows of 5 (a 64-bit process: the test skips without the memory)
        const int classes = 5;
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Skip.If(available < 14L << 30, $"needs about 9 GB of free memory for an 8.6 GB matrix; this machine offers {available >> 30} GB to the process.");
        float* z = (float*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)length, sizeof(float));
        try
        {
            // row r = (0, 1, 2, 3, 4) + r mod 7: every row's softmax is softmax(0..4), whatever its offset
            // (7 rows of the pattern, then doubled by copies)
            for (long i = 0; i < 35; i++) z[i] = i % classes + (i / classes) % 7;
            for (long filled = 35; filled < length; filled *= 2)
                Buffer.MemoryCopy(z, z + filled, (length - filled) * sizeof(float), Math.Min(filled, length - filled) * sizeof(float));
            var tensor = new System.Numerics.Tensors.TensorSpan<float>(z, (nint)length, [(nint)(length / classes), classes], []);
            FastCalib.Softmax.Forward(tensor, tensor, 1f);   // in place
            var expected = Reference.Softmax(new float[] { 0, 1, 2, 3, 4 }, 1f);
            long rows = length / classes;
            // rows at the start, across the 2^31 boundary and at the end, and a stride through the rest
            var checkedRows = Enumerable.Range(0, 1000).Select(r => (long)r)
                .Concat(Enumerable.Range(0, 1002).Select(k => (1L << 31) / classes - 1000 + k))
                .Concat(Enumerable.Range(0, 1000).Select(k => rows - 1 - k))
                .Concat(Enumerable.Range(0, 10_000).Select(k => k * (rows / 10_000)))
                .Where(r => r < rows);
            foreach (long r in checkedRows)
                for (int j = 0; j < classes; j++)
                    Assert.True(Math.Abs(z[r * classes + j] - expected[j]) <= 1e-6, $"row {r} column {j}: {z[r * classes + j]} vs {expected[j]}");
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(z);
        }
    }

    [Fact]
    public unsafe void Pointer_overloads_check_their_arguments_and_agree_with_spans()
    {
        var z = Enumerable.Range(0, 35).Select(i => (float)Math.Sin(i)).ToArray();
        var expected = new float[35];
        FastCalib.Softmax.Forward(z, expected, 7, 1.5f);
        var actual = new float[35];
        fixed (float* pz = z, pa = actual)
        {
            FastCalib.Softmax.Forward(pz, pa, 35, 7, 1.5f);
            nint zp = (nint)pz, ap = (nint)pa;   // lambdas cannot capture fixed locals
            Assert.Equal("length", Assert.Throws<ArgumentOutOfRangeException>(() => FastCalib.Softmax.Forward((float*)zp, (float*)ap, -1, 7)).ParamName);
            Assert.Contains("not a whole number of rows", Assert.Throws<ArgumentException>(() => FastCalib.Softmax.Forward((float*)zp, (float*)ap, 34, 7)).Message);
            Assert.Contains("partly overlap", Assert.Throws<ArgumentException>(() => FastCalib.Softmax.LogForward((float*)zp, (float*)zp + 1, 28, 7)).Message);
        }
        Assert.Equal(expected, actual);
    }
}
