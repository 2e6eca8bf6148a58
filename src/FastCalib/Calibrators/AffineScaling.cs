using FastCalib.Kernels.Internals;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// What one pass of <see cref="AffineScaling"/> computes, and where its lane sums live. Parameters θ are the weights
/// (C scales for vector scaling, the row-major C x C matrix A otherwise) followed by the C biases. Slots: 0 the NLL,
/// then the gradient in θ's order, then (vector scaling) Σ p x², Σ p x and Σ p per class and the upper triangle of
/// Σ q qᵀ with q = [p ⊙ x, p], from which the exact Hessian is assembled (beyond 64 classes only the diagonal of each
/// class's 2 x 2 block, Σ p (1 − p) · (x², x, 1)).
/// </summary>
internal readonly record struct AffineLayout(int Classes, bool Full, bool LogSoftmaxInput, bool Hessian)
{
    /// <summary>Tiles whose float32 lane sums are added before they go to float64 (at most this many terms per lane).</summary>
    public const int TilesPerFlush = 64;

    public int Weights => Full ? Classes * Classes : Classes;

    public int Parameters => Weights + Classes;

    public int DiagonalSlot => 1 + Parameters;

    public int OuterSlot => DiagonalSlot + 3 * Classes;

    /// <summary>Classes up to which vector scaling uses the exact Hessian (its rank-one part has 2C(2C+1)/2 lane sums a tile).</summary>
    public const int MaxExactClasses = 64;

    /// <summary>
    /// Whether the whole Hessian is assembled; beyond <see cref="MaxExactClasses"/> only its 2 x 2 block per class
    /// (the scale and bias of one class), Σ p (1 − p) · (x², x, 1).
    /// </summary>
    public bool Exact => Hessian && Classes <= MaxExactClasses;

    public int Slots => !Hessian ? 1 + Parameters : OuterSlot + (Exact ? 2 * Classes * (2 * Classes + 1) / 2 : 3 * Classes);

    public int ScratchFloats(int lanes) => 4 * Classes * lanes;
}

/// <summary>Visits one block of rows to fit on: row-major logits, their labels, the block's first row and its row count.</summary>
internal unsafe delegate void FitBlock(float* z, int* y, long firstRow, long rows);

/// <summary>
/// The rows a fit passes over, in the same order on every pass: host memory visited block by block
/// (<see cref="HostRows"/>) or a device view (<see cref="DeviceRows"/>). Rows must hold checked data: finite logits,
/// labels in [0, classes).
/// </summary>
internal abstract class FitRows
{
    public abstract long Rows { get; }

    /// <summary>One pass: the float64 sums of <paramref name="layout"/>'s slots at θ, over all rows.</summary>
    public abstract double[] Sums(in AffineLayout layout, double[] theta, (bool Simd, int Width, int Threads) cpu);

    /// <summary>Rows k · Rows / count for k below <paramref name="count"/>, row-major (a full matrix's Hessian sample).</summary>
    public abstract float[] Sample(long count, int classes);
}

/// <summary>Rows in host memory, all in memory or a file read again on every pass (the tool's), visited block by block.</summary>
internal abstract unsafe class HostRows : FitRows
{
    public abstract void ForEachBlock(FitBlock visit);

    /// <summary>The blocks' sums of <see cref="AffineScaling.Pass"/>, added in block order.</summary>
    public override double[] Sums(in AffineLayout layout, double[] theta, (bool Simd, int Width, int Threads) cpu)
    {
        var shape = layout;
        var sums = new double[layout.Slots];
        ForEachBlock((z, y, _, n) =>
        {
            double[] block = AffineScaling.Pass(z, y, n, shape, theta, cpu.Simd, cpu.Width, cpu.Threads);
            for (int k = 0; k < sums.Length; k++) sums[k] += block[k];
        });
        return sums;
    }

    /// <summary>The sampled rows, copied in one visit.</summary>
    public override float[] Sample(long count, int classes)
    {
        long rows = Rows;
        var z = new float[count * classes];
        long k = 0;
        ForEachBlock((block, _, first, n) =>
        {
            for (; k < count && k * rows / count < first + n; k++)
                new ReadOnlySpan<float>(block + (k * rows / count - first) * classes, classes).CopyTo(z.AsSpan((int)(k * classes), classes));
        });
        return z;
    }
}

/// <summary>Rows in memory: one block.</summary>
internal sealed unsafe class PinnedRows(float* z, int* y, long rows) : HostRows
{
    public override long Rows => rows;

    public override void ForEachBlock(FitBlock visit) => visit(z, y, 0, rows);
}

/// <summary>One checked block of rows as spans: logits, labels and the block's first row.</summary>
internal delegate void SpanFitBlock(ReadOnlySpan<float> z, ReadOnlySpan<int> y, long firstRow);

/// <summary>Rows produced block by block as spans (a file read chunk by chunk), pinned for the passes.</summary>
internal sealed unsafe class StreamedRows(long rows, Action<SpanFitBlock> forEachBlock) : HostRows
{
    public override long Rows => rows;

    public override void ForEachBlock(FitBlock visit) => forEachBlock((z, y, first) =>
    {
        fixed (float* zz = z)
        fixed (int* yy = y)
            visit(zz, yy, first, y.Length);
    });
}

