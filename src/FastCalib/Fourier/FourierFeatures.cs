using System.Runtime.Intrinsics;
using ILGPU;
using ILGPU.Runtime;
using FastCalib.Fft;
using FastCalib.Kernels;

namespace FastCalib;

/// <summary>What the magnitude features apply to |DFT2(x)| before writing it, in this order: log1p, standardisation, clipping; and the layout.</summary>
public readonly record struct FourierFeatureOptions
{
    /// <summary>fftshift: zero frequency moved to the centre, index (⌊H/2⌋, ⌊W/2⌋) (along rows only for <see cref="HalfSpectrum"/>).</summary>
    public bool Shift { get; init; }

    /// <summary>ln(1 + |X|) instead of |X| (accurate also for tiny magnitudes).</summary>
    public bool Log1p { get; init; }

    /// <summary>
    /// Per image, subtract the mean and divide by the (population) standard deviation of its whole spectrum; an image
    /// whose spectrum is constant up to float32 rounding (spread below 1e-5 of the mean: an all-zero image, an impulse)
    /// gives zeros. The statistics are those of the full [H, W] spectrum
    /// also when only the half is written, so a half output is exactly the left part of the full one.
    /// </summary>
    public bool Standardize { get; init; }

    /// <summary>Clip to [−Clip, Clip] after the other steps; must be greater than 0; +∞ (the default, also for 0 meaning "unset") clips nothing.</summary>
    public float Clip { get; init; }

    /// <summary>Write only the non-redundant columns 0..W/2, [N, H, W/2 + 1] (NumPy's rfft2 layout), instead of [N, H, W].</summary>
    public bool HalfSpectrum { get; init; }
}

/// <summary>
/// Magnitude features of image batches: |DFT2(x)| of each real float32 image [H, W] (NumPy's fft2 convention: the
/// unnormalised forward transform), shifted, log-scaled, standardised and clipped on request, in one pass per image
/// with nothing complex written out.
/// </summary>
/// <remarks>
/// <para>Any H, W ≥ 1. Lengths that factor into 2, 3, 5, 7, 11 and 13 run mixed-radix FFTs whose butterflies are
/// generated straight-line code; other lengths (large prime factors) run Bluestein's algorithm on a longer length
/// that factors, a few times slower per pixel. Real input is exploited: two image rows share one complex FFT and only
/// the W/2 + 1 non-redundant columns are transformed down the columns. The SIMD path transforms 4, 8 or 16 images at
/// once, one per vector lane, on all cores; results do not depend on the thread count.</para>
/// <para>Accuracy: float32 arithmetic with twiddles rounded once from float64; relative to the largest magnitude of an
/// image, errors are about 1e-7 · log2(H·W) (Bluestein sizes a few times more).</para>
/// <para>NaN or ±∞ in an image makes that image's features NaN or ±∞ (most elements, not necessarily all: an
/// infinity meets other infinities in the sums); other images in the batch are unaffected. Finite images whose
/// spectrum exceeds about 1.8e19 overflow float32 in the magnitude and give +∞.</para>
/// <para>Multi-channel batches [N, C, H, W] are N·C images [H, W]: pass them as they are.</para>
/// </remarks>
public static unsafe class FourierFeatures
{
    /// <summary>Largest pixel count of one image (2^28).</summary>
    public const long MaxPixels = 1L << 28;

    /// <summary>Elements of the features of <paramref name="images"/> images [H, W]: images · H · W, or images · H · (W/2 + 1) for the half spectrum.</summary>
    public static long OutputLength(long images, int height, int width, bool halfSpectrum = false)
    {
        CheckSize("FourierFeatures.OutputLength", height, width);
        if (images < 0) throw new ArgumentOutOfRangeException(nameof(images), images, "FourierFeatures.OutputLength: images must not be negative.");
        return checked(images * height * (halfSpectrum ? width / 2 + 1 : width));
    }

