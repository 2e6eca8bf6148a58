using System.Numerics.Tensors;
using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>The result of fitting a temperature.</summary>
/// <param name="Temperature">T*, the minimiser of the mean NLL of softmax(logits / T) (clamped to the search range).</param>
/// <param name="NllBefore">Mean NLL at T = 1.</param>
/// <param name="NllAfter">Mean NLL at T*.</param>
/// <param name="Passes">Fused passes over the data (each computes the NLL and its first two derivatives).</param>
/// <param name="AtBoundary">True if the optimum lies at or beyond the search range (e.g. perfectly separated data, whose NLL keeps falling as T → 0).</param>
public sealed record TemperatureFit(float Temperature, double NllBefore, double NllAfter, int Passes, bool AtBoundary);

/// <summary>
/// Temperature scaling (Guo et al. 2017): T* = argmin over T of the mean negative log-likelihood of
/// softmax(logits / T) on labelled data, found by a safeguarded Newton iteration in β = 1/T. The mean NLL is convex
/// in β (its second derivative is the variance of the logits under the softmax), so Newton steps inside a shrinking
/// bracket, with bisection in log β when a step would leave it, converge in a handful of passes; each pass is one
/// fused kernel over the data computing the NLL and both derivatives, with no probability matrix.
/// </summary>
public static unsafe class TemperatureScaling
{
    /// <summary>Smallest temperature searched.</summary>
    public const float MinTemperature = 0.01f;

    /// <summary>Largest temperature searched.</summary>
    public const float MaxTemperature = 100f;

    private const int Block = 1024;
    private const int MaxPasses = 40;

    /// <summary>Fits T* on host data (scalar, SIMD or GPU backend).</summary>
    /// <param name="logits">Row-major [rows, classes] logits; must be finite.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="classes">Classes, at least 2.</param>
    /// <param name="options">Backend and threads.</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static TemperatureFit Fit(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, ComputeOptions options = default)
    {
        const string op = "TemperatureScaling.Fit";
        long rows = Validate(op, logits, labels, classes);
        if (options.Backend == Backend.Gpu)
            return OnDevice(op, options, logits, labels, rows, classes, pass => Solve(pass, rows));
        var (simd, width, threads) = options.ResolveCpu();
        fixed (float* z = logits)
        fixed (int* y = labels)
        {
            float* zz = z;
            int* yy = y;
            return Solve(beta => CpuPass(zz, yy, rows, classes, beta, simd, width, threads), rows);
        }
    }

