namespace FastCalib.Tests.Calibrators;

/// <summary>
/// An independent float64 model of vector scaling, matrix scaling and Dirichlet calibration for the tests: the
/// objective mean −ln softmax(s)_y + λ/(C(C−1)) Σ_{i≠j} A_ij² + μ/C Σ b_i² with s = A x + b (x the logits or their
/// log-softmax), its gradient and Hessian written parameter by parameter as (class i, feature a) pairs with the bias
/// as feature C, and a plain damped Newton minimiser run to a gradient of 1e-11.
/// </summary>
internal sealed class AffineOracle(float[] z, int[] labels, int classes, bool full, bool logSoftmax, double lambda = 0, double mu = 0)
{
    public int Classes => classes;

    /// <summary>(class, feature) of each parameter in the library's order: the weights, then the biases.</summary>
    public (int Class, int Feature)[] Parameters { get; } = Layout(classes, full);

    private static (int, int)[] Layout(int c, bool full)
    {
        var list = new List<(int, int)>();
        for (int i = 0; i < c; i++)
            if (full) for (int a = 0; a < c; a++) list.Add((i, a));
            else list.Add((i, i));
        for (int i = 0; i < c; i++) list.Add((i, c));
        return [.. list];
    }

    public double[] Identity()
    {
        var theta = new double[Parameters.Length];
        for (int k = 0; k < theta.Length; k++) theta[k] = Parameters[k].Class == Parameters[k].Feature ? 1 : 0;
        return theta;
    }

    /// <summary>x̃ = [x, 1] of a row.</summary>
    public double[] Features(int row)
    {
        var x = new double[classes + 1];
        for (int j = 0; j < classes; j++) x[j] = z[row * classes + j];
        if (logSoftmax)
        {
            var log = Reference.LogSoftmax(z.AsSpan(row * classes, classes), 1);
            for (int j = 0; j < classes; j++) x[j] = log[j];
        }
        x[classes] = 1;
        return x;
    }

    /// <summary>softmax(A x + b) of a row, and ln of its label's probability.</summary>
    public (double[] P, double LogPy) Row(int row, double[] theta)
    {
        var x = Features(row);
        var s = new double[classes];
        for (int k = 0; k < theta.Length; k++) s[Parameters[k].Class] += theta[k] * x[Parameters[k].Feature];
        double max = s.Max(), sum = s.Sum(v => Math.Exp(v - max));
        var p = s.Select(v => Math.Exp(v - max) / sum).ToArray();
        return (p, s[labels[row]] - max - Math.Log(sum));
    }

    private double PenaltyWeight(int k)
    {
        var (i, a) = Parameters[k];
        if (a == classes) return mu / classes;
        return full && i != a ? lambda / (classes * (classes - 1.0)) : 0;
    }

    public double Nll(double[] theta)
    {
        double sum = 0;
        for (int r = 0; r < labels.Length; r++) sum -= Row(r, theta).LogPy;
        return sum / labels.Length;
    }

    public double Objective(double[] theta)
    {
        double f = Nll(theta);
        for (int k = 0; k < theta.Length; k++) f += PenaltyWeight(k) * theta[k] * theta[k];
        return f;
    }

    /// <summary>The objective's gradient alone (O(rows · parameters), for fits with too many parameters for <see cref="Derivatives"/>).</summary>
    public double[] Gradient(double[] theta)
    {
        int n = theta.Length;
        var g = new double[n];
        for (int r = 0; r < labels.Length; r++)
        {
            var x = Features(r);
            var (p, _) = Row(r, theta);
            for (int k = 0; k < n; k++)
            {
                var (i, a) = Parameters[k];
                g[k] += (p[i] - (labels[r] == i ? 1 : 0)) * x[a];
            }
        }
        for (int k = 0; k < n; k++) g[k] = g[k] / labels.Length + 2 * PenaltyWeight(k) * theta[k];
        return g;
    }

    public (double[] G, double[,] H) Derivatives(double[] theta)
    {
        int n = theta.Length;
        var g = Gradient(theta);
        var h = new double[n, n];
        for (int r = 0; r < labels.Length; r++)
        {
            var x = Features(r);
            var (p, _) = Row(r, theta);
            for (int k = 0; k < n; k++)
            {
                var (i, a) = Parameters[k];
                for (int l = 0; l < n; l++)
                {
                    var (j, b) = Parameters[l];
                    h[k, l] += ((i == j ? p[i] : 0) - p[i] * p[j]) * x[a] * x[b];
                }
            }
        }
        for (int k = 0; k < n; k++)
        {
            for (int l = 0; l < n; l++) h[k, l] /= labels.Length;
            h[k, k] += 2 * PenaltyWeight(k);
        }
        return (g, h);
    }

    /// <summary>Damped Newton from the identity map: (H + δI) d = −g by Gaussian elimination, halving until F falls.</summary>
    public double[] Optimum()
    {
        var theta = Identity();
        double f = Objective(theta);
        for (int iteration = 0; iteration < 200; iteration++)
        {
            var (g, h) = Derivatives(theta);
            if (g.Max(Math.Abs) < 1e-11) break;
            var d = Solve(h, g, 1e-10);
            bool moved = false;
            for (double t = 1; t > 1e-12; t /= 2)
            {
                var next = theta.Select((v, k) => v + t * d[k]).ToArray();
                double fn = Objective(next);
                if (fn <= f)
                {
                    theta = next;
                    moved = f - fn > 0;
                    f = fn;
                    break;
                }
            }
            if (!moved) break;
        }
        return theta;
    }

    private static double[] Solve(double[,] h, double[] g, double damping)
    {
        int n = g.Length;
        var m = new double[n, n + 1];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) m[i, j] = h[i, j] + (i == j ? damping : 0);
            m[i, n] = -g[i];
        }
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(m[r, col]) > Math.Abs(m[pivot, col])) pivot = r;
            for (int j = 0; j <= n; j++) (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]);
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double factor = m[r, col] / m[col, col];
                for (int j = col; j <= n; j++) m[r, j] -= factor * m[col, j];
            }
        }
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = m[i, n] / m[i, i];
        return d;
    }

    /// <summary>(a − b)ᵀ H (a − b): twice the objective's rise from b to a, to second order (0 along softmax's invariances).</summary>
    public double CurvatureDistance(double[] a, double[] b)
    {
        var (_, h) = Derivatives(b);
        double q = 0;
        for (int k = 0; k < a.Length; k++)
            for (int l = 0; l < a.Length; l++) q += (a[k] - b[k]) * h[k, l] * (a[l] - b[l]);
        return q;
    }
}
