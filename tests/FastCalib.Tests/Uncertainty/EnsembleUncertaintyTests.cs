using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Uncertainty;

/// <summary>Ensemble / MC-dropout uncertainty against a float64 computation over all passes at once, on every path.</summary>
[Properties(Arbitrary = new[] { typeof(Arbitraries) }, MaxTest = 12)]
public class EnsembleUncertaintyTests
{
    /// <summary>The per-row measures in float64 from the stacked passes [S][rows * cols].</summary>
    private sealed record ReferenceResult(double[] Mean, double[] Predictive, double[] Expected);

    private static ReferenceResult Compute(double[][] passes, int rows, int cols)
    {
        var mean = new double[rows * cols];
        var predictive = new double[rows];
        var expected = new double[rows];
        foreach (var p in passes)
            for (int r = 0; r < rows; r++)
            {
                for (int j = 0; j < cols; j++) mean[r * cols + j] += p[r * cols + j] / passes.Length;
                expected[r] += Entropy(p.AsSpan(r * cols, cols)) / passes.Length;
            }
        for (int r = 0; r < rows; r++) predictive[r] = Entropy(mean.AsSpan(r * cols, cols));
        return new ReferenceResult(mean, predictive, expected);
    }

    private static double Entropy(ReadOnlySpan<double> p)
    {
        double h = 0;
        foreach (double v in p) if (v > 0) h -= v * Math.Log(v);
        return h;
    }

    /// <summary>Entropy error: a few ulp per term from the float log and product, sums add √n·u (as in the entropy tests), plus the passes' spread.</summary>
    private static double Bound(double h, int cols) => 8e-7 * (1 + h) * (4 + Math.Sqrt(cols) + cols / 16.0) + 2e-6;

    /// <summary>Checks every per-row measure of <paramref name="actual"/> against the float64 passes.</summary>
    /// <param name="meanRelative">Relative error allowed for the mean probabilities (the passes' own error, if any, plus S additions).</param>
    private static void AssertMatches(EnsembleUncertaintyResult actual, double[][] passes, int rows, int cols, double extraEntropy, double meanRelative, string what)
    {
        var expected = Compute(passes, rows, cols);
        Assert.Equal(passes.Length, actual.Passes);
        for (int r = 0; r < rows; r++)
        {
            var meanRow = expected.Mean.AsSpan(r * cols, cols);
            for (int j = 0; j < cols; j++)
                Tolerance.AssertClose(actual.MeanProbabilities[r * cols + j], meanRow[j], meanRelative * meanRow[j] + 1e-7 * passes.Length, $"{what}: mean[{r}, {j}]");
            // the top class: the reference's maximum, or a class within rounding of it (near ties)
            int k = actual.Predicted[r];
            double best = meanRow.ToArray().Max();
            Assert.True(k >= 0 && k < cols && meanRow[k] >= best - 1e-6, $"{what}: row {r} predicted {k} with mean {meanRow[k]:R}, the best is {best:R}");
            for (int j = 0; j < k; j++)
                Assert.True(meanRow[j] < best + 1e-6 && meanRow[j] <= meanRow[k] + 1e-6, $"{what}: row {r}: class {j} before {k} is as large");
            double bound = Bound(expected.Predictive[r], cols) + extraEntropy;
            Tolerance.AssertClose(actual.PredictiveEntropy[r], expected.Predictive[r], bound, $"{what}: predictive entropy[{r}]");
            Tolerance.AssertClose(actual.ExpectedEntropy[r], expected.Expected[r], bound, $"{what}: expected entropy[{r}]");
            Tolerance.AssertClose(actual.MutualInformation[r], Math.Max(0, expected.Predictive[r] - expected.Expected[r]), 2 * bound, $"{what}: mutual information[{r}]");
            Assert.InRange(actual.MutualInformation[r], 0, Math.Log(cols) + 1e-6);
            // moments and agreement at the class the accumulator chose
            double m = 0, sq = 0;
            int agree = 0;
            foreach (var p in passes)
            {
                double v = p[r * cols + k];
                m += v / passes.Length;
                sq += v * v / passes.Length;
                var row = p.AsSpan(r * cols, cols);
                int arg = 0;
                for (int j = 1; j < cols; j++) if (row[j] > row[arg]) arg = j;
                if (arg == k) agree++;
            }
            Tolerance.AssertClose(actual.TopVariance[r], Math.Max(0, sq - m * m), 4e-6, $"{what}: top variance[{r}]");
            Assert.InRange(actual.TopVariance[r], 0, 0.25 + 1e-6);
            if (!HasNearTie(passes, r, cols))
                Tolerance.AssertClose(actual.Agreement[r], (double)agree / passes.Length, 1e-7, $"{what}: agreement[{r}]");
        }
    }

