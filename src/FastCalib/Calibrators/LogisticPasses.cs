using FastCalib.Kernels.Internals;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastCalib;

/// <summary>
/// One logistic model of binary scores as a pass takes it: the functions of the score regressed on (bits of
/// <see cref="Mask"/>: 1 the score s, 2 ln s, 4 −ln(1 − s), in that order, the logarithms of s clipped to
/// [1e-12, 1 − 1e-12]), their weights and the intercept in <see cref="W0"/>.. (features first, the intercept last,
/// unused weights 0), and the fitting targets of the labels 1 and 0 (Platt's smoothing, or 1 and 0).
/// </summary>
internal readonly struct LogisticModel(int mask, double w0, double w1, double w2, double high, double low)
{
    public int Mask { get; } = mask;

    public double W0 { get; } = w0;

    public double W1 { get; } = w1;

    public double W2 { get; } = w2;

    public double High { get; } = high;

    public double Low { get; } = low;

    /// <summary>Features in the model (1 or 2); the intercept is weight number <see cref="Features"/>.</summary>
    public int Features => (Mask & 1) + ((Mask >> 1) & 1) + ((Mask >> 2) & 1);

    public LogisticModel With(double[] w) => new(Mask, w[0], w.Length > 1 ? w[1] : 0, w.Length > 2 ? w[2] : 0, High, Low);

    /// <summary>A score's regressors x = (features, 1) padded with 0 to three entries, in the weights' order.</summary>
    public LogisticRow Row(float score)
    {
        double s = score, v = XMath.Clamp(s, BetaCalibrator.ScoreClip, 1 - BetaCalibrator.ScoreClip);
        double f0 = (Mask & 1) != 0 ? s : (Mask & 2) != 0 ? XMath.Log(v) : -XMath.Log(1 - v);
        double f1 = (Mask & 6) == 6 ? -XMath.Log(1 - v) : 0;
        return Features == 2 ? new LogisticRow(f0, f1, 1) : new LogisticRow(f0, 1, 0);
    }

    /// <summary>The model's logit w·x of one row's regressors.</summary>
    public double Logit(in LogisticRow x) => W0 * x.X0 + W1 * x.X1 + W2 * x.X2;
}

/// <summary>One score's regressors (see <see cref="LogisticModel.Row"/>).</summary>
internal readonly struct LogisticRow(double x0, double x1, double x2)
{
    public double X0 { get; } = x0;

    public double X1 { get; } = x1;

    public double X2 { get; } = x2;
}

/// <summary>
/// A pass's sums for a logistic fit of scores: the loss Σ −[t ln p + (1 − t) ln(1 − p)], the gradient Σ (p − t) x
/// and the lower triangle of the Hessian Σ p (1 − p) x xᵀ, over x = (features, 1) padded with 0 to three entries.
/// The same arithmetic (float64) runs on the host and in the device kernel.
/// </summary>
internal struct LogisticSums
{
    public double Loss, G0, G1, G2, H00, H10, H11, H20, H21, H22;

    public void Add(float score, int target, in LogisticModel m)
    {
        var row = m.Row(score);
        double x0 = row.X0, x1 = row.X1, x2 = row.X2, f = m.Logit(row);
        double t = target == 1 ? m.High : m.Low;
        // p = σ(f) and the loss t·softplus(−f) + (1 − t)·softplus(f), both stable for any f
        double e = XMath.Exp(-XMath.Abs(f)), p = Sigmoid(f, e);
        double softplus = XMath.Log(1 + e);
        Loss += t * (softplus + XMath.Max(-f, 0)) + (1 - t) * (softplus + XMath.Max(f, 0));
        double r = p - t, c = p * (1 - p);
        G0 += r * x0;
        G1 += r * x1;
        G2 += r * x2;
        H00 += c * x0 * x0;
        H10 += c * x1 * x0;
        H11 += c * x1 * x1;
        H20 += c * x2 * x0;
        H21 += c * x2 * x1;
        H22 += c * x2 * x2;
    }

    /// <summary>σ(f) from e = exp(−|f|), without overflow for any f.</summary>
    public static double Sigmoid(double f, double e) => f >= 0 ? 1 / (1 + e) : e / (1 + e);

    /// <summary>Each sum reduced over the thread group (every thread of the group gets the totals).</summary>
    public readonly LogisticSums GroupSum() => new()
    {
        Loss = GroupReduce.SumDouble(Loss), G0 = GroupReduce.SumDouble(G0), G1 = GroupReduce.SumDouble(G1), G2 = GroupReduce.SumDouble(G2),
        H00 = GroupReduce.SumDouble(H00), H10 = GroupReduce.SumDouble(H10), H11 = GroupReduce.SumDouble(H11),
        H20 = GroupReduce.SumDouble(H20), H21 = GroupReduce.SumDouble(H21), H22 = GroupReduce.SumDouble(H22),
    };

