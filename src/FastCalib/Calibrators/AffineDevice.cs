using FastCalib.Kernels.Internals;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary><see cref="AffineLayout"/> as the device kernels take it: plain integers.</summary>
internal readonly struct DeviceAffineShape(int classes, int weights, int full, int logSoftmax, int hessian, int exact, int diagonalSlot, int outerSlot)
{
    public DeviceAffineShape(in AffineLayout layout)
        : this(layout.Classes, layout.Weights, layout.Full ? 1 : 0, layout.LogSoftmaxInput ? 1 : 0, layout.Hessian ? 1 : 0, layout.Exact ? 1 : 0,
            layout.DiagonalSlot, layout.OuterSlot)
    {
    }

    public int Classes { get; } = classes;

    public int Weights { get; } = weights;

    public int Full { get; } = full;

    public int LogSoftmax { get; } = logSoftmax;

    public int Hessian { get; } = hessian;

    public int Exact { get; } = exact;

    public int DiagonalSlot { get; } = diagonalSlot;

    public int OuterSlot { get; } = outerSlot;
}

/// <summary>
/// Rows of a fit on a device: each pass is one kernel over the rows (a grid-stride loop, every thread adding its
/// rows' terms to its own column of float64 slot sums, as <see cref="AffineScaling"/>'s scalar path computes them),
/// then one group per slot sums the columns in a fixed order, so a pass gives the same sums every time; only the
/// slot sums come back. Per thread the kernel keeps a row's inputs and probabilities in a device scratch array
/// (2C values, coalesced across threads), so nothing of size [rows, classes] is allocated.
/// </summary>
internal sealed class DeviceRows : FitRows, IDisposable
{
    /// <summary>Float64 values of scratch and slot sums at most (128 MiB), which caps the threads of a pass.</summary>
    private const long DeviceBudget = 1L << 24;

    private readonly AcceleratorStream _stream;
    private readonly ArrayView<float> _logits;
    private readonly ArrayView<int> _labels;
    private readonly AffineLayout _layout;
    private readonly KernelConfig _config;
    private readonly MemoryBuffer1D<double, Stride1D.Dense> _theta, _work, _partial, _totals;

    public DeviceRows(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, in AffineLayout layout)
    {
        _stream = stream;
        _logits = logits;
        _labels = labels;
        _layout = layout;
        Rows = labels.Length;
        var accelerator = stream.Accelerator;
        _config = Launch(accelerator, Rows, layout.Slots + 2 * layout.Classes);
        long threads = Threads(_config);
        _theta = accelerator.Allocate1D<double>(layout.Parameters);
        _work = accelerator.Allocate1D<double>(2L * layout.Classes * threads);
        _partial = accelerator.Allocate1D<double>(layout.Slots * threads);
        _totals = accelerator.Allocate1D<double>(layout.Slots);
    }

    public override long Rows { get; }

    public override double[] Sums(in AffineLayout layout, double[] theta, (bool Simd, int Width, int Threads) cpu)
    {
        if (layout != _layout) throw new InvalidOperationException("DeviceRows: a pass of another layout than the rows were prepared for.");
        var accelerator = _stream.Accelerator;
        var pass = GpuRows.Load(accelerator, "FastCalib.AffineDevice.Pass", static a => a.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<double>,
            ArrayView<double>, ArrayView<double>, long, DeviceAffineShape>(AffineDevice.Pass));
        var sum = GpuRows.Load(accelerator, "FastCalib.AffineDevice.SumColumns", static a => a.LoadKernel<ArrayView<double>, ArrayView<double>, long>(AffineDevice.SumColumns));
        long threads = Threads(_config);
        _theta.View.CopyFromCPU(_stream, theta);
        _partial.View.MemSetToZero(_stream);
        pass(_stream, _config, _logits, _labels, _theta.View, _work.View, _partial.View, Rows, new DeviceAffineShape(layout));
        sum(_stream, GpuRows.GroupPerRow(accelerator, layout.Slots, (int)Math.Min(threads, int.MaxValue)), _partial.View, _totals.View, threads);
        var sums = new double[layout.Slots];
        _totals.View.CopyToCPU(_stream, sums);
        _stream.Synchronize();
        return sums;
    }

    public override float[] Sample(long count, int classes)
    {
        var accelerator = _stream.Accelerator;
        var gather = GpuRows.Load(accelerator, "FastCalib.AffineDevice.GatherRows", static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, long, int>(AffineDevice.GatherRows));
        using var sample = accelerator.Allocate1D<float>(Math.Max(1, count * classes));
        var view = sample.View.SubView(0, count * classes);
        gather(_stream, GpuRows.ThreadPerRow(accelerator, view.Length), _logits, view, Rows, classes);
        var host = new float[view.Length];
        view.CopyToCPU(_stream, host);
        _stream.Synchronize();
        return host;
    }

