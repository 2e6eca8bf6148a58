using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Calibrators;

/// <summary>
/// Beta calibration against an independent solver (iteratively reweighted least squares with a cofactor inverse),
/// recovery of known parameters, the refit when a weight comes out negative (as betacal does), application by the
/// formula, JSON round trips and refusals.
/// </summary>
public class BetaCalibratorTests
{
    private static (float[] Scores, int[] Targets) Draw(int n, double a, double b, double c, int seed)
    {
        var random = new Random(seed);
        var s = new float[n];
        var y = new int[n];
        for (int i = 0; i < n; i++)
        {
            s[i] = (float)(0.001 + 0.998 * random.NextDouble());
            double logit = c + a * Math.Log(s[i]) - b * Math.Log(1 - s[i]);
            y[i] = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
        }
        return (s, y);
    }

    /// <summary>IRLS for logistic regression on the given feature columns plus an intercept (weights, then intercept).</summary>
    private static double[] Irls(double[][] columns, int[] y)
    {
        int d = columns.Length + 1, n = y.Length;
        var w = new double[d];
        for (int iteration = 0; iteration < 60; iteration++)
        {
            var xtwx = new double[d, d];
            var xtr = new double[d];
            for (int i = 0; i < n; i++)
            {
                var x = columns.Select(col => col[i]).Append(1.0).ToArray();
                double eta = x.Zip(w, (u, v) => u * v).Sum(), p = 1 / (1 + Math.Exp(-eta));
                for (int a = 0; a < d; a++)
                {
                    xtr[a] += x[a] * (y[i] - p);
                    for (int b = 0; b < d; b++) xtwx[a, b] += x[a] * x[b] * p * (1 - p);
                }
            }
            var delta = Inverse(xtwx, d);
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) w[a] += delta[a, b] * xtr[b];
        }
        return w;
    }

    /// <summary>The inverse of a 2x2 or 3x3 matrix by cofactors.</summary>
    private static double[,] Inverse(double[,] m, int d)
    {
        if (d == 2)
        {
            double det2 = m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0];
            return new[,] { { m[1, 1] / det2, -m[0, 1] / det2 }, { -m[1, 0] / det2, m[0, 0] / det2 } };
        }
        var inv = new double[3, 3];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++)
            {
                int r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
                inv[r, c] = m[r1, c1] * m[r2, c2] - m[r1, c2] * m[r2, c1];
            }
        double det = m[0, 0] * inv[0, 0] + m[0, 1] * inv[1, 0] + m[0, 2] * inv[2, 0];
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) inv[r, c] /= det;
        return inv;
    }

    private static double[][] Features(float[] s) =>
    [
        s.Select(v => Math.Log(Math.Clamp(v, 1e-12, 1 - 1e-12))).ToArray(),
        s.Select(v => -Math.Log(1 - Math.Clamp(v, 1e-12, 1 - 1e-12))).ToArray(),
    ];

    [Fact]
    public void Beta_fit_is_the_maximum_likelihood_an_independent_solver_finds_and_recovers_the_source()
    {
        var (s, y) = Draw(6_000, 1.3, 0.6, -0.2, 1);
        var fit = BetaCalibrator.Fit(s, y);
        var reference = Irls(Features(s), y);
        Assert.Equal(reference[0], fit.A, 6);
        Assert.Equal(reference[1], fit.B, 6);
        Assert.Equal(reference[2], fit.C, 6);
        // int64 targets give the same fit
        Assert.Equal(fit, BetaCalibrator.Fit(s, y.Select(v => (long)v).ToArray()));

        var (big, bigY) = Draw(200_000, 1.3, 0.6, -0.2, 2);
        var recovered = BetaCalibrator.Fit(big, bigY);
        Assert.InRange(recovered.A, 1.2, 1.4);
        Assert.InRange(recovered.B, 0.5, 0.7);
        Assert.InRange(recovered.C, -0.35, -0.05);
    }

    /// <summary>
    /// The fused passes give the independent solver's fit on every path (the GPU backend on host spans and device
    /// views on ILGPU's CPU accelerator, CUDA where there is one), with any thread count the same parameters bit for
    /// bit, and Platt scaling the same on every path as on the default one; device views are checked on the device.
    /// </summary>
    [Fact]
    public void Every_path_and_device_views_fit_as_the_independent_solver()
    {
        var (s, y) = Draw(5_001, 1.3, 0.6, -0.2, 4);
        var reference = Irls(Features(s), y);
        var platt = PlattCalibrator.Fit(s, y);
        var one = BetaCalibrator.Fit(s, y, options: new ComputeOptions { MaxThreads = 1 });
        Assert.Equal(one, BetaCalibrator.Fit(s, y, options: new ComputeOptions { MaxThreads = 2 }));
        var accelerators = new[] { Paths.CpuAccelerator.Value, Paths.Cuda.Value }.OfType<Accelerator>();
        foreach (var path in Paths.All)
        {
            var fit = BetaCalibrator.Fit(s, y, options: path.Options);
            Assert.Equal(reference[0], fit.A, 6);
            Assert.Equal(reference[1], fit.B, 6);
            Assert.Equal(reference[2], fit.C, 6);
            var p = PlattCalibrator.Fit(s, y, true, path.Options);
            Assert.Equal(platt.A, p.A, 1e-9 * Math.Abs(platt.A));
            Assert.Equal(platt.B, p.B, 1e-9 * (1 + Math.Abs(platt.B)));
        }
        foreach (var accelerator in accelerators)
        {
            var stream = accelerator.DefaultStream;
            using var ds = accelerator.Allocate1D(s);
            using var dy = accelerator.Allocate1D(y);
            var fit = BetaCalibrator.Fit(stream, ds.View, dy.View);
            Assert.Equal(reference[0], fit.A, 6);
            Assert.Equal(reference[1], fit.B, 6);
            Assert.Equal(reference[2], fit.C, 6);
            var p = PlattCalibrator.Fit(stream, ds.View, dy.View);
            Assert.Equal(platt.A, p.A, 1e-9 * Math.Abs(platt.A));
            // the refit without a feature, constant scores and one class without smoothing, as on the host
            var (sd, yd) = Draw(3_000, -0.8, 0.9, 0.1, 3);
            using (var ds2 = accelerator.Allocate1D(sd))
            using (var dy2 = accelerator.Allocate1D(yd))
                Assert.Equal(0, BetaCalibrator.Fit(stream, ds2.View, dy2.View).A);
            using (var flat = accelerator.Allocate1D(Enumerable.Repeat(0.3f, 100).ToArray()))
            using (var labels = accelerator.Allocate1D(Enumerable.Range(0, 100).Select(i => i % 4 == 0 ? 1 : 0).ToArray()))
            {
                var constant = BetaCalibrator.Fit(stream, flat.View, labels.View);
                Assert.Equal(BetaCalibrator.Fit(Enumerable.Repeat(0.3f, 100).ToArray(), Enumerable.Range(0, 100).Select(i => i % 4 == 0 ? 1 : 0).ToArray()), constant);
            }
            using (var none = accelerator.Allocate1D(new int[100]))
            using (var flat = accelerator.Allocate1D(Enumerable.Repeat(0.3f, 100).ToArray()))
                Assert.Contains("only one class", Assert.Throws<ArgumentException>(() => BetaCalibrator.Fit(stream, flat.View, none.View)).Message);
            var bad = s.ToArray();
            bad[77] = 1.5f;
            using (var db = accelerator.Allocate1D(bad))
            {
                var e = Assert.Throws<ArgumentException>(() => BetaCalibrator.Fit(stream, db.View, dy.View));
                Assert.Equal("scores", e.ParamName);
                Assert.Contains("scores[77] is 1.5", e.Message);
                Assert.NotNull(PlattCalibrator.Fit(stream, db.View, dy.View));   // Platt takes any finite score
            }
            // applied on the device: as on the host (float64 there, so within float rounding), every output written, in place too
            var withNaN = s.ToArray();
            withNaN[9] = float.NaN;
            using (var dn = accelerator.Allocate1D(withNaN))
            using (var dp = accelerator.Allocate1D(TestData.Poisoned(s.Length, TestData.Poison)))
            {
                foreach (BinaryCalibrator calibrator in new BinaryCalibrator[] { fit, p, IsotonicCalibrator.Fit(s, y), HistogramCalibrator.Fit(s, y, 10) })
                {
                    var expected = calibrator.Apply(withNaN);
                    calibrator.Apply(stream, dn.View, dp.View);
                    var got = dp.GetAsArray1D();
                    for (int i = 0; i < s.Length; i++)
                        Assert.True(float.IsNaN(expected[i]) ? float.IsNaN(got[i]) : Math.Abs(got[i] - expected[i]) <= 1e-6, $"{calibrator.GetType().Name} [{i}]: {got[i]} vs {expected[i]}");
                    using var inPlace = accelerator.Allocate1D(withNaN);
                    calibrator.Apply(stream, inPlace.View, inPlace.View);
                    Assert.Equal(got, inPlace.GetAsArray1D());
                }
            }
            var badY = y.ToArray();
            badY[5] = 2;
            using (var dby = accelerator.Allocate1D(badY))
                Assert.Contains("targets[5] is 2", Assert.Throws<ArgumentException>(() => PlattCalibrator.Fit(stream, ds.View, dby.View)).Message);
        }
    }

    [Fact]
    public void A_negative_weight_is_dropped_and_the_rest_refitted()
    {
        // the source decreases in ln s: the full fit's A is negative, so A = 0 and (B, C) fit −ln(1 − s) alone
        var (s, y) = Draw(6_000, -0.8, 0.9, 0.1, 3);
        var full = Irls(Features(s), y);
        Assert.True(full[0] < 0, $"the data should give a negative A, got {full[0]}");
        var fit = BetaCalibrator.Fit(s, y);
        Assert.Equal(0, fit.A);
        var reduced = Irls([Features(s)[1]], y);
        Assert.Equal(reduced[0], fit.B, 6);
        Assert.Equal(reduced[1], fit.C, 6);
    }

    [Fact]
    public void Apply_follows_the_formula_round_trips_through_json_and_refuses_bad_input()
    {
        var calibrator = new BetaCalibrator(1.1, 0.4, -0.3);
        float[] scores = [0f, 1e-30f, 0.2f, 0.5f, 0.999f, 1f, float.NaN];
        var p = calibrator.Apply(scores);
        for (int i = 0; i < scores.Length - 1; i++)
        {
            double v = Math.Clamp(scores[i], 1e-12, 1 - 1e-12);
            Assert.Equal((float)(1 / (1 + Math.Exp(-(-0.3 + 1.1 * Math.Log(v) - 0.4 * Math.Log(1 - v))))), p[i]);
            Assert.True(p[i] >= 0 && p[i] <= 1);
        }
        Assert.True(float.IsNaN(p[^1]));
        var loaded = BinaryCalibrator.FromJson(calibrator.ToJson());
        Assert.Equal(calibrator, loaded);
        Assert.Contains("\"kind\": \"beta\"", calibrator.ToJson());
        Assert.Equal(p, loaded.Apply(scores));

        Assert.Throws<ArgumentException>(() => BetaCalibrator.Fit([0.5f, 1.5f], [0, 1]));
        Assert.Throws<ArgumentException>(() => BetaCalibrator.Fit([0.2f, 0.7f], [1, 1]));
        var smoothed = BetaCalibrator.Fit([0.2f, 0.7f], [1, 1], smoothTargets: true);
        Assert.True(double.IsFinite(smoothed.A) && double.IsFinite(smoothed.B) && double.IsFinite(smoothed.C));
        var constant = BetaCalibrator.Fit([0.4f, 0.4f, 0.4f, 0.4f], [1, 0, 1, 1]);
        Assert.Equal(new BetaCalibrator(0, 0, Math.Log(3.0)), constant);
        Assert.Throws<ArgumentException>(() => calibrator.Apply([0.5f], new float[2]));
    }
}