    /// <summary>Stores the sums at <paramref name="at"/> (<see cref="Count"/> values, in field order).</summary>
    public readonly void WriteTo(ArrayView<double> into, long at)
    {
        into[at] = Loss;
        into[at + 1] = G0;
        into[at + 2] = G1;
        into[at + 3] = G2;
        into[at + 4] = H00;
        into[at + 5] = H10;
        into[at + 6] = H11;
        into[at + 7] = H20;
        into[at + 8] = H21;
        into[at + 9] = H22;
    }

    /// <summary>The sums <see cref="WriteTo"/> stored at <paramref name="at"/>.</summary>
    public static LogisticSums ReadFrom(double[] from, int at) => new()
    {
        Loss = from[at], G0 = from[at + 1], G1 = from[at + 2], G2 = from[at + 3], H00 = from[at + 4],
        H10 = from[at + 5], H11 = from[at + 6], H20 = from[at + 7], H21 = from[at + 8], H22 = from[at + 9],
    };

    public void Merge(in LogisticSums o)
    {
        Loss += o.Loss;
        G0 += o.G0;
        G1 += o.G1;
        G2 += o.G2;
        H00 += o.H00;
        H10 += o.H10;
        H11 += o.H11;
        H20 += o.H20;
        H21 += o.H21;
        H22 += o.H22;
    }

    public readonly double[] Gradient(int d) => [.. new[] { G0, G1, G2 }.Take(d)];

    public readonly double[,] Hessian(int d)
    {
        double[,] all = { { H00, H10, H20 }, { H10, H11, H21 }, { H20, H21, H22 } };
        var h = new double[d, d];
        for (int a = 0; a < d; a++)
            for (int b = 0; b < d; b++) h[a, b] = all[a, b];
        return h;
    }

    public const int Count = 10;
}

/// <summary>
/// The passes of a logistic fit of scores, on the host (chunks of rows on the CPU's threads, summed in chunk order,
/// so any thread count gives the same sums) and on a device (one kernel: each thread sums its rows in registers,
/// each group reduces them, and the groups' sums come back and are added in group order). Nothing per row is kept.
/// </summary>
internal static unsafe class LogisticPasses
{
    /// <summary>
    /// A host pass: chunks of rows on up to <paramref name="cpu"/>'s threads, each summed four rows a vector (AVX,
    /// with .NET's float64 vector Exp and Log) on SIMD paths of 256 bits or more, or row by row.
    /// </summary>
    public static LogisticSums Host(float* scores, int* targets, long rows, in LogisticModel model, (bool Simd, int Width, int Threads) cpu)
    {
        var partial = new LogisticSums[CpuRows.Chunks(rows, 1)];
        var m = model;
        bool vector = cpu.Simd && cpu.Width >= 256 && Avx.IsSupported;
        int threads = cpu.Threads;
        CpuRows.ForEachChunk(rows, 1, threads, (chunk, range) =>
        {
            var sums = new LogisticSums();
            long i = range.Start;
            if (vector) i = AddVectors(scores, targets, range, m, ref sums);
            for (; i < range.End; i++) sums.Add(scores[i], targets[i], m);
            partial[chunk] = sums;
        });
        var total = new LogisticSums();
        foreach (var sums in partial) total.Merge(sums);
        return total;
    }