    public void Dispose()
    {
        _theta.Dispose();
        _work.Dispose();
        _partial.Dispose();
        _totals.Dispose();
    }

    /// <summary>
    /// A thread per row up to the budget of <paramref name="perThread"/> float64 values a thread and 8 groups a
    /// multiprocessor (a grid-stride loop needs no more to fill the device), at least one group.
    /// </summary>
    internal static KernelConfig Launch(Accelerator accelerator, long rows, int perThread)
    {
        var shape = GpuRows.ThreadPerRow(accelerator, rows);
        long group = shape.GroupDim.X;
        long groups = Math.Clamp(Math.Min(DeviceBudget / perThread / group, 8L * accelerator.NumMultiprocessors), 1, shape.GridDim.X);
        return new KernelConfig((int)groups, (int)group);
    }

    internal static long Threads(KernelConfig config) => (long)config.GridDim.X * config.GroupDim.X;
}

/// <summary>
/// The device kernels of <see cref="AffineScaling"/>: the fused pass (the slot sums of <see cref="AffineLayout"/>, in
/// float64 as the scalar path), the column sums that finish it, the Hessian sample's gather and the calibrated
/// probabilities. A thread t of T keeps its row's inputs x at work[j·T + t] and scaled logits (then probabilities)
/// at work[(C + j)·T + t].
/// </summary>
internal static class AffineDevice
{
    [GpuKernelEntry]
    public static void Pass(ArrayView<float> z, ArrayView<int> y, ArrayView<double> theta, ArrayView<double> work, ArrayView<double> partial, long rows, DeviceAffineShape s)
    {
        long threads = (long)Grid.DimX * Group.DimX, t = Grid.GlobalIndex.X;
        int c = s.Classes;
        for (long row = t; row < rows; row += threads)
        {
            double lse = ScaledLogits(z, theta, work, row, t, threads, s);
            int label = y[row];
            partial[t] += lse - work[(c + label) * threads + t];
            for (int i = 0; i < c; i++)
            {
                double p = XMath.Exp(work[(c + i) * threads + t] - lse);
                work[(c + i) * threads + t] = p;
                double r = p - (i == label ? 1 : 0);
                partial[(1 + s.Weights + i) * threads + t] += r;
                if (s.Full != 0)
                    for (int j = 0; j < c; j++) partial[(1 + i * c + j) * threads + t] += r * work[j * threads + t];
                else
                    partial[(1 + i) * threads + t] += r * work[i * threads + t];
            }
            if (s.Hessian == 0) continue;
            for (int i = 0; i < c; i++)
            {
                double p = work[(c + i) * threads + t], x = work[i * threads + t];
                partial[(s.DiagonalSlot + i) * threads + t] += p * x * x;
                partial[(s.DiagonalSlot + c + i) * threads + t] += p * x;
                partial[(s.DiagonalSlot + 2 * c + i) * threads + t] += p;
            }
            if (s.Exact == 0)
            {
                for (int i = 0; i < c; i++)
                {
                    double p = work[(c + i) * threads + t], x = work[i * threads + t], spread = p * (1 - p);
                    partial[(s.OuterSlot + i) * threads + t] += spread * x * x;
                    partial[(s.OuterSlot + c + i) * threads + t] += spread * x;
                    partial[(s.OuterSlot + 2 * c + i) * threads + t] += spread;
                }
                continue;
            }
            // the upper triangle of q qᵀ, q = [p ⊙ x, p]
            int slot = s.OuterSlot;
            for (int a = 0; a < 2 * c; a++)
            {
                double qa = Outer(work, a, c, t, threads);
                for (int b = a; b < 2 * c; b++, slot++) partial[slot * threads + t] += qa * Outer(work, b, c, t, threads);
            }
        }
    }

    /// <summary>q_a of the rank-one Hessian term: p_a x_a for a below C, p_(a − C) beyond.</summary>
    private static double Outer(ArrayView<double> work, int a, int c, long t, long threads) =>
        a < c ? work[(c + a) * threads + t] * work[a * threads + t] : work[a * threads + t];

