using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using FastCalib.Kernels;

namespace FastCalib.Fft;

/// <summary>The scalars of one launch of <see cref="FourierGpu.SharedKernel"/> and <see cref="FourierGpu.GlobalKernel"/>.</summary>
internal readonly record struct SpectrumLaunch(
    long Count, int Height, int Width, int Pairs, int HalfWidth, int OutputLength,
    int RowOps, int ColumnOps, int RowResult, int SpectrumAt, int ColumnResult,
    int Region, int ScratchFloats, int UseShared, int Log1p, int Standardize, float Clip);

/// <summary>
/// The ILGPU path of the magnitude features: one thread group per image (a grid-stride loop over the batch), the
/// image's whole transform in the group's shared memory when it fits (else in a per-group slice of device memory),
/// and only the finished features written to the output. The FFT plans become a short program of operations the
/// group runs with a barrier after each: Stockham stages (the generated <c>GpuButterfly</c>) and, for Bluestein
/// lengths, the chirp and filter products.
/// </summary>
/// <remarks>
/// Scratch layout (floats): complex buffers X and Y of <c>Region</c> values each, as X.re | X.im | Y.re | Y.im; a
/// complex array "at o" has its real part at o and its imaginary part at o + Region.
/// </remarks>
internal static unsafe class FourierGpu
{
    private const int OpStage = 0, OpChirpIn = 1, OpFilter = 2, OpChirpOut = 3;

    /// <summary>Ints per operation: code, then up to seven operands.</summary>
    private const int OpSize = 8;

    /// <summary>A spectrum plan compiled for the device: its operations, constants and output map, uploaded once per accelerator.</summary>
    private sealed class DevicePlan
    {
        public required MemoryBuffer1D<int, Stride1D.Dense> Ops { get; init; }
        public required MemoryBuffer1D<float, Stride1D.Dense> Constants { get; init; }
        public required MemoryBuffer1D<int, Stride1D.Dense> Source { get; init; }
        public required MemoryBuffer1D<float, Stride1D.Dense> Weights { get; init; }
        public required int RowOps { get; init; }
        public required int ColumnOps { get; init; }
        public required int RowResult { get; init; }
        public required int SpectrumAt { get; init; }
        public required int ColumnResult { get; init; }
        public required int Region { get; init; }
    }

    private static readonly ConditionalWeakTable<Accelerator, ConcurrentDictionary<SpectrumPlan, Lazy<DevicePlan>>> Plans = new();

    /// <summary>
    /// Shared memory bytes per group to assume instead of the accelerator's (null: the accelerator's). ILGPU's CPU
    /// accelerator has no limit, so the tests set this to run the device-scratch path too.
    /// </summary>
    internal static long? SharedMemoryLimit { get; set; }

    /// <summary>
    /// Queues the kernel on <paramref name="stream"/>; <paramref name="allocate"/> provides the global scratch when
    /// an image does not fit in shared memory (it must stay alive until the kernel has run).
    /// </summary>
    public static void Launch(Accelerator accelerator, AcceleratorStream stream, SpectrumPlan plan, SpectrumOptions options,
        ArrayView<float> images, ArrayView<float> features, long count, Func<long, string, ArrayView<float>> allocate)
    {
        if (count == 0) return;
        var device = Plans.GetValue(accelerator, static _ => new ConcurrentDictionary<SpectrumPlan, Lazy<DevicePlan>>())
            .GetOrAdd(plan, p => new Lazy<DevicePlan>(() => Compile(accelerator, p))).Value;
        int warp = accelerator.WarpSize;
        // group size by image size, measured on an H100 (64, 128, 256 threads): 28x28 ran fastest with 64 (0.70 ms for
        // 65536 images against 1.22 ms with 256: more images in flight), 64x64 with 128 (0.78 against 0.96 and 1.20)
        long pixels = (long)plan.Height * plan.Width;
        int wanted = pixels <= 1024 ? 64 : pixels <= 16384 ? 128 : 256;
        int group = Math.Clamp(wanted / warp * warp, warp, accelerator.MaxNumThreadsPerGroup / warp * warp);
        if (group / warp > warp) group = warp * warp;   // the group reduction's limit
        int scratchFloats = 4 * device.Region;
        // GroupReduce keeps 32 floats of static shared memory; leave it and a margin
        bool shared = 4L * scratchFloats + 1024 <= (SharedMemoryLimit ?? accelerator.MaxSharedMemoryPerGroup);
        // enough groups to fill the device; fewer when each needs its own device scratch
        long groups = Math.Clamp(count, 1, Math.Min(accelerator.MaxGridSize.X, Math.Max(1, accelerator.NumMultiprocessors) * (shared ? 32L : 4L)));
        var scratch = shared ? allocate(1, "a placeholder") : allocate(groups * scratchFloats, "per-group FFT scratch");
        var launch = new SpectrumLaunch(count, plan.Height, plan.Width, plan.Pairs, plan.HalfWidth, plan.Source.Length,
            device.RowOps, device.ColumnOps, device.RowResult, device.SpectrumAt, device.ColumnResult,
            device.Region, scratchFloats, shared ? 1 : 0, options.Log1p ? 1 : 0, options.Standardize ? 1 : 0, options.Clip);
        var config = new KernelConfig((int)groups, group, shared ? SharedMemoryConfig.RequestDynamic<float>(scratchFloats) : SharedMemoryConfig.Empty);
        var kernel = shared
            ? GpuRows.Load(accelerator, "FastCalib.Fft.FourierGpu.SharedKernel", static a => a.LoadKernel<
                ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, SpectrumLaunch>(SharedKernel))
            : GpuRows.Load(accelerator, "FastCalib.Fft.FourierGpu.GlobalKernel", static a => a.LoadKernel<
                ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<int>, ArrayView<float>, ArrayView<float>, SpectrumLaunch>(GlobalKernel));
        kernel(stream, config, images, features, device.Ops.View, device.Constants.View, device.Source.View, device.Weights.View, scratch, launch);
    }