    /// <summary>Fits T* on host data with int64 labels (NumPy's and PyTorch's default).</summary>
    /// <inheritdoc cref="Fit(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions)"/>
    public static TemperatureFit Fit(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, int classes, ComputeOptions options = default)
    {
        using var y = NarrowedLabels.Of("TemperatureScaling.Fit", nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Fit(logits, y.Span, classes, options);
    }

    /// <summary>
    /// Fits T* on a tensor of logits: its last dimension is the classes, the product of the others the rows (one label
    /// per row). Any number of elements: past 2^31 − 1 values the passes run block by block on the CPU backends.
    /// </summary>
    /// <param name="logits">Dense tensor of rank at least 1; must be finite.</param>
    /// <param name="labels">One label per row, in [0, classes).</param>
    /// <param name="options">Backend and threads (the GPU backend takes up to 2^31 − 1 values).</param>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static TemperatureFit Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<int> labels, ComputeOptions options = default)
    {
        const string op = "TemperatureScaling.Fit";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        long rows = TensorRows.Rows(op, nameof(logits), logits, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        if (TensorRows.OneBlock(logits.FlattenedLength))
        {
            TemperatureFit fit = default!;
            TensorRows.ForEachBlock(logits, classes, labels, (z, y) => fit = Fit(z, y, classes, options));
            return fit;
        }
        if (options.Backend == Backend.Gpu)
            throw new ArgumentException($"{op}: {logits.FlattenedLength} logits are more than the GPU backend takes in one call (2^31 - 1); fit on the CPU backends, or on device views in parts.", nameof(logits));
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(logits), classes, $"{op}: a temperature needs at least 2 classes, got {classes}.");
        var (simd, width, threads) = options.ResolveCpu();
        CheckLabels(op, labels, classes);
        TensorRows.ForEachBlock(logits, classes, (z, start, n) =>
        {
            int bad = System.Numerics.Tensors.TensorPrimitives.IndexOfMaxMagnitude(z);
            if (!float.IsFinite(z[bad]))
                throw new ArgumentException($"{op}: logits[{start + bad / classes}, {bad % classes}] is {z[bad]}; temperature fitting needs finite logits.", nameof(logits));
        });
        fixed (float* z = &logits.GetPinnableReference())
        fixed (int* y = labels)
        {
            float* z0 = z;
            int* yy = y;
            return Solve(beta =>
            {
                (double F, double G, double H) sum = default;
                long perBlock = TensorRows.RowsPerBlock(classes);
                for (long start = 0; start < rows; start += perBlock)
                {
                    long n = Math.Min(perBlock, rows - start);
                    var (f, g, h) = CpuPass(z0 + start * classes, yy + start, n, classes, beta, simd, width, threads);
                    sum = (sum.F + f, sum.G + g, sum.H + h);
                }
                return sum;
            }, rows);
        }
    }

    /// <inheritdoc cref="Fit(in ReadOnlyTensorSpan{float}, ReadOnlySpan{int}, ComputeOptions)"/>
    public static TemperatureFit Fit(in ReadOnlyTensorSpan<float> logits, ReadOnlySpan<long> labels, ComputeOptions options = default)
    {
        const string op = "TemperatureScaling.Fit";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        using var y = NarrowedLabels.Of(op, nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");
        return Fit(logits, y.Span, options);
    }

    /// <summary>Fits T* on data already on a device (labels and logits are checked there, as the host overloads check them).</summary>
    public static TemperatureFit Fit(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes)
    {
        const string op = "TemperatureScaling.Fit";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: a temperature needs at least 2 classes, got {classes}.");
        if (rows == 0) throw new ArgumentException($"{op}: there are no rows to fit a temperature on.", nameof(logits));
        TemperatureFit result = default!;
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, classes), () =>
        {
            DeviceChecks.Labels(op, stream, labels, classes);
            DeviceChecks.Finite(op, stream, logits, classes, "temperature fitting");
            using var perRow = stream.Accelerator.Allocate1D<float>(3 * rows);
            using var totals = stream.Accelerator.Allocate1D<double>(3);
            var perRowView = perRow.View;
            var totalsView = totals.View;
            result = Solve(beta => DevicePass(stream, logits, labels, perRowView, totalsView, rows, classes, beta), rows);
        });
        return result;
    }

    /// <summary>
    /// Fits T* on rows streamed block by block on the CPU backends (each block checked by the caller: finite logits,
    /// labels in range), as the tool does with files larger than memory: every pass visits every block.
    /// </summary>
    internal static TemperatureFit Fit(long rows, Action<SpanFitBlock> forEachBlock, int classes, ComputeOptions options)
    {
        var (simd, width, threads) = options.ResolveCpu();
        return Solve(beta =>
        {
            (double F, double G, double H) sum = default;
            forEachBlock((z, y, _) =>
            {
                fixed (float* zz = z)
                fixed (int* yy = y)
                {
                    var (f, g, h) = CpuPass(zz, yy, y.Length, classes, beta, simd, width, threads);
                    sum = (sum.F + f, sum.G + g, sum.H + h);
                }
            });
            return sum;
        }, rows);
    }

    /// <summary>
    /// Fits T* with a caller-supplied pass returning the sums (over all rows) of the NLL and its first two derivatives
    /// in β = 1/T, e.g. one that streams a file larger than memory through <see cref="Evaluate"/>.
    /// </summary>
    internal static TemperatureFit Fit(Func<double, (double Nll, double First, double Second)> pass, long rows) => Solve(pass, rows);