    /// <summary>
    /// Row <paramref name="row"/>'s inputs x (its logits, or their log-softmax) and scaled logits s = A x + b into the
    /// thread's scratch, in float64 and in the scalar path's order; returns ln Σ e^s.
    /// </summary>
    private static double ScaledLogits(ArrayView<float> z, ArrayView<double> theta, ArrayView<double> work, long row, long t, long threads, DeviceAffineShape s)
    {
        int c = s.Classes;
        long at = row * c;
        double shift = 0;
        if (s.LogSoftmax != 0)
        {
            double top = double.NegativeInfinity, total = 0;
            for (int j = 0; j < c; j++) top = XMath.Max(top, z[at + j]);
            for (int j = 0; j < c; j++) total += XMath.Exp(z[at + j] - top);
            shift = top + XMath.Log(total);
        }
        for (int j = 0; j < c; j++) work[j * threads + t] = z[at + j] - shift;
        double best = double.NegativeInfinity, sum = 0;
        for (int i = 0; i < c; i++)
        {
            double v = theta[s.Weights + i];
            if (s.Full != 0)
                for (int j = 0; j < c; j++) v += theta[i * c + j] * work[j * threads + t];
            else
                v += theta[i] * work[i * threads + t];
            work[(c + i) * threads + t] = v;
            best = XMath.Max(best, v);
        }
        for (int i = 0; i < c; i++) sum += XMath.Exp(work[(c + i) * threads + t] - best);
        return best + XMath.Log(sum);
    }

    /// <summary>Each slot's total over the threads' columns, summed in a fixed order by one group per slot.</summary>
    [GpuKernelEntry]
    public static void SumColumns(ArrayView<double> partial, ArrayView<double> totals, long threads)
    {
        for (long slot = Grid.IdxX; slot < totals.Length; slot += Grid.DimX)
        {
            double v = 0;
            for (long i = Group.IdxX; i < threads; i += Group.DimX) v += partial[slot * threads + i];
            v = GroupReduce.SumDouble(v);
            if (Group.IdxX == 0) totals[slot] = v;
        }
    }

    /// <summary>Rows k · rows / count of <paramref name="z"/> for k below count = sample.Length / classes, into <paramref name="sample"/>.</summary>
    [GpuKernelEntry]
    public static void GatherRows(ArrayView<float> z, ArrayView<float> sample, long rows, int classes)
    {
        long count = sample.Length / classes, stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < sample.Length; i += stride)
        {
            long k = i / classes;
            sample[i] = z[k * rows / count * classes + i % classes];
        }
    }

    /// <summary>softmax(A x + b) of each row into <paramref name="p"/> (which may be <paramref name="z"/>: a row is read whole before it is written).</summary>
    [GpuKernelEntry]
    public static void Probabilities(ArrayView<float> z, ArrayView<float> p, ArrayView<double> theta, ArrayView<double> work, long rows, DeviceAffineShape s)
    {
        long threads = (long)Grid.DimX * Group.DimX, t = Grid.GlobalIndex.X;
        int c = s.Classes;
        for (long row = t; row < rows; row += threads)
        {
            double lse = ScaledLogits(z, theta, work, row, t, threads, s);
            for (int i = 0; i < c; i++) p[row * c + i] = (float)XMath.Exp(work[(c + i) * threads + t] - lse);
        }
    }

    /// <summary>Writes softmax(A x + b) of device logits into <paramref name="probabilities"/> (may be the same view). Waits for the stream.</summary>
    public static void Apply(string op, AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, int classes, float[] weights, float[] bias, bool full, bool logSoftmax)
    {
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(logits), logits.Length);
        if (classes != bias.Length)
            throw new ArgumentException($"{op}: the calibrator was fitted for {bias.Length} classes, got rows of {classes}.", nameof(classes));
        if (rows == 0) return;
        var layout = new AffineLayout(classes, full, logSoftmax, Hessian: false);
        var theta = new double[layout.Parameters];
        for (int k = 0; k < weights.Length; k++) theta[k] = weights[k];
        for (int k = 0; k < classes; k++) theta[layout.Weights + k] = bias[k];
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, classes), () =>
        {
            var accelerator = stream.Accelerator;
            var kernel = GpuRows.Load(accelerator, "FastCalib.AffineDevice.Probabilities", static a => a.LoadKernel<ArrayView<float>, ArrayView<float>,
                ArrayView<double>, ArrayView<double>, long, DeviceAffineShape>(Probabilities));
            var config = DeviceRows.Launch(accelerator, rows, 2 * classes);
            using var parameters = accelerator.Allocate1D(theta);
            using var work = accelerator.Allocate1D<double>(2L * classes * DeviceRows.Threads(config));
            kernel(stream, config, logits, probabilities, parameters.View, work.View, rows, new DeviceAffineShape(layout));
            stream.Synchronize();
        });
    }
}