    /// <summary>
    /// The magnitude features of a batch of images [N, H, W] (row-major, images consecutive) into
    /// <paramref name="features"/>, [N, H, W] or [N, H, W/2 + 1] for <see cref="FourierFeatureOptions.HalfSpectrum"/>.
    /// </summary>
    /// <param name="images">N·H·W pixels (N ≥ 0; [N, C, H, W] is N·C images).</param>
    /// <param name="features">Output, see <see cref="OutputLength"/>; must not overlap <paramref name="images"/>.</param>
    /// <param name="height">H ≥ 1.</param>
    /// <param name="width">W ≥ 1.</param>
    /// <param name="options">Shift, log1p, standardisation, clipping and layout.</param>
    /// <param name="compute">Backend and threads.</param>
    public static void Magnitude(ReadOnlySpan<float> images, Span<float> features, int height, int width,
        FourierFeatureOptions options = default, ComputeOptions compute = default)
    {
        const string op = "FourierFeatures.Magnitude";
        var spectrum = Validate(op, images.Length, features.Length, height, width, options, out long count);
        Check.NoOverlap(op, nameof(features), features, nameof(images), images, inPlaceAllowed: false);
        if (count == 0) return;
        if (compute.Backend == Backend.Gpu)
        {
            GpuHost.OnDevice(compute, op, Shape(count, height, width), images, nameof(images), features, nameof(features),
                (stream, x, y) => Magnitude(stream, x, y, height, width, options));
            return;
        }
        var plan = SpectrumPlan.For(height, width, options.Shift, options.HalfSpectrum);
        fixed (float* x = images, y = features)
            RunCpu(compute, plan, spectrum, x, y, count);
    }

    private static string Shape(long count, int height, int width) => $"{count} images of {height}x{width}";

    /// <summary>
    /// The magnitude features of a batch on device views (see the host overload): queued on
    /// <paramref name="stream"/>. Sizes whose transform does not fit in a thread group's shared memory (beyond about
    /// 64x64 on CUDA, or lengths that need Bluestein's algorithm) use device scratch memory that this call allocates
    /// and frees, so it then waits for the stream before returning.
    /// </summary>
    public static void Magnitude(AcceleratorStream stream, ArrayView<float> images, ArrayView<float> features, int height, int width,
        FourierFeatureOptions options = default)
    {
        const string op = "FourierFeatures.Magnitude";
        var spectrum = Validate(op, images.Length, features.Length, height, width, options, out long count);
        if (count == 0) return;
        var plan = SpectrumPlan.For(height, width, options.Shift, options.HalfSpectrum);
        var scratch = new List<MemoryBuffer>();
        GpuHost.Launch(op, stream, Shape(count, height, width), () =>
        {
            try
            {
                FourierGpu.Launch(stream.Accelerator, stream, plan, spectrum, images, features, count, (length, _) =>
                {
                    var buffer = stream.Accelerator.Allocate1D<float>(Math.Max(1, length));
                    scratch.Add(buffer);
                    return buffer.View;
                });
                if (scratch.Any(b => b.Length > 1)) stream.Synchronize();
            }
            finally
            {
                foreach (var buffer in scratch) buffer.Dispose();
            }
        });
    }

    /// <summary>Checks the arguments and returns the options in the kernels' form and the number of images.</summary>
    internal static SpectrumOptions Validate(string op, long imagesLength, long featuresLength, int height, int width, FourierFeatureOptions options, out long count)
    {
        CheckSize(op, height, width);
        long pixels = (long)height * width;
        if (imagesLength % pixels != 0)
            throw new ArgumentException($"{op}: images has {imagesLength} elements, which is not a whole number of {height}x{width} images.", "images");
        count = imagesLength / pixels;
        long expected = OutputLength(count, height, width, options.HalfSpectrum);
        if (featuresLength != expected)
            throw new ArgumentException($"{op}: features has {featuresLength} elements but {count} image(s) of {height}x{width} need {expected}" +
                (options.HalfSpectrum ? $" ([N, H, W/2 + 1] = [{count}, {height}, {width / 2 + 1}])." : $" ([N, H, W] = [{count}, {height}, {width}])."), "features");
        float clip = options.Clip;
        if (float.IsNaN(clip) || clip < 0)
            throw new ArgumentOutOfRangeException(nameof(options), clip, $"{op}: Clip must be greater than 0 (or 0/+∞ for no clipping), got {clip}.");
        return new SpectrumOptions(options.Shift, options.Log1p, options.Standardize, clip == 0 ? float.PositiveInfinity : clip, options.HalfSpectrum);
    }

