using System.Numerics.Tensors;
using FastCalib.Kernels.Internals;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Fitting and applying <see cref="EnsembleTemperatureCalibrator"/>. After T* is fitted, each row contributes only
/// its label's probabilities a = softmax(z / T*)_y and b = softmax(z)_y (one fused pass each, the temperature
/// kernel's per-row NLL), so the mean NLL of the mixture, F(w) = −mean ln(w₀ a + w₁ b + w₂ / C), is a convex function
/// on the simplex evaluated from two floats a row. Its minimum lies inside the simplex, on an edge or at a vertex: the
/// edges are searched by safeguarded Newton on the derivative, and the best edge point is refined by an active-set
/// Newton method on the whole simplex.
/// </summary>
internal static unsafe class EnsembleTemperature
{
    private const int Block = 1024;

    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, ComputeOptions options)
    {
        const string op = "EnsembleTemperatureCalibrator.Fit";
        if (options.Backend == Backend.Gpu)
            return GpuHost.OnDevice(options, op, GpuHost.Shape(logits.Length / Math.Max(classes, 1), classes), logits, nameof(logits), labels, nameof(labels),
                (stream, z, y) => Fit(stream, z, y, classes));
        var temperature = TemperatureScaling.Fit(logits, labels, classes, options);
        long rows = logits.Length / classes;
        var tempered = new double[rows];
        var raw = new double[rows];
        var (simd, width, threads) = options.ResolveCpu();
        fixed (float* z = logits)
        fixed (int* y = labels)
        {
            LabelProbabilities(z, y, rows, classes, 1 / temperature.Temperature, simd, width, threads, tempered);
            LabelProbabilities(z, y, rows, classes, 1, simd, width, threads, raw);
        }
        return Mixture(temperature, tempered, raw, classes);
    }

    /// <summary>
    /// The same fit on device views: T* by the device temperature fit, each row's two label probabilities by the
    /// temperature kernel on the device (4 bytes a row come back for each), the weights on the host. Waits for the stream.
    /// </summary>
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes)
    {
        const string op = "EnsembleTemperatureCalibrator.Fit";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        var temperature = TemperatureScaling.Fit(stream, logits, labels, classes);
        var tempered = new double[rows];
        var raw = new double[rows];
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, classes), () =>
        {
            using var perRow = stream.Accelerator.Allocate1D<float>(3 * rows);
            var nll = new float[rows];
            foreach (var (beta, result) in new[] { (1 / temperature.Temperature, tempered), (1f, raw) })
            {
                TemperatureKernels.NllDerivativesKernel.Gpu(stream, logits, labels, beta, perRow.View.SubView(0, rows), perRow.View.SubView(rows, rows), perRow.View.SubView(2 * rows, rows), rows, classes);
                perRow.View.SubView(0, rows).CopyToCPU(stream, nll);
                stream.Synchronize();
                for (long i = 0; i < rows; i++) result[i] = Math.Exp(-nll[i]);
            }
        });
        return Mixture(temperature, tempered, raw, classes);
    }

    /// <summary>
    /// The same fit on rows streamed block by block on the CPU backends (each block checked by the caller), as the
    /// tool does with files larger than memory: T* by streamed passes, then one more visit for the label
    /// probabilities (two float64 numbers a row are kept).
    /// </summary>
    public static MulticlassFit<EnsembleTemperatureCalibrator> Fit(long rows, Action<SpanFitBlock> forEachBlock, int classes, ComputeOptions options)
    {
        const string op = "EnsembleTemperatureCalibrator.Fit";
        if (rows > Array.MaxLength)
            throw new ArgumentException($"{op}: {rows} rows are more than this fit keeps (two float64 numbers a row, at most {Array.MaxLength} rows); fit on a sample of the rows.", "logits");
        if (options.Backend == Backend.Gpu)
            throw new ArgumentException($"{op}: rows streamed from the host are fitted on the CPU; use the SIMD or scalar backend, or fit device views.", nameof(options));
        var temperature = TemperatureScaling.Fit(rows, forEachBlock, classes, options);
        var tempered = new double[rows];
        var raw = new double[rows];
        var (simd, width, threads) = options.ResolveCpu();
        forEachBlock((z, y, first) =>
        {
            fixed (float* zz = z)
            fixed (int* yy = y)
            {
                LabelProbabilities(zz, yy, y.Length, classes, 1 / temperature.Temperature, simd, width, threads, tempered.AsSpan((int)first, y.Length));
                LabelProbabilities(zz, yy, y.Length, classes, 1, simd, width, threads, raw.AsSpan((int)first, y.Length));
            }
        });
        return Mixture(temperature, tempered, raw, classes);
    }

    /// <summary>The mixture weights minimising the mean NLL, from each row's label probability at T* and at 1.</summary>
    private static MulticlassFit<EnsembleTemperatureCalibrator> Mixture(TemperatureFit temperature, double[] tempered, double[] raw, int classes)
    {
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
        Check.NoOverlap(op, nameof(probabilities), probabilities, nameof(logits), logits, inPlaceAllowed: true);
        float w0 = calibrator.Weights[0], w1 = calibrator.Weights[1], floor = calibrator.Weights[2] / classes;
        TemperatureKernels.EnsembleProbabilitiesKernel.Host(options, op, rows, classes, logits, probabilities, 1 / calibrator.Temperature, w0, w1, floor);
    }

    /// <summary>The same on device views (may be the same view).</summary>
    public static void Apply(EnsembleTemperatureCalibrator calibrator, AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes)
    {
        const string op = "EnsembleTemperatureCalibrator.Apply";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(logits), logits.Length);
        float w0 = calibrator.Weights[0], w1 = calibrator.Weights[1], floor = calibrator.Weights[2] / classes;
        TemperatureKernels.EnsembleProbabilitiesKernel.Device(stream, op, rows, classes, logits, probabilities, 1 / calibrator.Temperature, w0, w1, floor);
    }

    /// <summary>softmax(β z)_y of every row, from the temperature kernel's per-row NLL.</summary>
    private static void LabelProbabilities(float* z, int* y, long rows, int cols, float beta, bool simd, int width, int threads, Span<double> into)
    {
        fixed (double* result = into)
            LabelProbabilities(z, y, rows, cols, beta, simd, width, threads, result);
    }

    private static void LabelProbabilities(float* z, int* y, long rows, int cols, float beta, bool simd, int width, int threads, double* result)
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
    private static double Objective(double[] a, double[] b, double u, double[] w, double[]? scratch = null)
    {
        var m = scratch ?? new double[a.Length];
        Mix(a, b, u, w, m);
        TensorPrimitives.Log(m, m);
        return -TensorPrimitives.Sum<double>(m) / a.Length;
    }

    /// <summary>Each row's mixture w₀ a + w₁ b + w₂ u into <paramref name="m"/>.</summary>
    private static void Mix(double[] a, double[] b, double u, double[] w, double[] m)
    {
        TensorPrimitives.Multiply(a, w[0], m);
        TensorPrimitives.MultiplyAdd(b, w[1], m, m);
        TensorPrimitives.Add(m, w[2] * u, m);
    }

    /// <summary>
    /// The minimiser of F on the simplex: the best of the edges' minimisers, refined by <see cref="ActiveSet"/> (which
    /// moves into the interior, or along an edge, only where F keeps falling).
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
        return ActiveSet(a, b, u, best, bestF);
    }

    /// <summary>
    /// Active-set Newton on the simplex from a feasible <paramref name="w"/>: the free weights are those above 0 and
    /// those at 0 whose gradient is below the multiplier λ = ∇F · w (moving weight to them descends); the Newton
    /// step solves [H_SS 1; 1ᵀ 0][d; ν] = [−g_S; 0] on them, is cut where a weight reaches 0 and backtracked until F
    /// falls. Stops when the Newton decrement is below 1e-13 · F with the optimality conditions met.
    /// </summary>
    private static double[] ActiveSet(double[] a, double[] b, double u, double[] w, double f)
    {
        var m = new double[a.Length];
        var r = new double[3][];
        for (int k = 0; k < 3; k++) r[k] = new double[a.Length];
        for (int iteration = 0; iteration < 100; iteration++)
        {
            // m = w·v per row; r_k = v_k / m; g_k = −mean r_k; H_kl = mean r_k r_l
            Mix(a, b, u, w, m);
            TensorPrimitives.Divide(a, m, r[0]);
            TensorPrimitives.Divide(b, m, r[1]);
            TensorPrimitives.Divide(u, m, r[2]);
            var g = new double[3];
            var h = new double[3, 3];
            for (int k = 0; k < 3; k++)
            {
                g[k] = -TensorPrimitives.Sum<double>(r[k]) / a.Length;
                for (int l = 0; l <= k; l++) h[k, l] = h[l, k] = TensorPrimitives.Dot<double>(r[k], r[l]) / a.Length;
            }
            double lambda = g[0] * w[0] + g[1] * w[1] + g[2] * w[2];
            var free = new List<int>();
            for (int k = 0; k < 3; k++)
                if (w[k] > 0 || g[k] < lambda - 1e-12 * Math.Abs(lambda)) free.Add(k);
            var d = new double[3];
            if (free.Count > 1) Solve(h, g, free, d);
            double decrement = -(g[0] * d[0] + g[1] * d[1] + g[2] * d[2]);
            if (!(decrement > 1e-13 * Math.Abs(f))) break;
            double limit = 1;
            for (int k = 0; k < 3; k++)
                if (d[k] < 0) limit = Math.Min(limit, -w[k] / d[k]);
            bool moved = false;
            for (double t = limit; t > 1e-14; t *= 0.5)
            {
                double[] next = [Math.Max(0, w[0] + t * d[0]), Math.Max(0, w[1] + t * d[1]), Math.Max(0, w[2] + t * d[2])];
                if (t == limit)
                    for (int k = 0; k < 3; k++)
                        if (d[k] < 0 && -w[k] / d[k] == limit) next[k] = 0;   // the weight that limits the step lands on 0
                double sum = next[0] + next[1] + next[2];
                for (int k = 0; k < 3; k++) next[k] /= sum;
                double fn = Objective(a, b, u, next, m);   // m is recomputed at the next iteration
                if (fn <= f - 1e-4 * t * decrement || (fn <= f && decrement <= 1e-9 * Math.Abs(f)))
                {
                    w = next;
                    f = fn;
                    moved = true;
                    break;
                }
            }
            if (!moved) break;
        }
        return w;
    }

    /// <summary>The equality-constrained Newton step on the free weights (a tiny ridge where H is singular).</summary>
    private static void Solve(double[,] h, double[] g, List<int> free, double[] d)
    {
        int n = free.Count, size = n + 1;
        var m = new double[size, size + 1];
        double ridge = 1e-12 * (h[0, 0] + h[1, 1] + h[2, 2]);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++) m[i, j] = h[free[i], free[j]] + (i == j ? ridge : 0);
            m[i, n] = m[n, i] = 1;
            m[i, size] = -g[free[i]];
        }
        // Gaussian elimination with partial pivoting on the (n + 1)-square KKT system
        for (int col = 0; col < size; col++)
        {
            int pivot = col;
            for (int row = col + 1; row < size; row++) if (Math.Abs(m[row, col]) > Math.Abs(m[pivot, col])) pivot = row;
            for (int j = 0; j <= size; j++) (m[col, j], m[pivot, j]) = (m[pivot, j], m[col, j]);
            for (int row = 0; row < size; row++)
            {
                if (row == col || m[col, col] == 0) continue;
                double factor = m[row, col] / m[col, col];
                for (int j = col; j <= size; j++) m[row, j] -= factor * m[col, j];
            }
        }
        for (int i = 0; i < n; i++) d[free[i]] = m[i, i] != 0 ? m[i, size] / m[i, i] : 0;
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
        Mix(a, b, u, p, vp);
        Mix(a, b, u, q, d);
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
}