/// <summary>The ODIR penalty of matrix scaling and Dirichlet calibration (Kull et al. 2019).</summary>
/// <param name="OffDiagonal">λ: the objective adds λ / (C (C − 1)) · Σ_{i≠j} A_ij²; at least 0.</param>
/// <param name="Intercept">μ: the objective adds μ / C · Σ b_i²; at least 0.</param>
public readonly record struct OdirPenalty(double OffDiagonal, double Intercept);

/// <summary>
/// Fits s = A x + b followed by softmax (vector scaling: A diagonal; matrix scaling: A full; Dirichlet calibration: A
/// full on x = log-softmax(z)) by minimising the mean NLL plus the ODIR penalty with Newton's method: each pass over
/// the data is one fused SIMD traversal computing the NLL and the gradient (and, for vector scaling, the exact
/// Hessian) with no probability matrix kept. For a full matrix the Hessian ((C(C+1))² entries a row, too many for a
/// pass) is computed on an evenly spaced sample of rows: with the exact gradient this is subsampled Newton (Byrd et
/// al. 2011), converging linearly at a rate set by the sample. Directions without curvature are held fixed and steps
/// are backtracked (Armijo), so the objective falls every iteration and the parameters stay finite; softmax's
/// invariance (adding a constant to every bias, or a vector to every row of A) is removed by centring what no
/// penalty pins down. The scalar backend evaluates each pass in float64, the SIMD backends in float32 lanes summed
/// in float64.
/// </summary>
internal static unsafe class AffineScaling
{
    /// <summary>Newton iterations at most.</summary>
    public const int MaxIterations = 50;

    /// <summary>Stop when half the Newton decrement (≈ objective − optimum) is below this, relative to 1 + objective.</summary>
    public const double Tolerance = 1e-10;

    /// <summary>Classes up to which a full matrix takes Newton steps with its sampled Hessian ((C(C+1))² entries).</summary>
    public const int MaxNewtonClasses = 32;

    /// <summary>
    /// Classes up to which a full matrix is fitted: beyond <see cref="MaxNewtonClasses"/> by quasi-Newton steps
    /// (<see cref="QuasiNewton"/>), with C(C+1) parameters and as many float64 sums a pass per chunk of rows.
    /// </summary>
    public const int MaxFullClasses = 256;

    /// <summary>Quasi-Newton iterations at most (they converge linearly, so more of them than Newton's).</summary>
    public const int MaxQuasiNewtonIterations = 1000;

    [ThreadStatic]
    private static int? t_newtonClasses;

    /// <summary>Lowers <see cref="MaxNewtonClasses"/> on this thread until the scope is disposed, so that tests reach the quasi-Newton path with few classes.</summary>
    internal static IDisposable LimitNewtonClasses(int classes)
    {
        var before = t_newtonClasses;
        t_newtonClasses = classes;
        return new Restore(() => t_newtonClasses = before);
    }

    private const int SampleRows = 4096;

    /// <summary>Relative size below which changes of the float32-evaluated objective are not trusted.</summary>
    private const double NoiseLevel = 1e-6;

    internal readonly record struct Result(double[] Theta, double NllBefore, double NllAfter, int Passes, int Iterations, bool Converged);

