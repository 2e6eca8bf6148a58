using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>
/// Vector scaling, matrix scaling and Dirichlet calibration against <see cref="AffineOracle"/>'s float64 optimum on
/// every path (the GPU backend on ILGPU's CPU accelerator, and CUDA where there is a device); recovery of the parameters data were drawn from; the pass's gradient and Hessian vs finite
/// differences of the oracle's objective; saved and loaded calibrators; bad data.
/// </summary>
public class AffineScalingTests
{
    public static IEnumerable<object[]> AllPaths() => Paths.AllData;

    public enum Kind { Vector, Matrix, Dirichlet }

    /// <summary>Logits N(0, 2²) with a class-dependent shift; labels drawn from softmax(A0 x + b0) of the given parameters (or of the logits).</summary>
    internal static (float[] Z, int[] Labels) Drawn(int rows, int classes, int seed, Func<float[], double[]>? model = null)
    {
        var random = new Random(seed);
        var z = new float[rows * classes];
        var labels = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < classes; j++) z[r * classes + j] = (float)(2 * TestData.Normal(random) + 0.3 * j);
            var row = z.AsSpan(r * classes, classes).ToArray();
            var p = model?.Invoke(row) ?? Reference.Softmax(row, 0.7);
            double u = random.NextDouble(), acc = 0;
            labels[r] = classes - 1;
            for (int j = 0; j < classes; j++) if ((acc += p[j]) > u) { labels[r] = j; break; }
        }
        return (z, labels);
    }

    private static (double[] Theta, MulticlassFit<MulticlassCalibrator> Fit) FitOf(Kind kind, float[] z, int[] y, int c, OdirPenalty penalty, ComputeOptions options)
    {
        switch (kind)
        {
            case Kind.Vector:
                var v = VectorScalingCalibrator.Fit(z, y, c, options);
                return ([.. v.Calibrator.Scale.Select(x => (double)x), .. v.Calibrator.Bias.Select(x => (double)x)], Widen(v));
            case Kind.Matrix:
                var m = MatrixScalingCalibrator.Fit(z, y, c, penalty, options);
                return ([.. m.Calibrator.Weights.Select(x => (double)x), .. m.Calibrator.Bias.Select(x => (double)x)], Widen(m));
            default:
                var d = DirichletCalibrator.Fit(z, y, c, penalty, options);
                return ([.. d.Calibrator.Weights.Select(x => (double)x), .. d.Calibrator.Bias.Select(x => (double)x)], Widen(d));
        }
    }

    private static MulticlassFit<MulticlassCalibrator> Widen<T>(MulticlassFit<T> f) where T : MulticlassCalibrator =>
        new(f.Calibrator, f.NllBefore, f.NllAfter, f.Passes, f.Iterations, f.Converged, f.Tolerance);

    [Theory]
    [MemberData(nameof(AllPaths))]
    public void Fits_reach_the_float64_optimum_of_their_objective(KernelPath path)
    {
        var cases = new (Kind Kind, int Rows, int Classes, OdirPenalty Penalty)[]
        {
            (Kind.Vector, 3000, 10, default), (Kind.Vector, 1201, 3, default), (Kind.Vector, 700, 17, default),
            (Kind.Matrix, 2000, 5, default), (Kind.Matrix, 1500, 4, new OdirPenalty(0.5, 0.1)), (Kind.Matrix, 9000, 6, default),
            (Kind.Dirichlet, 2000, 5, default), (Kind.Dirichlet, 1500, 6, new OdirPenalty(2, 0.5)),
        };
        foreach (var (kind, rows, c, penalty) in cases)
        {
            var (oracle, theta, fit) = AssertAtOptimum(kind, rows, c, penalty, path, rows + c);
            Assert.Equal(oracle.Nll(oracle.Identity()), fit.NllBefore, 1e-5);
            Assert.Equal(oracle.Nll(theta), fit.NllAfter, 1e-5);
            Assert.InRange(fit.Passes, 2, 40);
        }
    }

    /// <summary>Fits data drawn with <paramref name="seed"/> and asserts convergence to the oracle's float64 optimum, in objective and in parameters.</summary>
    private static (AffineOracle Oracle, double[] Theta, MulticlassFit<MulticlassCalibrator> Fit) AssertAtOptimum(Kind kind, int rows, int c, OdirPenalty penalty, KernelPath path, int seed)
    {
        var (z, y) = Drawn(rows, c, seed);
        var oracle = new AffineOracle(z, y, c, kind != Kind.Vector, kind == Kind.Dirichlet, penalty.OffDiagonal, penalty.Intercept);
        var (theta, fit) = FitOf(kind, z, y, c, penalty, path.Options);
        var best = oracle.Optimum();
        double ours = oracle.Objective(theta), optimum = oracle.Objective(best);
        string what = $"{path} {kind} [{rows}x{c}] {penalty}";
        Assert.True(fit.Converged, $"{what}: not converged after {fit.Passes} passes");
        Assert.True(ours - optimum <= 1e-7 * optimum, $"{what}: objective {ours:R} vs optimum {optimum:R}");
        // parameters as close as the curvature allows: the objective's quadratic rise from the optimum is tiny
        Assert.True(oracle.CurvatureDistance(theta, best) <= 2e-7 * optimum, $"{what}: curvature distance {oracle.CurvatureDistance(theta, best):G3}");
        return (oracle, theta, fit);
    }

    /// <summary>
    /// Full matrices of many classes take quasi-Newton steps (L-BFGS on the sampled Hessian's per-class blocks):
    /// forced here from 3 classes on, they reach the same float64 optimum as the oracle's Newton on every path.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllPaths))]
    public void Quasi_newton_steps_reach_the_float64_optimum(KernelPath path)
    {
        var cases = new (Kind Kind, int Rows, int Classes, OdirPenalty Penalty)[]
        {
            (Kind.Matrix, 2000, 5, default), (Kind.Matrix, 1500, 4, new OdirPenalty(0.5, 0.1)),
            (Kind.Dirichlet, 2000, 5, default), (Kind.Dirichlet, 1500, 6, new OdirPenalty(2, 0.5)),
        };
        using var _ = AffineScaling.LimitNewtonClasses(2);
        foreach (var (kind, rows, c, penalty) in cases)
            Assert.InRange(AssertAtOptimum(kind, rows, c, penalty, path, rows + 7 * c).Fit.Iterations, 1, AffineScaling.MaxQuasiNewtonIterations);
    }

    /// <summary>
    /// 40 classes, beyond the sampled Newton Hessian: the fit converges to a point where the oracle's float64 gradient
    /// vanishes (the oracle's Newton is too slow for 1640 parameters), and matrix scaling, which contains vector
    /// scaling, fits at least as well as vector scaling.
    /// </summary>
    [Fact]
    public void Full_matrices_of_many_classes_reach_a_stationary_point()
    {
        const int rows = 2500, c = 40;
        var (z, y) = Drawn(rows, c, 40);
        var vector = VectorScalingCalibrator.Fit(z, y, c);
        foreach (var (kind, penalty) in new[] { (Kind.Matrix, default(OdirPenalty)), (Kind.Dirichlet, new OdirPenalty(1, 0.1)) })
        {
            var (theta, fit) = FitOf(kind, z, y, c, penalty, default);
            var oracle = new AffineOracle(z, y, c, full: true, kind == Kind.Dirichlet, penalty.OffDiagonal, penalty.Intercept);
            Assert.True(fit.Converged, $"{kind}: not converged after {fit.Passes} passes");
            double largest = oracle.Gradient(theta).Max(Math.Abs);
            Assert.True(largest <= 2e-5, $"{kind}: gradient {largest:G3} at the fit ({fit.Iterations} iterations, {fit.Passes} passes)");
            if (kind == Kind.Matrix) Assert.True(fit.NllAfter <= vector.NllAfter + 1e-6, $"matrix {fit.NllAfter} vs vector {vector.NllAfter}");
        }
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => MatrixScalingCalibrator.Fit(new float[257], [0], 257)).ParamName);
    }

    /// <summary>Past 64 classes vector scaling steps with each class's 2 x 2 Hessian block; it still reaches the optimum.</summary>
    [Fact]
    public void Vector_scaling_of_many_classes_reaches_the_optimum_with_block_steps()
    {
        const int rows = 1500, c = 70;
        var (z, y) = Drawn(rows, c, 77);
        var oracle = new AffineOracle(z, y, c, full: false, logSoftmax: false);
        double optimum = oracle.Objective(oracle.Optimum());
        foreach (var path in Paths.All)
        {
            var (theta, fit) = FitOf(Kind.Vector, z, y, c, default, path.Options);
            double ours = oracle.Objective(theta);
            Assert.True(fit.Converged, $"{path}: not converged after {fit.Passes} passes");
            Assert.True(ours - optimum <= 1e-7 * optimum, $"{path}: objective {ours:R} vs optimum {optimum:R} ({fit.Passes} passes)");
        }
    }

    /// <summary>
    /// Data drawn from softmax(w ⊙ z + b) (and from a full A): the fit recovers the parameters within five standard
    /// errors of the inverse Fisher information, after removing softmax's invariance by measuring every class
    /// against the last.
    /// </summary>
    [Theory]
    [InlineData(Kind.Vector)]
    [InlineData(Kind.Matrix)]
    public void Recovers_the_parameters_the_data_were_drawn_from(Kind kind)
    {
        const int rows = 20000, c = 4;
        double[] truth = kind == Kind.Vector
            ? [0.5, 1.5, 0.8, 1.2, 0.4, -0.3, 0.2, 0]
            : [0.9, 0.3, 0, -0.2, 0.1, 1.4, 0.2, 0, -0.3, 0, 0.6, 0.3, 0, 0, 0, 0, 0.5, -0.5, 0.2, 0];
        var probe = new AffineOracle(new float[c], [0], c, kind == Kind.Matrix, false);
        double[] Model(float[] x)
        {
            var s = new double[c];
            for (int k = 0; k < truth.Length; k++) s[probe.Parameters[k].Class] += truth[k] * (probe.Parameters[k].Feature == c ? 1 : x[probe.Parameters[k].Feature]);
            return Reference.Softmax(s.Select(v => (float)v).ToArray(), 1);
        }
        var (z, y) = Drawn(rows, c, 11, Model);
        var (theta, _) = FitOf(kind, z, y, c, default, default);
        var oracle = new AffineOracle(z, y, c, kind == Kind.Matrix, false);
        // measure against the last class: subtract its coefficient of each feature shared by every class
        double[] Relative(double[] t) => [.. t.Select((v, k) =>
        {
            var (i, a) = oracle.Parameters[k];
            int last = Array.FindIndex(oracle.Parameters, p => p.Class == c - 1 && p.Feature == a);
            bool shared = kind == Kind.Matrix || a == c;
            return shared ? v - t[last] : v;
        })];
        var kept = Enumerable.Range(0, theta.Length).Where(k => oracle.Parameters[k].Class != c - 1 || (kind == Kind.Vector && oracle.Parameters[k].Feature != c)).ToArray();
        var (_, h) = oracle.Derivatives(Relative(theta));
        var fisher = new double[kept.Length, kept.Length];
        for (int a = 0; a < kept.Length; a++)
            for (int b = 0; b < kept.Length; b++) fisher[a, b] = h[kept[a], kept[b]] * rows;
        var covariance = Invert(fisher);
        double[] ours = Relative(theta), source = Relative(truth);
        for (int a = 0; a < kept.Length; a++)
        {
            double sigma = Math.Sqrt(covariance[a, a]);
            Assert.True(Math.Abs(ours[kept[a]] - source[kept[a]]) <= 5 * sigma, $"{kind} parameter {oracle.Parameters[kept[a]]}: {ours[kept[a]]:F4} vs {source[kept[a]]:F4} (σ {sigma:F4})");
        }
    }

    private static double[,] Invert(double[,] m)
    {
        int n = m.GetLength(0);
        var a = new double[n, 2 * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) a[i, j] = m[i, j];
            a[i, n + i] = 1;
        }
        for (int col = 0; col < n; col++)
        {
            double pivot = a[col, col];
            for (int j = 0; j < 2 * n; j++) a[col, j] /= pivot;
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = a[r, col];
                for (int j = 0; j < 2 * n; j++) a[r, j] -= f * a[col, j];
            }
        }
        var inverse = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) inverse[i, j] = a[i, n + j];
        return inverse;
    }

    /// <summary>The pass's objective, gradient (penalty included) and vector scaling's Hessian vs central differences of the oracle.</summary>
    [Theory]
    [InlineData(Kind.Vector, 0, 0)]
    [InlineData(Kind.Matrix, 0.7, 0.3)]
    [InlineData(Kind.Dirichlet, 1.5, 0.2)]
    public unsafe void The_pass_derivatives_match_finite_differences(Kind kind, double lambda, double mu)
    {
        const int rows = 400, c = 5;
        var (z, y) = Drawn(rows, c, 5);
        var oracle = new AffineOracle(z, y, c, kind != Kind.Vector, kind == Kind.Dirichlet, lambda, mu);
        var random = new Random(9);
        var theta = oracle.Identity().Select(v => v + 0.3 * TestData.Normal(random)).ToArray();
        var layout = new AffineLayout(c, kind != Kind.Vector, kind == Kind.Dirichlet, kind == Kind.Vector);
        foreach (var path in Paths.All)
        {
            AffineScaling.Objective at;
            if (path.Options.Accelerator is { } accelerator)
            {
                using var dz = accelerator.Allocate1D(z);
                using var dy = accelerator.Allocate1D(y);
                using var onDevice = new DeviceRows(accelerator.DefaultStream, dz.View, dy.View, layout);
                at = AffineScaling.Evaluate(onDevice, layout, new OdirPenalty(lambda, mu), theta, default);
            }
            else
            {
                fixed (float* zz = z)
                fixed (int* yy = y)
                    at = AffineScaling.Evaluate(new PinnedRows(zz, yy, rows), layout, new OdirPenalty(lambda, mu), theta, path.Options.ResolveCpu());
            }
            Assert.Equal(oracle.Objective(theta), at.F, 1e-5);
            var (g, h) = oracle.Derivatives(theta);
            for (int k = 0; k < theta.Length; k++)
            {
                const double step = 1e-5;
                var up = theta.ToArray();
                var down = theta.ToArray();
                up[k] += step;
                down[k] -= step;
                double difference = (oracle.Objective(up) - oracle.Objective(down)) / (2 * step);
                Assert.True(Math.Abs(difference - g[k]) <= 1e-6, $"oracle gradient {k}: {g[k]} vs {difference}");
                Assert.True(Math.Abs(at.G[k] - difference) <= 2e-5, $"{path} {kind} gradient {k}: {at.G[k]} vs {difference}");
            }
            if (at.H is { } hessian)
                for (int k = 0; k < theta.Length; k++)
                    for (int l = 0; l < theta.Length; l++)
                        Assert.True(Math.Abs(hessian[k * theta.Length + l] - h[k, l]) <= 2e-5, $"{path} Hessian [{k}, {l}]: {hessian[k * theta.Length + l]} vs {h[k, l]}");
        }
    }

    [Theory]
    [InlineData(Kind.Vector)]
    [InlineData(Kind.Matrix)]
    [InlineData(Kind.Dirichlet)]
    public void Applied_saved_and_loaded_they_give_the_models_probabilities(Kind kind)
    {
        const int rows = 333, c = 7;
        var (z, y) = Drawn(rows, c, 21);
        var (theta, fit) = FitOf(kind, z, y, c, new OdirPenalty(0.1, 0.1), default);
        var calibrator = fit.Calibrator;
        var oracle = new AffineOracle(z, y, c, kind != Kind.Vector, kind == Kind.Dirichlet);
        var output = TestData.Poisoned(z.Length, TestData.Poison);
        calibrator.Apply(z, output, c);
        for (int r = 0; r < rows; r++)
        {
            var (p, _) = oracle.Row(r, theta);
            for (int j = 0; j < c; j++)
                Assert.True(Math.Abs(output[r * c + j] - p[j]) <= 2e-6 + 1e-5 * p[j], $"{kind} [{r}, {j}]: {output[r * c + j]} vs {p[j]}");
        }
        string json = calibrator.ToJson();
        Assert.Contains($"\"kind\": \"{kind.ToString().ToLowerInvariant()}\"", json);
        var loaded = MulticlassCalibrator.FromJson(json);
        Assert.Equal(calibrator, loaded);
        Assert.Equal(calibrator.GetHashCode(), loaded.GetHashCode());
        var again = new float[z.Length];
        loaded.Apply(z, again, c);
        Assert.Equal(output, again);
        var inPlace = z.ToArray();
        calibrator.Apply(inPlace, inPlace, c);
        Assert.Equal(output, inPlace);
        Assert.Contains("7 classes", Assert.Throws<ArgumentException>(() => calibrator.Apply(new float[12], new float[12], 6)).Message);
    }

    [Fact]
    public void Bad_data_gives_a_finite_documented_result()
    {
        const int c = 4;
        var (z, y) = Drawn(800, c, 3);
        // class 3 never appears: without a penalty its bias keeps falling and the fit stops at its iteration limit
        var absent = y.Select(l => l == 3 ? 0 : l).ToArray();
        var vector = VectorScalingCalibrator.Fit(z, absent, c);
        Assert.All(vector.Calibrator.Bias.Concat(vector.Calibrator.Scale), v => Assert.True(float.IsFinite(v)));
        Assert.True(vector.NllAfter < vector.NllBefore);
        var penalised = MatrixScalingCalibrator.Fit(z, absent, c, new OdirPenalty(1, 1));
        Assert.True(penalised.Converged);
        Assert.All(penalised.Calibrator.Weights, v => Assert.True(float.IsFinite(v)));
        // separable: every label is its row's argmax by a wide margin
        var separable = Enumerable.Range(0, 800).Select(r => Array.IndexOf(z, z.AsSpan(r * c, c).ToArray().Max(), r * c) - r * c).ToArray();
        var matrix = MatrixScalingCalibrator.Fit(z, separable, c);
        Assert.All(matrix.Calibrator.Weights.Concat(matrix.Calibrator.Bias), v => Assert.True(float.IsFinite(v)));
        Assert.True(matrix.NllAfter < 0.1 * matrix.NllBefore);
        Assert.InRange(matrix.Iterations, 1, AffineScaling.MaxIterations);
        // constant logits: only the biases carry information, and they give the label frequencies
        var constant = Enumerable.Range(0, 800 * c).Select(i => (float)(i % c)).ToArray();
        var flat = VectorScalingCalibrator.Fit(constant, y, c);
        Assert.True(flat.Converged);
        var p = new float[c];
        flat.Calibrator.Apply(constant.AsSpan(0, c), p, c);
        for (int j = 0; j < c; j++) Assert.Equal(y.Count(l => l == j) / 800.0, p[j], 1e-4);
    }

    /// <summary>Logits of ±1e4, one row, one class in every label: finite parameters, an NLL that does not rise, on every CPU path.</summary>
    [Fact]
    public void Extreme_inputs_give_finite_parameters()
    {
        const int c = 3;
        var random = new Random(13);
        var huge = Enumerable.Range(0, 300 * c).Select(_ => (float)(1e4 * (2 * random.NextDouble() - 1))).ToArray();
        var labels = Enumerable.Range(0, 300).Select(_ => random.Next(c)).ToArray();
        foreach (var path in Paths.All)
            foreach (var kind in new[] { Kind.Vector, Kind.Matrix, Kind.Dirichlet })
            {
                foreach (var (z, y) in new[] { (huge, labels), (huge[..c], labels[..1]), (huge, new int[300]) })
                {
                    var (theta, fit) = FitOf(kind, z, y, c, default, path.Options);
                    Assert.All(theta, v => Assert.True(double.IsFinite(v), $"{path} {kind}: {v}"));
                    Assert.True(fit.NllAfter <= fit.NllBefore + 1e-6 * (1 + fit.NllBefore), $"{path} {kind} [{y.Length} rows]: {fit.NllBefore} -> {fit.NllAfter}");
                    var p = new float[z.Length];
                    fit.Calibrator.Apply(z, p, c);
                    Assert.All(p, v => Assert.InRange(v, 0f, 1f));
                }
            }
        // separable at this scale: T* at the boundary, and the mixture weights still a valid point of the simplex
        var ets = EnsembleTemperatureCalibrator.Fit(huge, labels, c);
        Assert.Equal(1f, ets.Calibrator.Weights.Sum(), 1e-5f);
        Assert.True(double.IsFinite(ets.NllAfter) && ets.NllAfter <= ets.NllBefore + 1e-9);
        Assert.NotNull(MulticlassCalibrator.FromJson(ets.Calibrator.ToJson()));
    }

    /// <summary>Rows visited in several blocks (as the tool streams a file) give the fit of the rows in one block.</summary>
    private sealed unsafe class SplitRows(float* z, int* y, long rows, int c, long block) : HostRows
    {
        public override long Rows => rows;

        public override void ForEachBlock(FitBlock visit)
        {
            for (long start = 0; start < rows; start += block) visit(z + start * c, y + start, start, Math.Min(block, rows - start));
        }
    }

    [Theory]
    [InlineData(Kind.Vector)]
    [InlineData(Kind.Matrix)]
    [InlineData(Kind.Dirichlet)]
    public unsafe void Rows_in_blocks_fit_as_rows_in_one_block(Kind kind)
    {
        const int c = 6, rows = 9001;
        var (z, y) = Drawn(rows, c, 51);
        var layout = new AffineLayout(c, kind != Kind.Vector, kind == Kind.Dirichlet, kind == Kind.Vector);
        fixed (float* zz = z)
        fixed (int* yy = y)
        {
            var whole = AffineScaling.Fit(new PinnedRows(zz, yy, rows), layout, default, default(ComputeOptions).ResolveCpu());
            var split = AffineScaling.Fit(new SplitRows(zz, yy, rows, c, 1000), layout, default, default(ComputeOptions).ResolveCpu());
            var oracle = new AffineOracle(z, y, c, kind != Kind.Vector, kind == Kind.Dirichlet);
            Assert.True(split.Converged);
            Assert.Equal(oracle.Objective(whole.Theta), oracle.Objective(split.Theta), 1e-10);
        }
    }

    [Fact]
    public void Int64_labels_fit_exactly_as_int32_labels()
    {
        const int c = 5;
        var (z, y) = Drawn(900, c, 31);
        long[] wide = [.. y.Select(v => (long)v)];
        Assert.Equal(VectorScalingCalibrator.Fit(z, y, c).Calibrator.ToJson(), VectorScalingCalibrator.Fit(z, wide, c).Calibrator.ToJson());
        Assert.Equal(MatrixScalingCalibrator.Fit(z, y, c).Calibrator.ToJson(), MatrixScalingCalibrator.Fit(z, wide, c).Calibrator.ToJson());
        Assert.Equal(DirichletCalibrator.Fit(z, y, c).Calibrator.ToJson(), DirichletCalibrator.Fit(z, wide, c).Calibrator.ToJson());
        Assert.Equal(EnsembleTemperatureCalibrator.Fit(z, y, c).Calibrator.ToJson(), EnsembleTemperatureCalibrator.Fit(z, wide, c).Calibrator.ToJson());
        wide[7] = 1L << 40;
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => VectorScalingCalibrator.Fit(z, wide, c)).ParamName);
    }

    [Fact]
    public void Tensors_of_logits_fit_as_their_rows_do()
    {
        const int c = 5;
        var (z, y) = Drawn(4 * 60, c, 41);
        var tensor = new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(z, [4, 60, c], []);
        long[] wide = [.. y.Select(v => (long)v)];
        Assert.Equal(VectorScalingCalibrator.Fit(z, y, c).Calibrator.ToJson(), VectorScalingCalibrator.Fit(tensor, y).Calibrator.ToJson());
        Assert.Equal(MatrixScalingCalibrator.Fit(z, y, c).Calibrator.ToJson(), MatrixScalingCalibrator.Fit(tensor, wide).Calibrator.ToJson());
        Assert.Equal(DirichletCalibrator.Fit(z, y, c, new OdirPenalty(1, 1)).Calibrator.ToJson(), DirichletCalibrator.Fit(tensor, y, new OdirPenalty(1, 1)).Calibrator.ToJson());
        Assert.Equal(EnsembleTemperatureCalibrator.Fit(z, y, c).Calibrator.ToJson(), EnsembleTemperatureCalibrator.Fit(tensor, wide).Calibrator.ToJson());
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => VectorScalingCalibrator.Fit(new System.Numerics.Tensors.ReadOnlyTensorSpan<float>(z, [4, 60, c], []), y[1..])).ParamName);
    }

    [Fact]
    public void Bad_arguments_are_one_line_errors()
    {
        Assert.Equal("logits", Assert.Throws<ArgumentException>(() => VectorScalingCalibrator.Fit([], [], 3)).ParamName);
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => VectorScalingCalibrator.Fit([1f, 2f], [0, 0], 1)).ParamName);
        Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => MatrixScalingCalibrator.Fit([1f, 2f], [2], 2)).ParamName);
        Assert.Contains("[1, 0]", Assert.Throws<ArgumentException>(() => DirichletCalibrator.Fit([1f, 2f, float.NaN, 0f], [0, 1], 2)).Message);
        Assert.Equal("penalty", Assert.Throws<ArgumentOutOfRangeException>(() => MatrixScalingCalibrator.Fit([1f, 2f], [0], 2, new OdirPenalty(-1, 0))).ParamName);
        Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => MatrixScalingCalibrator.Fit(new float[257], [0], 257)).ParamName);
    }

    /// <summary>
    /// Fits on device views reach the scalar path's optimum (both pass in float64; only the order of the sums
    /// differs), apply as the float64 model (in place too, every output written), and check labels and logits on the
    /// device with the host's errors.
    /// </summary>
    [SkippableTheory]
    [MemberData(nameof(GpuAccelerators))]
    public void Device_views_fit_and_apply_as_the_scalar_path(string name)
    {
        var accelerator = Paths.Device(name);
        Skip.If(accelerator is null, Paths.NoCuda);
        var stream = accelerator!.DefaultStream;
        var scalar = new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 };
        foreach (var (kind, rows, c, penalty) in new[] { (Kind.Vector, 1203, 5, default(OdirPenalty)), (Kind.Vector, 500, 70, default), (Kind.Matrix, 4500, 4, default), (Kind.Dirichlet, 907, 6, new OdirPenalty(0.5, 0.2)) })
        {
            var (z, y) = Drawn(rows, c, rows + 3 * c);
            using var dz = accelerator.Allocate1D(z);
            using var dy = accelerator.Allocate1D(y);
            MulticlassFit<MulticlassCalibrator> device = kind switch
            {
                Kind.Vector => Widen(VectorScalingCalibrator.Fit(stream, dz.View, dy.View, c)),
                Kind.Matrix => Widen(MatrixScalingCalibrator.Fit(stream, dz.View, dy.View, c, penalty)),
                _ => Widen(DirichletCalibrator.Fit(stream, dz.View, dy.View, c, penalty)),
            };
            var (hostTheta, host) = FitOf(kind, z, y, c, penalty, scalar);
            double[] theta = device.Calibrator switch
            {
                VectorScalingCalibrator v => [.. v.Scale.Select(x => (double)x), .. v.Bias.Select(x => (double)x)],
                MatrixScalingCalibrator m => [.. m.Weights.Select(x => (double)x), .. m.Bias.Select(x => (double)x)],
                DirichletCalibrator d => [.. d.Weights.Select(x => (double)x), .. d.Bias.Select(x => (double)x)],
                _ => throw new InvalidOperationException(),
            };
            var oracle = new AffineOracle(z, y, c, kind != Kind.Vector, kind == Kind.Dirichlet, penalty.OffDiagonal, penalty.Intercept);
            string what = $"{name} {kind} [{rows}x{c}]";
            Assert.True(device.Converged, $"{what}: not converged after {device.Passes} passes");
            Assert.True(Math.Abs(oracle.Objective(theta) - oracle.Objective(hostTheta)) <= 1e-9 * oracle.Objective(hostTheta), $"{what}: objective {oracle.Objective(theta):R} vs the scalar path's {oracle.Objective(hostTheta):R}");
            Assert.Equal(host.NllBefore, device.NllBefore, 1e-12);
            Assert.Equal(host.NllAfter, device.NllAfter, 1e-9);

            using var dp = accelerator.Allocate1D(TestData.Poisoned(z.Length, TestData.Poison));
            device.Calibrator.Apply(stream, dz.View, dp.View, c);
            stream.Synchronize();
            var output = dp.GetAsArray1D();
            for (int r = 0; r < rows; r++)
            {
                var (p, _) = oracle.Row(r, theta);
                for (int j = 0; j < c; j++)
                    Assert.True(Math.Abs(output[r * c + j] - p[j]) <= 2e-6 + 1e-5 * p[j], $"{what} apply [{r}, {j}]: {output[r * c + j]} vs {p[j]}");
            }
            device.Calibrator.Apply(stream, dz.View, dz.View, c);
            stream.Synchronize();
            Assert.Equal(output, dz.GetAsArray1D());
        }

        var (z0, y0) = Drawn(40, 3, 1);
        y0[17] = 3;
        using (var dz = accelerator.Allocate1D(z0))
        using (var dy = accelerator.Allocate1D(y0))
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => VectorScalingCalibrator.Fit(stream, dz.View, dy.View, 3));
            Assert.Equal("labels", e.ParamName);
            Assert.Contains("labels[17] is 3", e.Message);
            Assert.Equal("labels", Assert.Throws<ArgumentOutOfRangeException>(() => EnsembleTemperatureCalibrator.Fit(stream, dz.View, dy.View, 3)).ParamName);
        }
        y0[17] = 0;
        z0[3 * 11 + 2] = float.PositiveInfinity;
        using (var dz = accelerator.Allocate1D(z0))
        using (var dy = accelerator.Allocate1D(y0))
        {
            Assert.Contains("logits[11, 2]", Assert.Throws<ArgumentException>(() => DirichletCalibrator.Fit(stream, dz.View, dy.View, 3)).Message);
            Assert.Contains("logits[11, 2]", Assert.Throws<ArgumentException>(() => EnsembleTemperatureCalibrator.Fit(stream, dz.View, dy.View, 3)).Message);
            using var wide = accelerator.Allocate1D<float>(257);
            Assert.Equal("classes", Assert.Throws<ArgumentOutOfRangeException>(() => MatrixScalingCalibrator.Fit(stream, wide.View, dy.View.SubView(0, 1), 257)).ParamName);
        }
    }

    public static IEnumerable<object[]> GpuAccelerators() => FastCalib.Tests.Backends.GpuTests.Accelerators();

    [Theory]
    [InlineData("{\"kind\": \"vector\", \"Scale\": [1, 2], \"Bias\": [0, 0, 0]}", "3 weights")]
    [InlineData("{\"kind\": \"vector\", \"Scale\": [1], \"Bias\": [0]}", "at least 2")]
    [InlineData("{\"kind\": \"matrix\", \"Weights\": [1, 0, 0], \"Bias\": [0, 0]}", "4 weights")]
    [InlineData("{\"kind\": \"dirichlet\", \"Weights\": [1, 0, 0, 1]}", "bias per class")]
    [InlineData("{\"kind\": \"ets\", \"Temperature\": 1.5, \"Weights\": [0.5, 0.6, 0]}", "sum to 1")]
    [InlineData("{\"kind\": \"ets\", \"Temperature\": 1.5, \"Weights\": [1.5, -0.5, 0]}", "in [0, 1]")]
    [InlineData("{\"kind\": \"ets\", \"Temperature\": -1, \"Weights\": [1, 0, 0]}", "greater than 0")]
    public void Saved_files_with_invalid_parameters_are_refused(string json, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => MulticlassCalibrator.FromJson(json));
        Assert.Contains(message, e.Message);
    }
}
