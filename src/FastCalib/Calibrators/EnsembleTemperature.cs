using System.Buffers;
using System.Numerics.Tensors;
using FastCalib.Kernels.Internals;

namespace FastCalib;

/// <summary>
/// Fitting and applying <see cref="EnsembleTemperatureCalibrator"/>. After T* is fitted, each row contributes only
/// its label's probabilities a = softmax(z / T*)_y and b = softmax(z)_y (one fused pass each, the temperature
/// kernel's per-row NLL), so the mean NLL of the mixture, F(w) = −mean ln(w₀ a + w₁ b + w₂ / C), is a convex function
/// on the simplex evaluated from two floats a row. Its minimum lies inside the simplex, on an edge or at a vertex: the
/// edges are searched by safeguarded Newton on the derivative, and when the best edge point is not optimal for the
/// whole simplex, the interior by damped Newton steps kept inside.
/// </summary>
internal static unsafe class EnsembleTemperature
{
    private const int Block = 1024;

    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, ComputeOptions options)
    {
        var temperature = TemperatureScaling.Fit(logits, labels, classes, options);
        long rows = logits.Length / classes;
        var tempered = new double[rows];
        var raw = new double[rows];
        var (simd, width, threads) = options.Backend == Backend.Gpu ? ComputeOptions.For(Backend.Simd).ResolveCpu() : options.ResolveCpu();
        fixed (float* z = logits)
        fixed (int* y = labels)
        {
            LabelProbabilities(z, y, rows, classes, 1 / temperature.Temperature, simd, width, threads, tempered);
            LabelProbabilities(z, y, rows, classes, 1, simd, width, threads, raw);
        }
        double uniform = 1.0 / classes;
        double[] best = Minimum(tempered, raw, uniform);
        var weights = new[] { (float)best[0], (float)best[1], 0f };
        weights[2] = Math.Max(0, 1 - weights[0] - weights[1]);
        var calibrator = new EnsembleTemperatureCalibrator(temperature.Temperature, weights);
        return new MulticlassFit<EnsembleTemperatureCalibrator>(calibrator, temperature.NllBefore, Objective(tempered, raw, uniform, [weights[0], weights[1], weights[2]]),
            temperature.Passes + 2, 0, !temperature.AtBoundary, 1e-8);
    }

    public static void Apply(EnsembleTemperatureCalibrator calibrator, ReadOnlySpan<float> logits, Span<float> probabilities, int classes, ComputeOptions options)
    {
        const string op = "EnsembleTemperatureCalibrator.Apply";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(logits), logits.Length);
        float w0 = calibrator.Weights[0], w1 = calibrator.Weights[1], floor = calibrator.Weights[2] / classes;
        int blockRows = Math.Max(1, (1 << 16) / classes);
        float[] buffer = ArrayPool<float>.Shared.Rent(blockRows * classes);
        try
        {
            for (long start = 0; start < rows; start += blockRows)
            {
                int n = (int)Math.Min(blockRows, rows - start) * classes, offset = (int)(start * classes);
                var tempered = buffer.AsSpan(0, n);
                var output = probabilities.Slice(offset, n);
                // the tempered softmax first: the output may be the logits themselves
                Softmax.Forward(logits.Slice(offset, n), tempered, classes, calibrator.Temperature, options);
                Softmax.Forward(logits.Slice(offset, n), output, classes, 1f, options);
                for (int k = 0; k < n; k++) output[k] = w0 * tempered[k] + w1 * output[k] + floor;
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }
    }

    /// <summary>softmax(β z)_y of every row, from the temperature kernel's per-row NLL.</summary>
    private static void LabelProbabilities(float* z, int* y, long rows, int cols, float beta, bool simd, int width, int threads, double[] result)
    {
        CpuRows.ForEachChunk(rows, cols, threads, (_, range) =>
        {
            float* nll = stackalloc float[Block];
            float* first = stackalloc float[Block];
            float* second = stackalloc float[Block];
            for (long start = range.Start; start < range.End; start += Block)
            {
                long end = Math.Min(range.End, start + Block);
                var block = new RowRange(start, end);
                if (simd) TemperatureKernels.NllDerivativesKernel.Simd(block, width, cols, z, y, beta, nll - start, first - start, second - start);
                else TemperatureKernels.NllDerivativesKernel.Scalar(block, cols, z, y, beta, nll - start, first - start, second - start);
                for (long i = start; i < end; i++) result[i] = Math.Exp(-nll[i - start]);
            }
        });
    }

    /// <summary>F(w) = −mean ln(w₀ a + w₁ b + w₂ u) (+∞ where a mixture is 0), in vector passes over the rows.</summary>
    private static double Objective(double[] a, double[] b, double u, double[] w)
    {
        var m = new double[a.Length];
        TensorPrimitives.Multiply(a, w[0], m);
        TensorPrimitives.MultiplyAdd(b, w[1], m, m);
        TensorPrimitives.Add(m, w[2] * u, m);
        TensorPrimitives.Log(m, m);
        return -TensorPrimitives.Sum<double>(m) / a.Length;
    }

    /// <summary>
    /// The minimiser of F on the simplex: the best of the edges' minimisers if no direction towards a vertex could
    /// lower F by more than 1e-10 relative (<see cref="Descent"/>), otherwise the interior one if it is better.
    /// </summary>
    private static double[] Minimum(double[] a, double[] b, double u)
    {
        double[][] vertices = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
        double[] best = [0, 1, 0];
        double bestF = Objective(a, b, u, best);
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
            {
                double t = EdgeMinimum(a, b, u, vertices[i], vertices[j]);
                double[] w = [(1 - t) * vertices[i][0] + t * vertices[j][0], (1 - t) * vertices[i][1] + t * vertices[j][1], (1 - t) * vertices[i][2] + t * vertices[j][2]];
                double f = Objective(a, b, u, w);
                if (f < bestF)
                {
                    bestF = f;
                    best = w;
                }
            }
        if (Descent(a, b, u, best) <= 1e-10 * bestF) return best;
        // some vertex direction descends: the minimum is inside, near the best edge point (F is convex)
        double[] start = [0.99 * best[0] + 0.01 / 3, 0.99 * best[1] + 0.01 / 3, 0.99 * best[2] + 0.01 / 3];
        return Interior(a, b, u, start) is { } inside && Objective(a, b, u, inside) < bestF ? inside : best;
    }

    /// <summary>
    /// How much F could still fall from <paramref name="w"/> towards a vertex: for each direction e_k − w along which
    /// F descends (slope D_k &lt; 0), the fall D_k² / (2 F''_k) of the quadratic model along it; the largest, or 0 when
    /// w satisfies the simplex's optimality conditions (no descending direction).
    /// </summary>
    private static double Descent(double[] a, double[] b, double u, double[] w)
    {
        Span<double> slope = stackalloc double[3];
        Span<double> curvature = stackalloc double[3];
        for (int i = 0; i < a.Length; i++)
        {
            double m = w[0] * a[i] + w[1] * b[i] + w[2] * u;
            for (int k = 0; k < 3; k++)
            {
                double ratio = ((k == 0 ? a[i] : k == 1 ? b[i] : u) - m) / m;
                slope[k] -= ratio;
                curvature[k] += ratio * ratio;
            }
        }
        double fall = 0;
        for (int k = 0; k < 3; k++)
            if (slope[k] < 0) fall = Math.Max(fall, slope[k] * slope[k] / (2 * curvature[k] * a.Length));
        return fall;
    }

    /// <summary>
    /// argmin over t in [0, 1] of F((1 − t) p + t q): F is convex along the edge, so Newton on F' inside a bracket
    /// that shrinks with F's sign, bisecting when a step would leave it.
    /// </summary>
    private static double EdgeMinimum(double[] a, double[] b, double u, double[] p, double[] q)
    {
        // along the edge the mixture is m(t) = v_p + t (v_q − v_p) per row, with F' = −Σ d / m and F'' = Σ (d / m)²
        var vp = new double[a.Length];
        var d = new double[a.Length];
        var ratio = new double[a.Length];
        TensorPrimitives.Multiply(a, p[0], vp);
        TensorPrimitives.MultiplyAdd(b, p[1], vp, vp);
        TensorPrimitives.Add(vp, p[2] * u, vp);
        TensorPrimitives.Multiply(a, q[0], d);
        TensorPrimitives.MultiplyAdd(b, q[1], d, d);
        TensorPrimitives.Add(d, q[2] * u, d);
        TensorPrimitives.Subtract(d, vp, d);
        (double First, double Second) Slope(double t)
        {
            TensorPrimitives.MultiplyAdd(d, t, vp, ratio);
            // a mixture of 0 at an end of the edge: F' is infinite there, pointing inwards
            if (TensorPrimitives.Min<double>(ratio) <= 0) return (t == 0 ? double.NegativeInfinity : double.PositiveInfinity, double.PositiveInfinity);
            TensorPrimitives.Divide(d, ratio, ratio);
            return (-TensorPrimitives.Sum<double>(ratio), TensorPrimitives.SumOfSquares<double>(ratio));
        }
        if (Slope(0).First >= 0) return 0;
        if (Slope(1).First <= 0) return 1;
        double lo = 0, hi = 1, x = 0.5;
        for (int k = 0; k < 100 && hi - lo > 1e-13; k++)
        {
            var (first, second) = Slope(x);
            if (first > 0) hi = x; else lo = x;
            double next = second > 0 ? x - first / second : double.NaN;
            if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
            if (Math.Abs(next - x) <= 1e-13) return next;
            x = next;
        }
        return x;
    }

    /// <summary>Damped Newton on (w₀, w₁), w₂ = 1 − w₀ − w₁, from an inner point, never leaving the simplex; null if it stalls.</summary>
    private static double[]? Interior(double[] a, double[] b, double u, double[] start)
    {
        double w0 = start[0], w1 = start[1];
        double f = Objective(a, b, u, [w0, w1, 1 - w0 - w1]);
        for (int iteration = 0; iteration < 100; iteration++)
        {
            double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0;
            for (int i = 0; i < a.Length; i++)
            {
                double m = w0 * a[i] + w1 * b[i] + (1 - w0 - w1) * u;
                double d0 = (a[i] - u) / m, d1 = (b[i] - u) / m;
                g0 -= d0;
                g1 -= d1;
                h00 += d0 * d0;
                h01 += d0 * d1;
                h11 += d1 * d1;
            }
            double det = h00 * h11 - h01 * h01;
            if (!(det > 0)) return null;
            double s0 = -(h11 * g0 - h01 * g1) / det, s1 = -(h00 * g1 - h01 * g0) / det;
            // shrink the step until it stays strictly inside the simplex and lowers F
            double t = 1;
            for (; t > 1e-12; t *= 0.5)
            {
                double n0 = w0 + t * s0, n1 = w1 + t * s1;
                if (n0 <= 0 || n1 <= 0 || n0 + n1 >= 1) continue;
                double fn = Objective(a, b, u, [n0, n1, 1 - n0 - n1]);
                if (fn <= f)
                {
                    bool done = f - fn <= 1e-15 * Math.Abs(f);
                    w0 = n0;
                    w1 = n1;
                    f = fn;
                    if (done) return [w0, w1, 1 - w0 - w1];
                    break;
                }
            }
            if (t <= 1e-12) return null;
        }
        return [w0, w1, 1 - w0 - w1];
    }
}