    /// <summary>Builds the operation list: row FFTs from X, the split into the other buffer, column FFTs there.</summary>
    private static DevicePlan Compile(Accelerator accelerator, SpectrumPlan plan)
    {
        int region = Math.Max(Math.Max(plan.ZLength, plan.SpectrumLength), plan.WorkLength);
        var ops = new List<int>();
        var constants = new List<float>();
        const int x = 0;
        int y = 2 * region;
        int rowResult = Transform(plan.Rows, plan.Pairs, x, y, region, ops, constants);
        int rowOps = ops.Count / OpSize;
        int spectrumAt = rowResult == x ? y : x;
        int columnResult = Transform(plan.Columns, plan.HalfWidth, spectrumAt, rowResult, region, ops, constants);
        int columnOps = ops.Count / OpSize - rowOps;
        if (constants.Count == 0) constants.Add(0f);
        if (ops.Count == 0) ops.AddRange(new int[OpSize]);
        return new DevicePlan
        {
            Ops = accelerator.Allocate1D(ops.ToArray()),
            Constants = accelerator.Allocate1D(constants.ToArray()),
            Source = accelerator.Allocate1D(plan.Source),
            Weights = accelerator.Allocate1D(plan.ColumnWeights),
            RowOps = rowOps,
            ColumnOps = columnOps,
            RowResult = rowResult,
            SpectrumAt = spectrumAt,
            ColumnResult = columnResult,
            Region = region,
        };
    }

    /// <summary>Appends the operations of <c>block</c> transforms of <paramref name="plan"/> on the array at <paramref name="at"/>; returns where the result is.</summary>
    private static int Transform(FftPlan plan, int block, int at, int other, int region, List<int> ops, List<float> constants)
    {
        if (plan.Bluestein is not { } bluestein)
            return Stockham(plan, block, at, other, ops, constants);
        // x stays at `at`; a and the inner FFT's ping-pong share the other buffer
        int padded = bluestein.Inner.Length * block;
        int chirp = constants.Count;
        constants.AddRange(bluestein.ChirpRe);
        constants.AddRange(bluestein.ChirpIm);
        int filter = constants.Count;
        constants.AddRange(bluestein.FilterRe);
        constants.AddRange(bluestein.FilterIm);
        int n = plan.Length, m = bluestein.Inner.Length;
        ops.AddRange([OpChirpIn, n, block, chirp, at, other, m, 0]);
        int result = Stockham(bluestein.Inner, block, other, other + padded, ops, constants);
        ops.AddRange([OpFilter, m, block, filter, result, 0, 0, 0]);
        result = Stockham(bluestein.Inner, block, result, result == other ? other + padded : other, ops, constants);
        ops.AddRange([OpChirpOut, n, block, chirp, result, at, 0, 0]);
        return at;
    }

