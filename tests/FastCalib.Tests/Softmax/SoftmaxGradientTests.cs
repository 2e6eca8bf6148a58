using FsCheck.Xunit;
using Xunit;

namespace FastCalib.Tests.Softmax;

using Softmax = FastCalib.Softmax;

/// <summary>
/// The backward passes against central finite differences of the float64 forward reference: the loss
/// L(z, T) = Σ g · softmax(z / T) (or Σ g · log_softmax(z / T)) is differentiated numerically in z and in T.
/// </summary>
[Properties(Arbitrary = new[] { typeof(Arbitraries) }, MaxTest = 15)]
public class SoftmaxGradientTests
{
    [Property]
    public void Backward_matches_finite_differences(SoftmaxCase generated)
    {
        // small rows and moderate logits keep the numerical derivative accurate
        var c = generated with { Rows = Math.Min(generated.Rows, 3), Cols = Math.Min(generated.Cols, 40), Scale = Math.Min(generated.Scale, 3), Temperature = Math.Clamp(generated.Temperature, 0.2f, 20f) };
        var z = c.Logits();
        var g = c.Gradient();
        var p = SoftmaxPropertyTests.ReferenceProbabilities(z, c);
        var lp = z.Select((_, i) => 0f).ToArray();
        for (int r = 0; r < c.Rows; r++)
        {
            var l = Reference.LogSoftmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
            for (int j = 0; j < c.Cols; j++) lp[r * c.Cols + j] = (float)l[j];
        }
        foreach (var path in Paths.All)
        {
            var dz = new float[z.Length];
            double dT = Softmax.BackwardWithTemperature(z, p, g, dz, c.Cols, c.Temperature, path.Options);
            Compare(z, g, c, dz, dT, log: false, path);
            double dTLog = Softmax.LogBackwardWithTemperature(z, lp, g, dz, c.Cols, c.Temperature, path.Options);
            Compare(z, g, c, dz, dTLog, log: true, path);
        }
    }

    private static void Compare(float[] z, float[] g, SoftmaxCase c, float[] dz, double dT, bool log, KernelPath path)
    {
        double Loss(double[] zz, double t)
        {
            double loss = 0;
            for (int r = 0; r < c.Rows; r++)
            {
                var row = zz.Skip(r * c.Cols).Take(c.Cols).Select(v => v / t).ToArray();
                double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
                for (int j = 0; j < c.Cols; j++)
                {
                    double logp = row[j] - max - Math.Log(sum);
                    loss += g[r * c.Cols + j] * (log ? logp : Math.Exp(logp));
                }
            }
            return loss;
        }

        var zd = z.Select(v => (double)v).ToArray();
        double scale = 0;
        for (int i = 0; i < z.Length; i++)
        {
            double h = 1e-4 * Math.Max(1, Math.Abs(zd[i]));
            double keep = zd[i];
            zd[i] = keep + h;
            double up = Loss(zd, c.Temperature);
            zd[i] = keep - h;
            double down = Loss(zd, c.Temperature);
            zd[i] = keep;
            double numeric = (up - down) / (2 * h);
            scale = Math.Max(scale, Math.Abs(numeric));
            Tolerance.AssertClose(dz[i], numeric, 1e-4 * (Math.Abs(numeric) + 1) / c.Temperature * (1 + Math.Abs(keep)), $"{path} {(log ? "log " : "")}{c}: dz[{i}] vs finite difference");
        }
        double ht = 1e-5 * c.Temperature;
        double numericT = (Loss(zd, c.Temperature + ht) - Loss(zd, c.Temperature - ht)) / (2 * ht);
        // The kernel sees probabilities rounded to float32 (relative error u = 2^-24 each): dL/dT = -(1/T) Σ dz_j z_j then
        // carries up to Σ_j |z_j| / T · p_j (|g_j| + Σ_k |g_k p_k|) / T · 4u, which is large next to a small dL/dT when
        // the distribution is peaked (low T, large logits).
        double rounding = 0;
        for (int r = 0; r < c.Rows; r++)
        {
            var logp = Reference.LogSoftmax(z.AsSpan(r * c.Cols, c.Cols), c.Temperature);
            double spread = 0;
            for (int j = 0; j < c.Cols; j++) spread += Math.Abs(g[r * c.Cols + j]) * Math.Exp(logp[j]);
            for (int j = 0; j < c.Cols; j++)
                rounding += Math.Abs(z[r * c.Cols + j]) * Math.Exp(logp[j]) * (Math.Abs(g[r * c.Cols + j]) + spread) / (c.Temperature * c.Temperature) * 4.0 / (1 << 24);
        }
        Tolerance.AssertClose(dT, numericT, 1e-3 * (Math.Abs(numericT) + scale * z.Sum(v => Math.Abs(v)) / c.Temperature + 1e-6) + rounding, $"{path} {(log ? "log " : "")}{c}: dL/dT vs finite difference");
    }
}