    private static void CheckSize(string op, int height, int width)
    {
        if (height <= 0)
            throw new ArgumentOutOfRangeException(nameof(height), height, $"{op}: height must be at least 1, got {height}.");
        if (width <= 0)
            throw new ArgumentOutOfRangeException(nameof(width), width, $"{op}: width must be at least 1, got {width}.");
        if ((long)height * width > MaxPixels)
            throw new ArgumentOutOfRangeException(nameof(height), $"{op}: a {height}x{width} image has more than {MaxPixels} pixels, the most supported.");
    }

    /// <summary>Per-thread buffers above this many bytes make the SIMD path take fewer images per vector.</summary>
    private const long WorkspaceBudget = 512 << 10;

    internal static void RunCpu(ComputeOptions compute, SpectrumPlan plan, SpectrumOptions options, float* images, float* features, long count)
    {
        var (simd, width, threads) = compute.ResolveCpu();
        if (simd)
        {
            // the widest vector whose buffers stay within budget; huge images go one at a time
            if (width == 512 && plan.TotalLength * 64 > WorkspaceBudget) width = 256;
            if (width == 256 && plan.TotalLength * 32 > WorkspaceBudget) width = 128;
            if (width == 128 && plan.TotalLength * 16 > WorkspaceBudget) simd = false;
        }
        if (!simd) Run<ScalarLanes, float>(plan, options, images, features, count, threads);
        else if (width == 512) Run<Lanes512, Vector512<float>>(plan, options, images, features, count, threads);
        else if (width == 256) Run<Lanes256, Vector256<float>>(plan, options, images, features, count, threads);
        else Run<Lanes128, Vector128<float>>(plan, options, images, features, count, threads);
    }

    /// <summary>Groups of lanes images, in chunks of about 64K pixels, on up to <paramref name="threads"/> threads with one workspace each.</summary>
    private static void Run<TL, T>(SpectrumPlan plan, SpectrumOptions options, float* images, float* features, long count, int threads)
        where TL : struct, ILanes<T>
        where T : unmanaged
    {
        int lanes = TL.Count;
        long pixels = (long)plan.Height * plan.Width, outputs = plan.Source.Length;
        long groups = (count + lanes - 1) / lanes;
        long groupsPerChunk = Math.Max(1, CpuRows.ChunkElements / (pixels * lanes));
        long chunks = (groups + groupsPerChunk - 1) / groupsPerChunk;
        nint x = (nint)images, y = (nint)features;

        void Chunk(long chunk, SpectrumKernel<TL, T>.Workspace ws)
        {
            long first = chunk * groupsPerChunk, last = Math.Min(groups, first + groupsPerChunk);
            for (long g = first; g < last; g++)
            {
                long image = g * lanes;
                int n = (int)Math.Min(lanes, count - image);
                SpectrumKernel<TL, T>.Group(plan, options, (float*)x + image * pixels, (float*)y + image * outputs, n, ws);
            }
        }

        if (threads == 1 || chunks == 1)
        {
            var ws = new SpectrumKernel<TL, T>.Workspace(plan);
            for (long c = 0; c < chunks; c++) Chunk(c, ws);
            return;
        }
        Parallel.For(0L, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads },
            () => new SpectrumKernel<TL, T>.Workspace(plan),
            (c, _, ws) => { Chunk(c, ws); return ws; },
            _ => { });
    }
}