    private static int Stockham(FftPlan plan, int block, int at, int other, List<int> ops, List<float> constants)
    {
        int twiddles = constants.Count;
        constants.AddRange(plan.Twiddles);
        int n = plan.Length, s = block;
        for (int i = 0; i < plan.Radices.Length; i++)
        {
            int p = plan.Radices[i], m = n / p;
            ops.AddRange([OpStage, p, m, s, twiddles + plan.StageTwiddles[i], at, other, 0]);
            (at, other) = (other, at);
            n = m;
            s *= p;
        }
        return at;
    }

    /// <summary>The entry point when an image's scratch fits in the group's shared memory.</summary>
    [GpuKernelEntry]
    public static void SharedKernel(ArrayView<float> images, ArrayView<float> features, ArrayView<int> ops, ArrayView<float> constants,
        ArrayView<int> source, ArrayView<float> weights, ArrayView<float> globalScratch, SpectrumLaunch p) =>
        Transform(SharedMemory.GetDynamic<float>(), images, features, ops, constants, source, weights, p);

    /// <summary>
    /// The entry point with a per-group slice of device memory as scratch. (A separate kernel, not a choice inside one:
    /// a view that may point to shared or to global memory made CUDA fault, as each access must name one state space.)
    /// </summary>
    [GpuKernelEntry]
    public static void GlobalKernel(ArrayView<float> images, ArrayView<float> features, ArrayView<int> ops, ArrayView<float> constants,
        ArrayView<int> source, ArrayView<float> weights, ArrayView<float> globalScratch, SpectrumLaunch p) =>
        Transform(globalScratch.SubView((long)Grid.IdxX * p.ScratchFloats, p.ScratchFloats), images, features, ops, constants, source, weights, p);

    /// <summary>One group per image (grid-stride), see the class remarks.</summary>
    private static void Transform(ArrayView<float> buffer, ArrayView<float> images, ArrayView<float> features, ArrayView<int> ops,
        ArrayView<float> constants, ArrayView<int> source, ArrayView<float> weights, SpectrumLaunch p)
    {
        int thread = Group.IdxX, threads = Group.DimX, region = p.Region;
        int height = p.Height, width = p.Width, pairs = p.Pairs, halfWidth = p.HalfWidth;
        long pixels = (long)height * width;
        for (long image = Grid.IdxX; image < p.Count; image += Grid.DimX)
        {
            long input = image * pixels, output = image * p.OutputLength;

            // rows 2r and 2r + 1 into X at w · pairs + r (consecutive threads read consecutive pixels)
            for (int i = thread; i < pairs * width; i += threads)
            {
                int r = i / width, w = i - r * width, at = w * pairs + r;
                buffer[at] = images[input + 2L * r * width + w];
                buffer[region + at] = 2 * r + 1 < height ? images[input + (2L * r + 1) * width + w] : 0f;
            }
            Group.Barrier();
            Run(buffer, ops, constants, 0, p.RowOps, region);

            // Hermitian split into the half spectrum (see SpectrumPlan)
            int z = p.RowResult, s = p.SpectrumAt;
            for (int i = thread; i < halfWidth * pairs; i += threads)
            {
                int k = i / pairs, r = i - k * pairs;
                int a = k * pairs + r, b = (width - k) % width * pairs + r;
                float ar = buffer[z + a], ai = buffer[z + region + a], br = buffer[z + b], bi = buffer[z + region + b];
                int even = 2 * r * halfWidth + k;
                buffer[s + even] = 0.5f * (ar + br);
                buffer[s + region + even] = 0.5f * (ai - bi);
                if (2 * r + 1 < height)
                {
                    buffer[s + even + halfWidth] = 0.5f * (ai + bi);
                    buffer[s + region + even + halfWidth] = 0.5f * (br - ar);
                }
            }
            Group.Barrier();
            Run(buffer, ops, constants, p.RowOps, p.RowOps + p.ColumnOps, region);

            // magnitude (and log1p) in place of the real part
            int c = p.ColumnResult, spectrum = height * halfWidth;
            for (int i = thread; i < spectrum; i += threads)
            {
                float re = buffer[c + i], im = buffer[c + region + i];
                float magnitude = GpuMath.Sqrt(re * re + im * im);
                buffer[c + i] = p.Log1p != 0 ? Log1p(magnitude) : magnitude;
            }
            Group.Barrier();

            float mean = 0f, inverseStd = 1f;
            if (p.Standardize != 0)
            {
                float inverseCount = 1f / ((float)height * width);
                float sum = 0f;
                for (int i = thread; i < spectrum; i += threads) sum += weights[i % halfWidth] * buffer[c + i];
                mean = GroupReduce.Sum(sum) * inverseCount;
                float squares = 0f;
                for (int i = thread; i < spectrum; i += threads)
                {
                    float d = buffer[c + i] - mean;
                    squares += weights[i % halfWidth] * d * d;
                }
                float std = GpuMath.Sqrt(GroupReduce.Sum(squares) * inverseCount);
                inverseStd = std > SpectrumKernel<ScalarLanes, float>.ConstantSpread * GpuMath.Abs(mean) ? 1f / std : 0f;
            }

            for (int o = thread; o < p.OutputLength; o += threads)
            {
                float v = buffer[c + source[o]];
                if (p.Standardize != 0) v = (v - mean) * inverseStd;
                features[output + o] = GpuMath.Min(GpuMath.Max(v, -p.Clip), p.Clip);
            }
            Group.Barrier();
        }
    }