    /// <summary>Mean NLL and its first two derivatives in β = 1/T at <paramref name="beta"/> (for tests and tools).</summary>
    internal static (double Nll, double First, double Second) Evaluate(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, double beta, ComputeOptions options = default)
    {
        const string op = "TemperatureScaling.Evaluate";
        long rows = Validate(op, logits, labels, classes);
        if (options.Backend == Backend.Gpu)
        {
            var (f, g, h) = OnDevice(op, options, logits, labels, rows, classes, pass => pass(beta));
            return (f / rows, g / rows, h / rows);
        }
        var (simd, width, threads) = options.ResolveCpu();
        fixed (float* z = logits)
        fixed (int* y = labels)
        {
            var (f, g, h) = CpuPass(z, y, rows, classes, beta, simd, width, threads);
            return (f / rows, g / rows, h / rows);
        }
    }

    private static long Validate(string op, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes)
    {
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        if (classes < 2)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: a temperature needs at least 2 classes, got {classes}.");
        if (rows == 0)
            throw new ArgumentException($"{op}: there are no rows to fit a temperature on.", nameof(logits));
        CheckLabels(op, labels, classes);
        // the largest magnitude is the first NaN if there is one, otherwise an infinity if there is one
        int bad = System.Numerics.Tensors.TensorPrimitives.IndexOfMaxMagnitude(logits);
        if (!float.IsFinite(logits[bad]))
            throw new ArgumentException($"{op}: logits[{bad / classes}, {bad % classes}] is {logits[bad]}; temperature fitting needs finite logits.", nameof(logits));
        return rows;
    }

    private static void CheckLabels(string op, ReadOnlySpan<int> labels, int classes)
    {
        int bad = labels.IndexOfAnyExceptInRange(0, classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {classes}).");
    }

    /// <summary>
    /// Newton in β on the convex mean NLL, inside the bracket [1/MaxTemperature, 1/MinTemperature] that shrinks with
    /// the sign of f' after every pass; a step leaving the bracket (or a non-positive f'') is replaced by bisection
    /// in log β. Stops when a step changes β by less than 1e-8 relative (the per-row float32 terms make the summed
    /// derivative noisy at about that level; T* is still far inside the 1e-6 accuracy asked of it).
    /// </summary>
    private static TemperatureFit Solve(Func<double, (double Nll, double First, double Second)> pass, long rows)
    {
        double lo = 1.0 / MaxTemperature, hi = 1.0 / MinTemperature;
        double beta = 1;
        var (f, g, h) = pass(beta);
        int passes = 1;
        double before = f / rows;
        bool converged = false;
        while (passes < MaxPasses && !converged)
        {
            if (g > 0) hi = beta; else lo = beta;
            double next = h > 0 ? beta - g / h : double.NaN;
            if (!(next > lo && next < hi)) next = Math.Sqrt(lo * hi);
            converged = Math.Abs(next - beta) <= 1e-8 * beta || hi <= lo * (1 + 1e-12);
            beta = next;
            (f, g, h) = pass(beta);
            passes++;
        }
        if (!converged)
        {
            // Newton creeps when the optimum is beyond the range (the NLL of separable data falls like e^-β forever):
            // settle it at the bounds
            foreach (double bound in new[] { 1.0 / MinTemperature, 1.0 / MaxTemperature })
            {
                var at = pass(bound);
                passes++;
                if (bound > 1 ? at.First <= 0 : at.First >= 0)
                {
                    beta = bound;
                    f = at.Nll;
                    break;
                }
            }
        }
        bool atBoundary = beta <= 1.0 / MaxTemperature * (1 + 1e-6) || beta >= 1.0 / MinTemperature * (1 - 1e-6);
        return new TemperatureFit((float)(1 / beta), before, f / rows, passes, atBoundary);
    }