    /// <summary>
    /// Fits θ on checked logits [rows, classes] from the identity map, with passes of <paramref name="cpu"/>'s CPU path
    /// over host rows (device rows always pass in float64, as the scalar path).
    /// </summary>
    internal static Result Fit(FitRows source, in AffineLayout layout, OdirPenalty penalty, (bool Simd, int Width, int Threads) cpu)
    {
        long rows = source.Rows;
        // a full matrix's Hessian sample, gathered once: evenly spaced rows k · rows / sample
        long sampleRows = layout.Hessian ? 0 : Math.Min(rows, SampleRows);
        float[] sampleZ = layout.Hessian ? [] : source.Sample(sampleRows, layout.Classes);
        var shape = layout;
        int c = layout.Classes, count = layout.Parameters;
        double[] theta = new double[count];
        for (int i = 0; i < c; i++) theta[layout.Full ? i * c + i : i] = 1;
        Objective At(double[] t) => Evaluate(source, shape, penalty, t, cpu);
        // many classes: quasi-Newton steps on the sampled Hessian's per-class blocks
        var quasi = layout.Full && c > (t_newtonClasses ?? MaxNewtonClasses) ? new QuasiNewton() : null;

        var current = At(theta);
        int passes = 1, iterations = 0;
        double before = current.Nll;
        bool converged = false;
        bool linear = current.Blocks is not null || quasi is not null;
        while (iterations < (quasi is null ? MaxIterations : MaxQuasiNewtonIterations))
        {
            double[] step;
            if (current.Blocks is { } blocks)
            {
                step = BlockStep(blocks, current.G, c);
            }
            else if (quasi is not null)
            {
                var classBlocks = ClassBlocks(sampleZ, sampleRows, shape, theta, penalty);
                step = quasi.Direction(current.G, q => SolveClassBlocks(classBlocks, q, c));
            }
            else
            {
                double[] h = current.H ?? SampleHessian(sampleZ, sampleRows, shape, theta);
                for (int k = 0; k < count; k++) h[k * count + k] += Penalty(shape, k, penalty);
                step = NewtonStep(h, current.G, count);
            }
            double decrement = 0;
            for (int k = 0; k < count; k++) decrement -= current.G[k] * step[k];
            if (!(decrement > 2 * Tolerance * (1 + Math.Abs(current.F))))
            {
                converged = !double.IsNaN(decrement);
                break;
            }
            if (cpu.Simd && linear && decrement <= NoiseLevel * (1 + Math.Abs(current.F)))
            {
                // block and quasi-Newton steps converge linearly and their decrement is no measure of the gap at float32 resolution:
                // the last steps run on float64 passes of the scalar path
                cpu = (false, 0, cpu.Threads);
                current = At(theta);
                passes++;
                continue;
            }
            iterations++;
            bool accepted = false;
            for (double t = 1; t > 1e-10; t *= 0.5)
            {
                var trial = new double[count];
                for (int k = 0; k < count; k++) trial[k] = theta[k] + t * step[k];
                var next = At(trial);
                passes++;
                // Armijo's sufficient decrease; or, once the decrement is near the float32 resolution of the summed
                // objective (per-row terms rounded at about 1e-7), the full Newton step if the objective did not rise
                // beyond that resolution: there the step is reliable and the comparison is not
                // (a step too small to change the float32 parameters changes nothing and is no progress)
                bool sufficient = next.F <= current.F - 1e-4 * t * decrement && (next.F < current.F || t == 1);
                bool atResolution = t == 1 && cpu.Simd && decrement <= NoiseLevel * (1 + Math.Abs(current.F)) && next.F <= current.F + NoiseLevel * (1 + Math.Abs(current.F));
                if (sufficient || atResolution)
                {
                    // a step taken only at float32 resolution tells nothing of the curvature
                    if (sufficient) quasi?.Remember(trial, theta, next.G, current.G, shape, penalty);
                    theta = trial;
                    current = next;
                    accepted = true;
                    break;
                }
            }
            if (!accepted && quasi is not null && quasi.Forget())
                continue;   // retry from the initial model alone
            if (!accepted && cpu.Simd && decrement > NoiseLevel * (1 + Math.Abs(current.F)))
            {
                // the float32 lanes cannot resolve the remaining descent (seen with the block steps of many
                // classes): finish with float64 passes of the scalar path from here
                cpu = (false, 0, cpu.Threads);
                current = At(theta);
                passes++;
                continue;
            }
            if (!accepted)
            {
                // no step lowers the objective beyond float32 rounding of its terms: at the optimum if the decrement is small
                converged = decrement <= NoiseLevel * (1 + Math.Abs(current.F));
                break;
            }
        }
        Canonical(shape, theta, penalty);
        return new Result(theta, before, current.Nll, passes, iterations, converged);
    }

    /// <summary>Checks the arguments, fits, and wraps θ in a calibrator made by <paramref name="make"/>.</summary>
    public static MulticlassFit<T> Fit<T>(string op, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, bool full, bool logSoftmax,
        OdirPenalty penalty, ComputeOptions options, Func<double[], T> make) where T : MulticlassCalibrator
    {
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        CheckSettings(op, classes, full, penalty);
        if (rows == 0)
            throw new ArgumentException($"{op}: there are no rows to fit on.", nameof(logits));
        int bad = labels.IndexOfAnyExceptInRange(0, classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {classes}).");
        bad = Check.FirstNonFinite(logits);
        if (bad >= 0)
            throw new ArgumentException($"{op}: logits[{bad / classes}, {bad % classes}] is {logits[bad]}; fitting needs finite logits.", nameof(logits));
        var layout = new AffineLayout(classes, full, logSoftmax, Hessian: !full);
        if (options.Backend == Backend.Gpu)
            return GpuHost.OnDevice(options, op, GpuHost.Shape(rows, classes), logits, nameof(logits), labels, nameof(labels),
                (stream, z, y) => FitOnDevice(stream, z, y, layout, penalty, make));
        Result r;
        fixed (float* z = logits)
        fixed (int* y = labels)
            r = Fit(new PinnedRows(z, y, rows), layout, penalty, options.ResolveCpu());
        return Wrap(r, make);
    }