    /// <summary><see cref="LogisticSums.Add"/> four rows at a time over whole vectors of the range; returns the first row left.</summary>
    private static long AddVectors(float* scores, int* targets, RowRange range, in LogisticModel m, ref LogisticSums sums)
    {
        var clip = Vector256.Create(BetaCalibrator.ScoreClip);
        var one = Vector256<double>.One;
        var zero = Vector256<double>.Zero;
        var (w0, w1, w2) = (Vector256.Create(m.W0), Vector256.Create(m.W1), Vector256.Create(m.W2));
        var (high, low) = (Vector256.Create(m.High), Vector256.Create(m.Low));
        bool score = (m.Mask & 1) != 0, logScore = (m.Mask & 2) != 0, two = m.Features == 2;
        Vector256<double> loss = zero, g0 = zero, g1 = zero, g2 = zero, h00 = zero, h10 = zero, h11 = zero, h20 = zero, h21 = zero, h22 = zero;
        long i = range.Start;
        for (; i + 4 <= range.End; i += 4)
        {
            var s = Avx.ConvertToVector256Double(Vector128.Load(scores + i));
            var label = Avx.ConvertToVector256Double(Vector128.Load(targets + i));
            var v = Vector256.Min(Vector256.Max(s, clip), one - clip);
            var f0 = score ? s : logScore ? Vector256.Log(v) : -Vector256.Log(one - v);
            var f1 = two ? -Vector256.Log(one - v) : zero;
            var (x0, x1, x2) = two ? (f0, f1, one) : (f0, one, zero);
            var f = w0 * x0 + w1 * x1 + w2 * x2;
            var t = Vector256.ConditionalSelect(Vector256.Equals(label, one), high, low);
            var e = Vector256.Exp(-Vector256.Abs(f));
            var p = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(f, zero), one / (one + e), e / (one + e));
            var softplus = Vector256.Log(one + e);
            loss += t * (softplus + Vector256.Max(-f, zero)) + (one - t) * (softplus + Vector256.Max(f, zero));
            var r = p - t;
            var c = p * (one - p);
            g0 += r * x0;
            g1 += r * x1;
            g2 += r * x2;
            h00 += c * x0 * x0;
            h10 += c * x1 * x0;
            h11 += c * x1 * x1;
            h20 += c * x2 * x0;
            h21 += c * x2 * x1;
            h22 += c * x2 * x2;
        }
        sums.Merge(new LogisticSums
        {
            Loss = Vector256.Sum(loss), G0 = Vector256.Sum(g0), G1 = Vector256.Sum(g1), G2 = Vector256.Sum(g2),
            H00 = Vector256.Sum(h00), H10 = Vector256.Sum(h10), H11 = Vector256.Sum(h11), H20 = Vector256.Sum(h20),
            H21 = Vector256.Sum(h21), H22 = Vector256.Sum(h22),
        });
        return i;
    }

    /// <summary>A device pass over views of scores and 0/1 targets (checked), into <paramref name="partial"/> (10 per group). Waits for the stream.</summary>
    public static LogisticSums Device(AcceleratorStream stream, ArrayView<float> scores, ArrayView<int> targets, ArrayView<double> partial, KernelConfig config, in LogisticModel model)
    {
        var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.LogisticPasses.Pass",
            static a => a.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<double>, LogisticModel>(Pass));
        kernel(stream, config, scores, targets, partial, model);
        var host = new double[config.GridDim.X * LogisticSums.Count];
        partial.SubView(0, host.Length).CopyToCPU(stream, host);
        stream.Synchronize();
        var total = new LogisticSums();
        for (int g = 0; g < config.GridDim.X; g++) total.Merge(LogisticSums.ReadFrom(host, g * LogisticSums.Count));
        return total;
    }

    [GpuKernelEntry]
    public static void Pass(ArrayView<float> scores, ArrayView<int> targets, ArrayView<double> partial, LogisticModel model)
    {
        var sums = new LogisticSums();
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < scores.Length; i += stride) sums.Add(scores[i], targets[i], model);
        var total = sums.GroupSum();
        if (Group.IdxX == 0) total.WriteTo(partial, (long)Grid.IdxX * LogisticSums.Count);
    }

    /// <summary>σ(w·x) of each score into <paramref name="probabilities"/> (which may be <paramref name="scores"/>); NaN stays NaN.</summary>
    [GpuKernelEntry]
    public static void Probabilities(ArrayView<float> scores, ArrayView<float> probabilities, LogisticModel model)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < scores.Length; i += stride)
        {
            float s = scores[i];
            double f = model.Logit(model.Row(s));
            probabilities[i] = XMath.IsNaN(s) ? float.NaN : (float)LogisticSums.Sigmoid(f, XMath.Exp(-XMath.Abs(f)));
        }
    }

    /// <summary>Applies a logistic model to device scores (Platt scaling, beta calibration). Waits for the stream.</summary>
    public static void Apply(string op, AcceleratorStream stream, ArrayView<float> scores, ArrayView<float> probabilities, LogisticModel model)
    {
        Check.SameLength(op, nameof(probabilities), probabilities.Length, nameof(scores), scores.Length);
        if (scores.Length == 0) return;
        GpuHost.Launch(op, stream, $"[{scores.Length}]", () =>
        {
            var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.LogisticPasses.Probabilities",
                static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, LogisticModel>(Probabilities));
            kernel(stream, GpuRows.ThreadPerRow(stream.Accelerator, scores.Length), scores, probabilities, model);
            stream.Synchronize();
        });
    }

    /// <summary>
    /// What a fit needs to know of device scores before its passes: the positives, and the smallest and largest
    /// score (a constant score has no slope to fit), per group into <paramref name="partial"/> (3 per group).
    /// </summary>
    [GpuKernelEntry]
    public static void Summary(ArrayView<float> scores, ArrayView<int> targets, ArrayView<double> partial)
    {
        long positives = 0;
        float low = float.PositiveInfinity, high = float.NegativeInfinity;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < scores.Length; i += stride)
        {
            positives += targets[i];
            low = XMath.Min(low, scores[i]);
            high = XMath.Max(high, scores[i]);
        }
        positives = GroupReduce.SumLong(positives);
        low = GroupReduce.Min(low);
        high = GroupReduce.Max(high);
        if (Group.IdxX != 0) return;
        partial[3L * Grid.IdxX] = positives;
        partial[3L * Grid.IdxX + 1] = low;
        partial[3L * Grid.IdxX + 2] = high;
    }
}