    /// <summary>One fused pass on the CPU: sums of the per-row NLL and derivatives, in chunk order (float64).</summary>
    private static (double, double, double) CpuPass(float* z, int* y, long rows, int cols, double beta, bool simd, int width, int threads)
    {
        var partial = new (double, double, double)[CpuRows.Chunks(rows, cols)];
        float b = (float)beta;
        CpuRows.ForEachChunk(rows, cols, threads, (c, range) =>
        {
            float* nll = stackalloc float[Block];
            float* first = stackalloc float[Block];
            float* second = stackalloc float[Block];
            double sf = 0, sg = 0, sh = 0;
            for (long start = range.Start; start < range.End; start += Block)
            {
                long end = Math.Min(range.End, start + Block);
                var block = new RowRange(start, end);
                if (simd) TemperatureKernels.NllDerivativesKernel.Simd(block, width, cols, z, y, b, nll - start, first - start, second - start);
                else TemperatureKernels.NllDerivativesKernel.Scalar(block, cols, z, y, b, nll - start, first - start, second - start);
                for (int i = 0; i < end - start; i++)
                {
                    sf += nll[i];
                    sg += first[i];
                    sh += second[i];
                }
            }
            partial[c] = (sf, sg, sh);
        });
        double f = 0, g = 0, h = 0;
        foreach (var (pf, pg, ph) in partial)
        {
            f += pf;
            g += pg;
            h += ph;
        }
        return (f, g, h);
    }

    /// <summary>Uploads host data to the GPU backend's accelerator and runs <paramref name="use"/> with a device pass over it.</summary>
    private static T OnDevice<T>(string op, ComputeOptions options, ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, long rows, int classes,
        Func<Func<double, (double, double, double)>, T> use) =>
        GpuHost.OnDevice(options, op, GpuHost.Shape(rows, classes), logits, nameof(logits), labels, nameof(labels), (stream, z, y) =>
        {
            using var perRow = stream.Accelerator.Allocate1D<float>(3 * rows);
            using var totals = stream.Accelerator.Allocate1D<double>(3);
            var perRowView = perRow.View;
            var totalsView = totals.View;
            return use(beta => DevicePass(stream, z, y, perRowView, totalsView, rows, classes, beta));
        });

    /// <summary>One fused pass on a device: the per-row kernel, then a device reduction of the three columns.</summary>
    private static (double, double, double) DevicePass(AcceleratorStream stream, ArrayView<float> z, ArrayView<int> y, ArrayView<float> perRow, ArrayView<double> totals, long rows, int cols, double beta)
    {
        var accelerator = stream.Accelerator;
        TemperatureKernels.NllDerivativesKernel.Gpu(stream, z, y, (float)beta, perRow.SubView(0, rows), perRow.SubView(rows, rows), perRow.SubView(2 * rows, rows), rows, cols);
        totals.MemSetToZero(stream);
        var reduce = GpuRows.Load(accelerator, "FastCalib.TemperatureScaling.SumColumns",
            static a => a.LoadKernel<ArrayView<float>, ArrayView<double>, long>(SumColumns));
        reduce(stream, GpuRows.ThreadPerRow(accelerator, rows), perRow, totals, rows);
        var host = new double[3];
        totals.CopyToCPU(stream, host);
        stream.Synchronize();
        return (host[0], host[1], host[2]);
    }

    /// <summary>Sums each of the three row-length columns of <paramref name="values"/> into <paramref name="totals"/> in float64.</summary>
    [GpuKernelEntry]
    public static void SumColumns(ArrayView<float> values, ArrayView<double> totals, long rows)
    {
        double a = 0, b = 0, c = 0;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < rows; i += stride)
        {
            a += values[i];
            b += values[rows + i];
            c += values[2 * rows + i];
        }
        a = GroupReduce.SumDouble(a);
        b = GroupReduce.SumDouble(b);
        c = GroupReduce.SumDouble(c);
        if (Group.IdxX == 0)
        {
            DeviceAtomic.Add(ref totals[0], a);
            DeviceAtomic.Add(ref totals[1], b);
            DeviceAtomic.Add(ref totals[2], c);
        }
    }
}