    /// <summary>Runs operations [first, last) of the program, each followed by a barrier.</summary>
    private static void Run(ArrayView<float> buffer, ArrayView<int> ops, ArrayView<float> constants, int first, int last, int region)
    {
        int thread = Group.IdxX, threads = Group.DimX;
        for (int op = first; op < last; op++)
        {
            int o = op * OpSize;
            int code = ops[o], a1 = ops[o + 1], a2 = ops[o + 2], a3 = ops[o + 3], a4 = ops[o + 4], a5 = ops[o + 5], a6 = ops[o + 6];
            if (code == OpStage)
            {
                // radix a1, m = a2, s = a3, twiddles at a4, from a5 to a6
                var twiddles = From(constants, a4);
                var xr = From(buffer, a5);
                var xi = From(buffer, a5 + region);
                var yr = From(buffer, a6);
                var yi = From(buffer, a6 + region);
                for (int b = thread; b < a2 * a3; b += threads)
                    Butterflies.GpuButterfly(a1, xr, xi, yr, yi, a2, a3, twiddles, b);
            }
            else if (code == OpChirpIn)
            {
                // a_j = x_j w_j, zero past n: n = a1, block = a2, chirp at a3, x at a4, a at a5, M = a6
                for (int i = thread; i < a6 * a2; i += threads)
                {
                    int j = i / a2;
                    float re = 0f, im = 0f;
                    if (j < a1)
                    {
                        float xr = buffer[a4 + i], xi = buffer[a4 + region + i], wr = constants[a3 + j], wi = constants[a3 + a1 + j];
                        re = xr * wr - xi * wi;
                        im = xr * wi + xi * wr;
                    }
                    buffer[a5 + i] = re;
                    buffer[a5 + region + i] = im;
                }
            }
            else if (code == OpFilter)
            {
                // a_k ← conj(a_k F_k): M = a1, block = a2, filter at a3, a at a4
                for (int i = thread; i < a1 * a2; i += threads)
                {
                    int k = i / a2;
                    float ar = buffer[a4 + i], ai = buffer[a4 + region + i], fr = constants[a3 + k], fi = constants[a3 + a1 + k];
                    buffer[a4 + i] = ar * fr - ai * fi;
                    buffer[a4 + region + i] = -(ar * fi + ai * fr);
                }
            }
            else
            {
                // X_k = w_k conj(a_k): n = a1, block = a2, chirp at a3, a at a4, X at a5
                for (int i = thread; i < a1 * a2; i += threads)
                {
                    int k = i / a2;
                    float ar = buffer[a4 + i], ai = buffer[a4 + region + i], wr = constants[a3 + k], wi = constants[a3 + a1 + k];
                    buffer[a5 + i] = ar * wr + ai * wi;
                    buffer[a5 + region + i] = ar * wi - ai * wr;
                }
            }
            Group.Barrier();
        }
    }

    /// <summary>The view from <paramref name="offset"/> to its end.</summary>
    private static ArrayView<float> From(ArrayView<float> view, int offset) => view.SubView(offset, view.Length - offset);

    /// <summary>ln(1 + a) accurate for tiny a (see <see cref="Lanes256.Log1p"/>).</summary>
    private static float Log1p(float a)
    {
        float u = 1f + a;
        return u == 1f ? a : GpuMath.Log(u) * a / (u - 1f);
    }
}