    /// <summary>Whether a pass's row has two classes within rounding of its maximum (then float and float64 may pick different argmaxes).</summary>
    private static bool HasNearTie(double[][] passes, int r, int cols)
    {
        foreach (var p in passes)
        {
            var row = p.AsSpan(r * cols, cols).ToArray();
            double max = row.Max();
            if (row.Count(v => v >= max * (1 - 1e-5)) > 1) return true;
        }
        return false;
    }

    /// <summary>S passes of logits from the case: the case's logits plus pass-specific noise of the same scale.</summary>
    private static float[][] PassLogits(SoftmaxCase c, int passes)
    {
        var z = c.Logits();
        var random = new Random(c.Seed ^ 0x2545F491);
        return Enumerable.Range(0, passes).Select(_ => z.Select(v => (float)(v + 0.3 * c.Scale * TestData.Normal(random))).ToArray()).ToArray();
    }

    [Property]
    public void From_probabilities_matches_the_float64_computation_on_every_path(SoftmaxCase c)
    {
        int passes = 1 + c.Seed % 4;
        var probs = PassLogits(c, passes).Select(z => Softmax.SoftmaxPropertyTests.ReferenceProbabilities(z, c)).ToArray();
        var exact = probs.Select(p => p.Select(v => (double)v).ToArray()).ToArray();
        foreach (var path in Paths.All)
        {
            var u = new EnsembleUncertainty(c.Rows, c.Cols);
            foreach (var p in probs) u.AddProbabilities(p, path.Options);
            AssertMatches(u.Result(path.Options), exact, c.Rows, c.Cols, 0, 2e-6, $"{path} {c} S={passes}");
        }
    }