    /// <summary>
    /// The same fit on device views: labels and logits are checked on the device, and every pass runs there
    /// (<see cref="DeviceRows"/>, float64 like the scalar path); only the slot sums come back. Waits for the stream.
    /// </summary>
    public static MulticlassFit<T> Fit<T>(string op, AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes, bool full, bool logSoftmax,
        OdirPenalty penalty, Func<double[], T> make) where T : MulticlassCalibrator
    {
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        CheckSettings(op, classes, full, penalty);
        if (rows == 0)
            throw new ArgumentException($"{op}: there are no rows to fit on.", nameof(logits));
        MulticlassFit<T> result = null!;
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, classes), () =>
        {
            DeviceChecks.Labels(op, stream, labels, classes);
            DeviceChecks.Finite(op, stream, logits, classes, "fitting");
            result = FitOnDevice(stream, logits, labels, new AffineLayout(classes, full, logSoftmax, Hessian: !full), penalty, make);
        });
        return result;
    }

    private static MulticlassFit<T> FitOnDevice<T>(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, AffineLayout layout, OdirPenalty penalty,
        Func<double[], T> make) where T : MulticlassCalibrator
    {
        using var source = new DeviceRows(stream, logits, labels, layout);
        return Wrap(Fit(source, layout, penalty, (false, 0, 1)), make);
    }

    private static MulticlassFit<T> Wrap<T>(Result r, Func<double[], T> make) where T : MulticlassCalibrator =>
        new(make(r.Theta), r.NllBefore, r.NllAfter, r.Passes, r.Iterations, r.Converged, Tolerance);

    /// <summary>
    /// Fits on rows streamed block by block (each block checked by the caller: finite logits, labels in range), as
    /// the tool does with files larger than memory; the passes are the same, summed over the blocks.
    /// </summary>
    internal static MulticlassFit<T> Fit<T>(string op, long rows, Action<SpanFitBlock> forEachBlock, int classes, bool full, bool logSoftmax,
        OdirPenalty penalty, ComputeOptions options, Func<double[], T> make) where T : MulticlassCalibrator
    {
        CheckSettings(op, classes, full, penalty);
        if (options.Backend == Backend.Gpu)
            throw new ArgumentException($"{op}: rows streamed from the host are fitted on the CPU; use the SIMD or scalar backend, or fit device views.", nameof(options));
        if (rows == 0) throw new ArgumentException($"{op}: there are no rows to fit on.", "logits");
        var r = Fit(new StreamedRows(rows, forEachBlock), new AffineLayout(classes, full, logSoftmax, Hessian: !full), penalty, options.ResolveCpu());
        return Wrap(r, make);
    }

    private static void CheckSettings(string op, int classes, bool full, OdirPenalty penalty)
    {
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: calibration needs at least 2 classes, got {classes}.");
        if (full && classes > MaxFullClasses)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: a full matrix is fitted for up to {MaxFullClasses} classes (it has C(C+1) parameters), got {classes}; use vector scaling or a temperature.");
        if (!(penalty.OffDiagonal >= 0 && penalty.Intercept >= 0 && double.IsFinite(penalty.OffDiagonal) && double.IsFinite(penalty.Intercept)))
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty, $"{op}: the ODIR penalties must be finite and at least 0, got λ = {penalty.OffDiagonal}, μ = {penalty.Intercept}.");
    }

    /// <summary>θ as the saved weights (C scales, or the C x C matrix) and the C biases, in float.</summary>
    public static (float[] Weights, float[] Bias) Parameters(double[] theta, int classes, bool full)
    {
        int weights = full ? classes * classes : classes;
        var w = new float[weights];
        var b = new float[classes];
        for (int k = 0; k < weights; k++) w[k] = (float)theta[k];
        for (int i = 0; i < classes; i++) b[i] = (float)theta[weights + i];
        return (w, b);
    }

    /// <summary>Why saved weights and biases are not valid, or null.</summary>
    public static string? Invalid(float[]? weights, float[]? bias, bool full)
    {
        if (bias is null || bias.Length < 2) return $"there must be a bias per class, at least 2, got {bias?.Length ?? 0}";
        int expected = full ? bias.Length * bias.Length : bias.Length;
        if (weights is null || weights.Length != expected) return $"{bias.Length} classes need {expected} weights, got {weights?.Length ?? 0}";
        if (Check.FirstNonFinite(weights) is var w and >= 0) return $"weight {w} is {weights[w]}; parameters must be finite";
        if (Check.FirstNonFinite(bias) is var b and >= 0) return $"bias {b} is {bias[b]}; parameters must be finite";
        return null;
    }

    /// <summary>
    /// Writes softmax(A x + b) for each row of <paramref name="logits"/> (x the logits or their log-softmax) into
    /// <paramref name="probabilities"/>, which may be the same span: the scaled logits go to the output row by row,
    /// then one softmax pass runs in place.
    /// </summary>
    public static void Apply(string op, ReadOnlySpan<float> logits, Span<float> probabilities, int classes, float[] weights, float[] bias, bool full, bool logSoftmax, ComputeOptions options)
    {
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(logits), logits.Length);
        if (classes != bias.Length)
            throw new ArgumentException($"{op}: the calibrator was fitted for {bias.Length} classes, got rows of {classes}.", nameof(classes));
        var layout = new AffineLayout(classes, full, logSoftmax, Hessian: false);
        var theta = new double[layout.Parameters];
        for (int k = 0; k < weights.Length; k++) theta[k] = weights[k];
        for (int k = 0; k < classes; k++) theta[layout.Weights + k] = bias[k];
        var x = new double[classes];
        var s = new double[classes];
        fixed (float* z = logits)
            for (long row = 0; row < rows; row++)
            {
                ScaledLogits(z + row * classes, layout, theta, x, s);
                var output = probabilities.Slice((int)(row * classes), classes);
                for (int i = 0; i < classes; i++) output[i] = (float)s[i];
            }
        Softmax.Forward(probabilities, probabilities, classes, 1f, options);
    }

    /// <summary>The objective (mean NLL + penalty), the mean NLL, the gradient and, for vector scaling, the exact Hessian (penalty excluded) at θ.</summary>
    internal readonly record struct Objective(double F, double Nll, double[] G, double[]? H, double[]? Blocks = null);

    /// <summary>One pass: <see cref="Objective"/> at <paramref name="theta"/>.</summary>
    internal static Objective Evaluate(FitRows source, AffineLayout layout, OdirPenalty penalty, double[] theta, (bool Simd, int Width, int Threads) cpu)
    {
        int count = layout.Parameters;
        long rows = source.Rows;
        var sums = source.Sums(layout, theta, cpu);
        double nll = sums[0] / rows, f = nll;
        var g = new double[count];
        for (int k = 0; k < count; k++)
        {
            double weight = Penalty(layout, k, penalty);
            g[k] = sums[1 + k] / rows + weight * theta[k];
            f += 0.5 * weight * theta[k] * theta[k];
        }
        Canonical(layout, g, penalty);
        if (!layout.Hessian) return new Objective(f, nll, g, null);
        return layout.Exact ? new Objective(f, nll, g, AssembleHessian(layout, sums, rows)) : new Objective(f, nll, g, null, AssembleBlocks(layout, sums, rows));
    }

    /// <summary>
    /// The penalty's second derivative for parameter k: 2λ / (C(C − 1)) for off-diagonal weights, 2μ / C for biases
    /// (the penalty is half its second derivative times θ_k², summed).
    /// </summary>
    private static double Penalty(in AffineLayout layout, int k, OdirPenalty penalty)
    {
        int c = layout.Classes;
        if (k >= layout.Weights) return 2 * penalty.Intercept / c;
        return layout.Full && k / c != k % c ? 2 * penalty.OffDiagonal / (c * (c - 1.0)) : 0;
    }

    /// <summary>
    /// Centres the biases (and the columns of A) where the penalty leaves softmax's invariance free. Applied to the
    /// gradient too, whose exact value has no component along those directions: it removes the float32 rounding
    /// that has one (probabilities that sum to 1 only within rounding), which a Newton step would otherwise amplify
    /// along the Hessian's null space.
    /// </summary>
    private static void Canonical(in AffineLayout layout, double[] theta, OdirPenalty penalty)
    {
        int c = layout.Classes;
        if (penalty.Intercept == 0)
        {
            double mean = 0;
            for (int i = 0; i < c; i++) mean += theta[layout.Weights + i] / c;
            for (int i = 0; i < c; i++) theta[layout.Weights + i] -= mean;
        }
        if (layout.Full && penalty.OffDiagonal == 0)
            for (int j = 0; j < c; j++)
            {
                double mean = 0;
                for (int i = 0; i < c; i++) mean += theta[i * c + j] / c;
                for (int i = 0; i < c; i++) theta[i * c + j] -= mean;
            }
    }

    /// <summary>
    /// Solves H d = −g by Cholesky, holding fixed (d_k = 0) each parameter whose pivot falls below 1e-9 of its
    /// diagonal entry: one the objective does not curve along beyond what earlier parameters explain (softmax's
    /// invariances, constant or collinear inputs), where a step would follow only the rounding of the gradient.
    /// </summary>
    internal static double[] NewtonStep(double[] h, double[] g, int n) => HeldCholesky.Of(h, n).Step(g);

    /// <summary>
    /// The Cholesky factor of a symmetric n x n matrix with the parameters <see cref="NewtonStep"/> holds fixed, so
    /// that one factorisation serves several right-hand sides.
    /// </summary>
    internal sealed class HeldCholesky
    {
        private readonly double[] _l;
        private readonly bool[] _held;
        private readonly int _n;

        private HeldCholesky(double[] l, bool[] held, int n) => (_l, _held, _n) = (l, held, n);

        public static HeldCholesky Of(double[] h, int n)
        {
            var l = new double[n * n];
            var held = new bool[n];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j <= i; j++)
                {
                    if (held[j]) continue;
                    double v = h[i * n + j];
                    for (int k = 0; k < j; k++) v -= l[i * n + k] * l[j * n + k];
                    if (i != j) l[i * n + j] = v / l[j * n + j];
                    else if (v > 1e-9 * h[i * n + i] && v > 0) l[i * n + i] = Math.Sqrt(v);
                    else held[i] = true;
                }
            }
            return new HeldCholesky(l, held, n);
        }

        /// <summary>d with H d = −g on the parameters not held, 0 on the held ones.</summary>
        public double[] Step(ReadOnlySpan<double> g)
        {
            int n = _n;
            var l = _l;
            var d = new double[n];
            for (int i = 0; i < n; i++)
            {
                if (_held[i]) continue;
                double v = -g[i];
                for (int k = 0; k < i; k++) v -= l[i * n + k] * d[k];
                d[i] = v / l[i * n + i];
            }
            for (int i = n - 1; i >= 0; i--)
            {
                if (_held[i]) continue;
                double v = d[i];
                for (int k = i + 1; k < n; k++) v -= l[k * n + i] * d[k];
                d[i] = v / l[i * n + i];
            }
            return d;
        }
    }

    /// <summary>Vector scaling's mean 2 x 2 Hessian block of each class (its scale and bias), as (H_ww, H_wb, H_bb) = mean p (1 − p) · (x², x, 1).</summary>
    private static double[] AssembleBlocks(in AffineLayout layout, double[] sums, long rows)
    {
        int c = layout.Classes;
        var blocks = new double[3 * c];
        for (int i = 0; i < c; i++)
            for (int k = 0; k < 3; k++)
                blocks[3 * i + k] = sums[layout.OuterSlot + k * c + i] / rows;
        return blocks;
    }

    /// <summary>
    /// The block-diagonal Newton step: each class's (scale, bias) pair solves its own 2 x 2 system (a pair without
    /// curvature, or its bias when the pair is collinear, held fixed as in <see cref="NewtonStep"/>). The cross-class
    /// terms −p_i p_k left out are small when the probability is spread over many classes; the line search and the
    /// exact gradient keep the iteration convergent, linearly.
    /// </summary>
    private static double[] BlockStep(double[] blocks, double[] g, int c)
    {
        var d = new double[2 * c];
        for (int i = 0; i < c; i++)
        {
            double hww = blocks[3 * i], hwb = blocks[3 * i + 1], hbb = blocks[3 * i + 2], gw = g[i], gb = g[c + i];
            double det = hww * hbb - hwb * hwb;
            if (hww > 0 && det > 1e-6 * hww * hbb)
            {
                d[i] = -(hbb * gw - hwb * gb) / det;
                d[c + i] = -(hww * gb - hwb * gw) / det;
            }
            else if (hww > 0)
            {
                d[i] = -gw / hww;
            }
            else if (hbb > 0)
            {
                d[c + i] = -gb / hbb;
            }
        }
        return d;
    }

    /// <summary>The exact mean Hessian of vector scaling from a pass's sums: diag(Σ p x², Σ p x, Σ p) blocks minus Σ q qᵀ.</summary>
    private static double[] AssembleHessian(in AffineLayout layout, double[] sums, long rows)
    {
        int c = layout.Classes, n = 2 * c;
        var h = new double[n * n];
        int slot = layout.OuterSlot;
        for (int a = 0; a < n; a++)
            for (int b = a; b < n; b++, slot++)
                h[a * n + b] = h[b * n + a] = -sums[slot] / rows;
        for (int i = 0; i < c; i++)
        {
            h[i * n + i] += sums[layout.DiagonalSlot + i] / rows;
            h[i * n + c + i] += sums[layout.DiagonalSlot + c + i] / rows;
            h[(c + i) * n + i] += sums[layout.DiagonalSlot + c + i] / rows;
            h[(c + i) * n + c + i] += sums[layout.DiagonalSlot + 2 * c + i] / rows;
        }
        return h;
    }

    /// <summary>
    /// The full-matrix objective's mean Hessian restricted to each class's own parameters (row i of A and b_i, over
    /// x̃ = [x, 1]): mean p_i (1 − p_i) x̃ x̃ᵀ over an evenly spaced part of the sample (at most 2^27 / (C (C+1)²) rows,
    /// from 256 up to the whole sample, so that a block set costs about as much at any C), plus the penalty's
    /// curvature. It carries the correlation of the inputs, which makes the problem ill-conditioned, and leaves the
    /// coupling between classes to the quasi-Newton corrections. Returned factored.
    /// </summary>
    private static HeldCholesky[] ClassBlocks(float[] sampleZ, long sample, in AffineLayout layout, double[] theta, OdirPenalty penalty)
    {
        int c = layout.Classes, m = c + 1;
        long used = Math.Clamp((1L << 27) / ((long)c * m * m), Math.Min(256, sample), Math.Max(1, sample));
        long stride = Math.Max(1, sample / used);
        var blocks = new double[c][];
        for (int i = 0; i < c; i++) blocks[i] = new double[m * m];
        var x = new double[m];
        var p = new double[c];
        long counted = 0;
        fixed (float* z = sampleZ)
            for (long row = 0; row < sample; row += stride, counted++)
            {
                Probabilities(z + row * c, layout, theta, x, p);
                x[c] = 1;
                for (int i = 0; i < c; i++)
                {
                    double spread = p[i] * (1 - p[i]);
                    var block = blocks[i];
                    for (int a = 0; a < m; a++)
                    {
                        double va = spread * x[a];
                        for (int b = a; b < m; b++) block[a * m + b] += va * x[b];
                    }
                }
            }
        for (int i = 0; i < c; i++)
        {
            var block = blocks[i];
            for (int a = 0; a < m; a++)
                for (int b = a; b < m; b++)
                    block[b * m + a] = block[a * m + b] /= Math.Max(1, counted);
            for (int a = 0; a < m; a++) block[a * m + a] += Penalty(layout, a < c ? i * c + a : c * c + i, penalty);
        }
        // factored once: each iteration solves with them twice (the plain direction and the quasi-Newton one)
        return [.. blocks.Select(b => HeldCholesky.Of(b, m))];
    }

    /// <summary>The blocks' inverse applied to q in θ's order (each class's factored block, flat directions held at 0).</summary>
    private static double[] SolveClassBlocks(HeldCholesky[] blocks, double[] q, int c)
    {
        int m = c + 1;
        var r = new double[q.Length];
        var part = new double[m];
        for (int i = 0; i < c; i++)
        {
            for (int a = 0; a < c; a++) part[a] = -q[i * c + a];
            part[c] = -q[c * c + i];
            var solved = blocks[i].Step(part);
            for (int a = 0; a < c; a++) r[i * c + a] = solved[a];
            r[c * c + i] = solved[c];
        }
        return r;
    }

    /// <summary>
    /// Limited-memory BFGS directions (Nocedal and Wright, "Numerical Optimization", algorithm 7.4) whose initial
    /// inverse Hessian is the caller's, chosen afresh each iteration: the last <see cref="Memory"/> steps s and
    /// gradient changes y correct it. A pair with sᵀy ≤ 0 (no curvature seen along the step) is not kept, and a
    /// direction that does not descend restarts from the initial inverse alone.
    /// </summary>
    internal sealed class QuasiNewton
    {
        public const int Memory = 20;

        private readonly List<(double[] S, double[] Y, double Rho)> _pairs = new();

        public double[] Direction(double[] g, Func<double[], double[]> initialInverse)
        {
            var minus = new double[g.Length];
            for (int k = 0; k < g.Length; k++) minus[k] = -g[k];
            var plain = initialInverse(minus);
            if (_pairs.Count == 0) return plain;
            var d = TwoLoop(g, initialInverse);
            double slope = 0, plainSlope = 0;
            for (int k = 0; k < g.Length; k++)
            {
                slope += g[k] * d[k];
                plainSlope += g[k] * plain[k];
            }
            // a correction that turns uphill, or promises far more descent than the initial model, comes from pairs
            // spoiled by rounding: start again from the initial model
            if (slope < 0 && slope >= 100 * plainSlope) return d;
            _pairs.Clear();
            return plain;
        }

        /// <summary>Forgets the corrections (after a direction that no step along lowered the objective).</summary>
        public bool Forget()
        {
            bool had = _pairs.Count > 0;
            _pairs.Clear();
            return had;
        }

        public void Remember(double[] next, double[] theta, double[] nextG, double[] g, in AffineLayout layout, OdirPenalty penalty)
        {
            int n = theta.Length;
            var s = new double[n];
            var y = new double[n];
            for (int k = 0; k < n; k++)
            {
                s[k] = next[k] - theta[k];
                y[k] = nextG[k] - g[k];
            }
            // the step's part along softmax's invariances changes nothing: leave it out, as the gradient does
            Canonical(layout, s, penalty);
            double sy = 0, ss = 0, yy = 0;
            for (int k = 0; k < n; k++)
            {
                sy += s[k] * y[k];
                ss += s[k] * s[k];
                yy += y[k] * y[k];
            }
            if (!(sy > 1e-8 * Math.Sqrt(ss * yy))) return;
            if (_pairs.Count == Memory) _pairs.RemoveAt(0);
            _pairs.Add((s, y, 1 / sy));
        }

        private double[] TwoLoop(double[] g, Func<double[], double[]> initialInverse)
        {
            int n = g.Length, m = _pairs.Count;
            var q = new double[n];
            for (int k = 0; k < n; k++) q[k] = -g[k];
            var alpha = new double[m];
            for (int i = m - 1; i >= 0; i--)
            {
                var (s, y, rho) = _pairs[i];
                double a = 0;
                for (int k = 0; k < n; k++) a += s[k] * q[k];
                alpha[i] = a *= rho;
                for (int k = 0; k < n; k++) q[k] -= a * y[k];
            }
            q = initialInverse(q);
            for (int i = 0; i < m; i++)
            {
                var (s, y, rho) = _pairs[i];
                double b = 0;
                for (int k = 0; k < n; k++) b += y[k] * q[k];
                b *= rho;
                for (int k = 0; k < n; k++) q[k] += (alpha[i] - b) * s[k];
            }
            return q;
        }
    }

    /// <summary>
    /// The mean Hessian of the full-matrix NLL over the sampled rows: per row (diag p − p pᵀ) ⊗ x̃ x̃ᵀ with
    /// x̃ = [x, 1], in θ's order.
    /// </summary>
    private static double[] SampleHessian(float[] sampleZ, long sample, in AffineLayout layout, double[] theta)
    {
        int c = layout.Classes, n = layout.Parameters;
        fixed (float* z = sampleZ)
            return SampleHessian(z, sample, layout, theta, n, c);
    }

    private static double[] SampleHessian(float* z, long sample, in AffineLayout layout, double[] theta, int n, int c)
    {
        var h = new double[n * n];
        var x = new double[c + 1];
        var p = new double[c];
        var v = new double[n];
        for (long row = 0; row < sample; row++)
        {
            Probabilities(z + row * c, layout, theta, x, p);
            x[c] = 1;
            // v = p ⊗ x̃ in θ's order; H += diag(p ⊗ x̃x̃-diagonal blocks) − v vᵀ
            for (int i = 0; i < c; i++)
            {
                for (int a = 0; a < c; a++) v[i * c + a] = p[i] * x[a];
                v[c * c + i] = p[i];
            }
            for (int a = 0; a < n; a++)
            {
                var upper = h.AsSpan(a * n + a, n - a);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(v.AsSpan(a), -v[a], upper, upper);
            }
            for (int i = 0; i < c; i++)
                for (int a = 0; a <= c; a++)
                    for (int b = a; b <= c; b++)
                    {
                        int ia = a < c ? i * c + a : c * c + i, ib = b < c ? i * c + b : c * c + i;
                        h[Math.Min(ia, ib) * n + Math.Max(ia, ib)] += p[i] * x[a] * x[b];
                    }
        }
        for (int a = 0; a < n; a++)
            for (int b = a; b < n; b++)
                h[b * n + a] = h[a * n + b] /= sample;
        return h;
    }

    /// <summary>One row's inputs x (log-softmax applied if the layout says so) and scaled logits s = A x + b, in float64.</summary>
    internal static void ScaledLogits(float* row, in AffineLayout layout, double[] theta, double[] x, double[] s)
    {
        int c = layout.Classes;
        for (int j = 0; j < c; j++) x[j] = row[j];
        if (layout.LogSoftmaxInput)
        {
            double shift = LogSumExp(x, c);
            for (int j = 0; j < c; j++) x[j] -= shift;
        }
        for (int i = 0; i < c; i++)
        {
            double v = theta[layout.Weights + i];
            if (layout.Full)
                for (int j = 0; j < c; j++) v += theta[i * c + j] * x[j];
            else
                v += theta[i] * x[i];
            s[i] = v;
        }
    }

    /// <summary>ln Σ e^v over the first <paramref name="c"/> values.</summary>
    internal static double LogSumExp(double[] v, int c)
    {
        double top = double.NegativeInfinity, total = 0;
        for (int j = 0; j < c; j++) top = Math.Max(top, v[j]);
        for (int j = 0; j < c; j++) total += Math.Exp(v[j] - top);
        return top + Math.Log(total);
    }

    /// <summary>x and softmax(A x + b) of one row; returns ln Σ e^s (so that −ln p_y = that − s_y stays finite).</summary>
    internal static double Probabilities(float* row, in AffineLayout layout, double[] theta, double[] x, double[] p)
    {
        ScaledLogits(row, layout, theta, x, p);
        int c = layout.Classes;
        double lse = LogSumExp(p, c);
        for (int i = 0; i < c; i++) p[i] = Math.Exp(p[i] - lse);
        return lse;
    }

    /// <summary>One fused pass: the float64 sums of <see cref="AffineLayout"/>'s slots over all rows, in chunk order.</summary>
    internal static double[] Pass(float* z, int* y, long rows, AffineLayout layout, double[] theta, bool simd, int width, int threads)
    {
        int c = layout.Classes, slots = layout.Slots;
        var parameters = new float[theta.Length];
        for (int k = 0; k < theta.Length; k++) parameters[k] = (float)theta[k];
        var partial = new double[CpuRows.Chunks(rows, c)][];
        CpuRows.ForEachChunk(rows, c, threads, (chunk, range) =>
        {
            var sums = new double[slots];
            if (simd) SimdChunk(z, y, rows, range, layout, parameters, width, sums);
            else ScalarChunk(z, y, range, layout, theta, sums);
            partial[chunk] = sums;
        });
        var total = new double[slots];
        foreach (var sums in partial)
            for (int k = 0; k < slots; k++) total[k] += sums[k];
        return total;
    }

    private static void SimdChunk(float* z, int* y, long rows, RowRange range, in AffineLayout layout, float[] parameters, int width, double[] sums)
    {
        int c = layout.Classes, lanes = width / 32, slots = layout.Slots;
        var acc = new float[slots * lanes];
        var scratch = new float[layout.ScratchFloats(lanes)];
        fixed (float* a = acc)
        fixed (float* s = scratch)
        fixed (float* w = parameters)
        {
            int tiles = 0;
            for (long start = range.Start; start < range.End; start += lanes)
            {
                int n = (int)Math.Min(lanes, range.End - start);
                float* row = z + start * c;
                long available = (rows - start) * c;
                switch (width)
                {
                    case 512: AffinePass512.Tile(row, y + start, n, available, layout, w, a, s); break;
                    case 256: AffinePass256.Tile(row, y + start, n, available, layout, w, a, s); break;
                    default: AffinePass128.Tile(row, y + start, n, available, layout, w, a, s); break;
                }
                if (++tiles == AffineLayout.TilesPerFlush)
                {
                    Flush(a, lanes, sums);
                    tiles = 0;
                }
            }
            Flush(a, lanes, sums);
        }
    }

    private static void Flush(float* acc, int lanes, double[] sums)
    {
        for (int k = 0; k < sums.Length; k++)
        {
            float* slot = acc + k * lanes;
            double v = 0;
            for (int l = 0; l < lanes; l++) v += slot[l];
            sums[k] += v;
            new Span<float>(slot, lanes).Clear();
        }
    }

    /// <summary>The same sums row by row in float64 (the scalar backend).</summary>
    private static void ScalarChunk(float* z, int* y, RowRange range, in AffineLayout layout, double[] theta, double[] sums)
    {
        int c = layout.Classes;
        var x = new double[c];
        var p = new double[c];
        for (long row = range.Start; row < range.End; row++)
        {
            int label = y[row];
            ScaledLogits(z + row * c, layout, theta, x, p);
            double atLabel = p[label], lse = LogSumExp(p, c);
            for (int i = 0; i < c; i++) p[i] = Math.Exp(p[i] - lse);
            sums[0] += lse - atLabel;
            int gradient = 1, gradientBias = 1 + layout.Weights;
            for (int i = 0; i < c; i++)
            {
                double r = p[i] - (i == label ? 1 : 0);
                sums[gradientBias + i] += r;
                if (layout.Full)
                    for (int j = 0; j < c; j++) sums[gradient + i * c + j] += r * x[j];
                else
                    sums[gradient + i] += r * x[i];
            }
            if (!layout.Hessian) continue;
            int n = 2 * c, slot = layout.OuterSlot;
            for (int i = 0; i < c; i++)
            {
                sums[layout.DiagonalSlot + i] += p[i] * x[i] * x[i];
                sums[layout.DiagonalSlot + c + i] += p[i] * x[i];
                sums[layout.DiagonalSlot + 2 * c + i] += p[i];
            }
            if (!layout.Exact)
            {
                for (int i = 0; i < c; i++)
                {
                    double spread = p[i] * (1 - p[i]);
                    sums[slot + i] += spread * x[i] * x[i];
                    sums[slot + c + i] += spread * x[i];
                    sums[slot + 2 * c + i] += spread;
                }
                continue;
            }
            for (int a = 0; a < n; a++)
            {
                double qa = a < c ? p[a] * x[a] : p[a - c];
                for (int b = a; b < n; b++, slot++) sums[slot] += qa * (b < c ? p[b] * x[b] : p[b - c]);
            }
        }
    }
}