/// <summary>
/// The scores a logistic fit passes over and what it must know first: the rows, the positives, and whether every
/// score is the same (then there is no slope to fit). Made from checked host spans or device views.
/// </summary>
internal sealed record ScoreData(long Rows, long Positives, bool Constant, Func<LogisticModel, LogisticSums> Pass)
{
    /// <summary>Checks host scores and targets and runs <paramref name="fit"/> with host passes (or, on the GPU backend, uploads them and runs it with device passes).</summary>
    public static unsafe T OnHost<T>(string op, ReadOnlySpan<float> scores, ReadOnlySpan<int> targets, bool probabilities, ComputeOptions options, Func<string, ScoreData, T> fit)
    {
        Check.SameLength(op, nameof(targets), targets.Length, nameof(scores), scores.Length);
        if (options.Backend == Backend.Gpu)
        {
            if (scores.Length == 0) throw new ArgumentException($"{op}: there is nothing to fit on.", nameof(scores));
            return GpuHost.OnDevice(options, op, $"[{scores.Length}]", scores, nameof(scores), targets, nameof(targets),
                (stream, s, y) => OnDevice(op, stream, s, y, probabilities, fit));
        }
        int positives = BinaryCalibrator.CheckTraining(op, scores, targets, probabilities);
        bool constant = scores.IndexOfAnyExcept(scores[0]) < 0;
        var cpu = options.ResolveCpu();
        long rows = scores.Length;
        fixed (float* s = scores)
        fixed (int* y = targets)
        {
            float* ss = s;
            int* yy = y;
            return fit(op, new ScoreData(rows, positives, constant, m => LogisticPasses.Host(ss, yy, rows, m, cpu)));
        }
    }

    /// <summary>Checks device scores and targets on the device and runs <paramref name="fit"/> with device passes. Waits for the stream.</summary>
    public static T OnDevice<T>(string op, AcceleratorStream stream, ArrayView<float> scores, ArrayView<int> targets, bool probabilities, Func<string, ScoreData, T> fit)
    {
        Check.SameLength(op, nameof(targets), targets.Length, nameof(scores), scores.Length);
        if (scores.Length == 0) throw new ArgumentException($"{op}: there is nothing to fit on.", nameof(scores));
        T result = default!;
        GpuHost.Launch(op, stream, $"[{scores.Length}]", () =>
        {
            DeviceChecks.Scores(op, stream, scores, probabilities);
            DeviceChecks.Targets(op, stream, targets);
            var accelerator = stream.Accelerator;
            // a grid-stride reduction: a few groups per multiprocessor are enough, and each adds 10 numbers to bring back
            var shape = GpuRows.ThreadPerRow(accelerator, scores.Length);
            var config = new KernelConfig(Math.Min(shape.GridDim.X, Math.Max(1, 8 * accelerator.NumMultiprocessors)), shape.GroupDim.X);
            using var partial = accelerator.Allocate1D<double>((long)config.GridDim.X * LogisticSums.Count);
            var summary = GpuRows.Load(accelerator, "FastCalib.LogisticPasses.Summary",
                static a => a.LoadKernel<ArrayView<float>, ArrayView<int>, ArrayView<double>>(LogisticPasses.Summary));
            summary(stream, config, scores, targets, partial.View);
            var host = new double[3 * config.GridDim.X];
            partial.View.SubView(0, host.Length).CopyToCPU(stream, host);
            stream.Synchronize();
            double positives = 0, low = double.PositiveInfinity, high = double.NegativeInfinity;
            for (int g = 0; g < config.GridDim.X; g++)
            {
                positives += host[3 * g];
                low = Math.Min(low, host[3 * g + 1]);
                high = Math.Max(high, host[3 * g + 2]);
            }
            var view = partial.View;
            result = fit(op, new ScoreData(scores.Length, (long)positives, low == high, m => LogisticPasses.Device(stream, scores, targets, view, config, m)));
        });
        return result;
    }
}