    [Property]
    public void From_logits_matches_the_float64_softmax_of_every_pass(SoftmaxCase c)
    {
        int passes = 1 + c.Seed % 4;
        var logits = PassLogits(c, passes);
        var exact = logits.Select(z => Enumerable.Range(0, c.Rows).SelectMany(r => Reference.Softmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature)).ToArray()).ToArray();
        double spread = logits.SelectMany(z => Enumerable.Range(0, c.Rows).Select(r => Reference.LogSoftmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature).Min())).Min();
        foreach (var path in Paths.All)
        {
            var u = new EnsembleUncertainty(c.Rows, c.Cols);
            foreach (var z in logits) u.AddLogits(z, c.Temperature, path.Options);
            // each pass's probabilities carry the softmax's error (the project's bound for exponents up to the spread)
            double meanRelative = Tolerance.Probability(1, Math.Min(-spread, 104), c.Cols) + 2e-6;
            AssertMatches(u.Result(path.Options), exact, c.Rows, c.Cols, 2e-7 * Math.Min(-spread, 104), meanRelative, $"{path} {c} S={passes}");
        }
    }

    [Fact]
    public void Equal_passes_have_no_mutual_information_full_agreement_and_no_variance()
    {
        var c = new SoftmaxCase(7, 33, 3.0, 1f, 11, false);
        var p = Softmax.SoftmaxPropertyTests.ReferenceProbabilities(c.Logits(), c);
        foreach (var path in Paths.All)
        {
            var u = new EnsembleUncertainty(c.Rows, c.Cols);
            for (int s = 0; s < 5; s++) u.AddProbabilities(p, path.Options);
            var result = u.Result(path.Options);
            for (int r = 0; r < c.Rows; r++)
            {
                Assert.InRange(result.MutualInformation[r], 0, 2e-6);
                Assert.Equal(1f, result.Agreement[r]);
                Assert.InRange(result.TopVariance[r], 0, 1e-6);
            }
        }
    }

    [Fact]
    public void One_hot_passes_that_all_disagree_give_the_largest_mutual_information()
    {
        const int rows = 3, cols = 5;
        foreach (var path in Paths.All)
        {
            var u = new EnsembleUncertainty(rows, cols);
            for (int s = 0; s < cols; s++)
            {
                var p = new float[rows * cols];
                for (int r = 0; r < rows; r++) p[r * cols + (r + s) % cols] = 1;
                u.AddProbabilities(p, path.Options);
            }
            var result = u.Result(path.Options);
            for (int r = 0; r < rows; r++)
            {
                Tolerance.AssertClose(result.MutualInformation[r], Math.Log(cols), 2e-6, $"{path}: MI[{r}]");
                Assert.Equal(0f, result.ExpectedEntropy[r]);
                Assert.Equal(0, result.Predicted[r]);                      // uniform mean: the first class
                Tolerance.AssertClose(result.Agreement[r], 1.0 / cols, 1e-7, $"{path}: agreement[{r}]");
                Tolerance.AssertClose(result.TopVariance[r], 1.0 / cols - 1.0 / (cols * cols), 1e-6, $"{path}: variance[{r}]");
                for (int j = 0; j < cols; j++) Assert.Equal(0.2f, result.MeanProbabilities[r * cols + j]);
            }
        }
    }

    [Fact]
    public void One_class_rows_and_no_rows()
    {
        var one = new EnsembleUncertainty(4, 1);
        one.AddProbabilities([1f, 1f, 1f, 1f]);
        one.AddLogits([3f, -1e4f, 1e4f, 0f]);
        var r = one.Result();
        Assert.All(r.MutualInformation, v => Assert.Equal(0f, v));
        Assert.All(r.Agreement, v => Assert.Equal(1f, v));
        Assert.All(r.MeanProbabilities, v => Assert.Equal(1f, v));
        var none = new EnsembleUncertainty(0, 3);
        none.AddProbabilities([]);
        var empty = none.Result();
        Assert.Empty(empty.Predicted);
        Assert.True(double.IsNaN(empty.MeanMutualInformation));
    }

    [Fact]
    public void Bad_passes_are_refused_and_a_partly_added_one_faults_the_accumulator()
    {
        var u = new EnsembleUncertainty(2, 3);
        var e = Assert.Throws<ArgumentException>(() => u.AddProbabilities([0.5f, 0.5f]));
        Assert.Contains("[2 x 3]", e.Message);
        Assert.Throws<InvalidOperationException>(() => u.Result());      // no pass yet
        u.AddProbabilities([0.2f, 0.3f, 0.5f, 1f, 0f, 0f]);
        // a refused pass of probabilities adds nothing: the accumulator goes on as if it had not been offered
        e = Assert.Throws<ArgumentException>(() => u.AddProbabilities([0.2f, 0.3f, 0.5f, 0.5f, 0.7f, -0.2f]));
        Assert.Contains("row 1 of pass 1", e.Message);
        u.AddProbabilities([0.5f, 0.3f, 0.2f, 0f, 0f, 1f]);
        var r = u.Result();
        Assert.Equal(2, r.Passes);
        Assert.Equal([0.35f, 0.3f, 0.35f, 0.5f, 0f, 0.5f], r.MeanProbabilities);
        Assert.Equal([0.5f, 0.5f], r.Agreement);

        // a refused pass of logits has updated the sums in its traversal: the accumulator is faulted
        var logits = new EnsembleUncertainty(2, 3);
        e = Assert.Throws<ArgumentException>(() => logits.AddLogits([1f, 2f, 3f, 1f, float.NaN, 0f]));
        Assert.Contains("row 1 of pass 0", e.Message);
        var faulted = Assert.Throws<InvalidOperationException>(() => logits.AddLogits([1f, 2f, 3f, 1f, 2f, 0f]));
        Assert.Contains("faulted", faulted.Message);
        Assert.Throws<InvalidOperationException>(() => logits.Result());
        logits = new EnsembleUncertainty(2, 3);
        Assert.Throws<ArgumentException>(() => logits.AddLogits([1f, float.PositiveInfinity, 3f, 1f, 2f, 0f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnsembleUncertainty(2, 3).AddLogits(new float[6], 0f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnsembleUncertainty(-1, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnsembleUncertainty(1, 0));
    }

    /// <summary>The passes one after another, [passes, rows, cols].</summary>
    private static float[] Stack(float[][] passes) => passes.SelectMany(p => p).ToArray();

    /// <summary>Asserts that two results hold the same bits in every array.</summary>
    private static void AssertSameBits(EnsembleUncertaintyResult expected, EnsembleUncertaintyResult actual, string what)
    {
        Assert.Equal((expected.Rows, expected.Classes, expected.Passes), (actual.Rows, actual.Classes, actual.Passes));
        Assert.True(expected.MeanProbabilities.AsSpan().SequenceEqual(actual.MeanProbabilities), $"{what}: mean probabilities differ");
        Assert.True(expected.Predicted.AsSpan().SequenceEqual(actual.Predicted), $"{what}: predictions differ");
        foreach (var (name, e, a) in new[]
        {
            ("predictive entropy", expected.PredictiveEntropy, actual.PredictiveEntropy),
            ("expected entropy", expected.ExpectedEntropy, actual.ExpectedEntropy),
            ("mutual information", expected.MutualInformation, actual.MutualInformation),
            ("top variance", expected.TopVariance, actual.TopVariance),
            ("agreement", expected.Agreement, actual.Agreement),
        })
        {
            for (int r = 0; r < e.Length; r++)
                Assert.True(BitConverter.SingleToInt32Bits(e[r]) == BitConverter.SingleToInt32Bits(a[r]), $"{what}: {name}[{r}] is {a[r]:R}, pass by pass {e[r]:R}");
        }
    }

    [Property]
    public void A_stack_gives_the_bits_of_its_passes_added_one_by_one_on_every_path(SoftmaxCase c)
    {
        int passes = 1 + c.Seed % 4;
        var logits = PassLogits(c, passes);
        var probs = logits.Select(z => Softmax.SoftmaxPropertyTests.ReferenceProbabilities(z, c)).ToArray();
        var exact = probs.Select(p => p.Select(v => (double)v).ToArray()).ToArray();
        foreach (var path in Paths.All)
        {
            var u = new EnsembleUncertainty(c.Rows, c.Cols);
            foreach (var p in probs) u.AddProbabilities(p, path.Options);
            var stacked = EnsembleUncertainty.FromStack(Stack(probs), passes, c.Cols, path.Options);
            AssertSameBits(u.Result(path.Options), stacked, $"{path} {c} S={passes} probabilities");
            AssertMatches(stacked, exact, c.Rows, c.Cols, 0, 2e-6, $"{path} {c} S={passes} stack");

            var l = new EnsembleUncertainty(c.Rows, c.Cols);
            foreach (var z in logits) l.AddLogits(z, c.Temperature, path.Options);
            AssertSameBits(l.Result(path.Options), EnsembleUncertainty.FromLogitStack(Stack(logits), passes, c.Cols, c.Temperature, path.Options), $"{path} {c} S={passes} logits");
        }
    }

    [Theory]
    [InlineData(20000, 7, 3)]     // several chunks of several blocks, a partial block at each chunk's end
    [InlineData(300, 1000, 2)]    // wide rows: blocks of 4 rows
    [InlineData(1000, 10, 300)]   // many passes: the block shrinks so that its predictions stay small
    [InlineData(17, 1, 5)]        // one class
    public void Large_stacks_give_the_bits_of_the_passes_added_one_by_one(int rows, int cols, int passes)
    {
        var random = new Random(rows + cols + passes);
        var logits = Enumerable.Range(0, passes).Select(_ => Enumerable.Range(0, rows * cols).Select(_ => (float)(4 * TestData.Normal(random))).ToArray()).ToArray();
        var probs = logits.Select(z => { var p = new float[z.Length]; FastCalib.Softmax.Forward(z, p, cols); return p; }).ToArray();
        // the host paths, and the default one (all cores: chunks on several threads)
        var paths = Paths.All.Where(p => p.Options.Backend != Backend.Gpu).Append(new KernelPath("all cores", default));
        foreach (var path in paths)
        {
            var u = new EnsembleUncertainty(rows, cols);
            foreach (var p in probs) u.AddProbabilities(p, path.Options);
            AssertSameBits(u.Result(path.Options), EnsembleUncertainty.FromStack(Stack(probs), passes, cols, path.Options), $"{path} [{passes} x {rows} x {cols}] probabilities");
            var l = new EnsembleUncertainty(rows, cols);
            foreach (var z in logits) l.AddLogits(z, 1.5f, path.Options);
            AssertSameBits(l.Result(path.Options), EnsembleUncertainty.FromLogitStack(Stack(logits), passes, cols, 1.5f, path.Options), $"{path} [{passes} x {rows} x {cols}] logits");
        }
    }

    [Fact]
    public void A_bad_stack_is_refused_naming_the_row_the_pass_by_pass_accumulator_names()
    {
        const int rows = 5000, cols = 3, passes = 3;
        var random = new Random(5);
        var stack = new float[passes * rows * cols];
        for (int k = 0; k < stack.Length; k += cols)
        {
            float a = (float)random.NextDouble(), b = (float)random.NextDouble() * (1 - a);
            (stack[k], stack[k + 1], stack[k + 2]) = (a, b, 1 - a - b);
        }
        // pass 2 goes bad early (row 10), pass 1 late (row 4000): the first pass with a bad row is named, not the first block
        stack[(2 * rows + 10) * cols] = -0.25f;
        stack[(1 * rows + 4000) * cols + 1] = float.NaN;
        foreach (var path in Paths.All)
        {
            var e = Assert.Throws<ArgumentException>(() => EnsembleUncertainty.FromStack(stack, passes, cols, path.Options));
            Assert.Contains("row 4000 of pass 1 is not a probability distribution", e.Message);
            Assert.Equal("probabilities", e.ParamName);
            var logits = (float[])stack.Clone();
            logits[(1 * rows + 4000) * cols + 1] = 0.5f;
            logits[(2 * rows + 10) * cols] = float.PositiveInfinity;
            e = Assert.Throws<ArgumentException>(() => EnsembleUncertainty.FromLogitStack(logits, passes, cols, 1f, path.Options));
            Assert.Contains("row 10 of pass 2 has a NaN or infinite logit", e.Message);
        }
        var shape = Assert.Throws<ArgumentException>(() => EnsembleUncertainty.FromStack(new float[10], 3, 3));
        Assert.Contains("10 elements", shape.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => EnsembleUncertainty.FromStack(new float[9], 0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnsembleUncertainty.FromStack(new float[9], 3, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => EnsembleUncertainty.FromLogitStack(new float[9], 3, 3, 0f));
        var empty = EnsembleUncertainty.FromStack([], 2, 4);
        Assert.Equal((0, 4, 2), (empty.Rows, empty.Classes, empty.Passes));
    }
}
