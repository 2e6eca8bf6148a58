using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>Memory layout of an image batch.</summary>
public enum ImageLayout
{
    /// <summary>[batch, channels, height, width] (PyTorch).</summary>
    Nchw = 0,

    /// <summary>[batch, height, width, channels] (TensorFlow, JAX).</summary>
    Nhwc = 1,
}

/// <summary>
/// The random draws of one CutMix step (Yun et al. 2019), as timm makes them: λ ~ Beta(α, α), a box whose sides are
/// sqrt(1 − λ) of the image's (rounded down), centred at a uniform pixel and clipped to the image, and λ corrected to
/// 1 − box area / image area, the share of each image that stays its own.
/// </summary>
/// <param name="Partner">Partner[i] is the image whose box is pasted into image i.</param>
/// <param name="Top">First row of the box.</param>
/// <param name="Left">First column of the box.</param>
/// <param name="BoxHeight">Rows of the box (0 for an empty box).</param>
/// <param name="BoxWidth">Columns of the box (0 for an empty box).</param>
/// <param name="Lambda">The corrected λ: the unpasted share of each image.</param>
public sealed record CutMixPlan(int[] Partner, int Top, int Left, int BoxHeight, int BoxWidth, float Lambda)
{
    /// <summary>Draws a plan for images of <paramref name="height"/> x <paramref name="width"/> (any size from 1 x 1).</summary>
    public static CutMixPlan Create(int batch, int height, int width, float alpha, int seed, MixupPairing pairing = MixupPairing.Shuffle)
    {
        const string op = "CutMixPlan.Create";
        if (height < 1 || width < 1)
            throw new ArgumentOutOfRangeException(height < 1 ? nameof(height) : nameof(width), $"{op}: images must be at least 1 x 1, got {height} x {width}.");
        var mix = MixupPlan.Create(batch, alpha, seed, MixupLambda.PerBatch, pairing);
        double lambda = batch > 0 ? mix.Lambda[0] : 1;
        var random = new Random(seed ^ 0x2545F491);
        double ratio = Math.Sqrt(1 - lambda);
        int cutH = (int)(height * ratio), cutW = (int)(width * ratio);
        int cy = random.Next(height), cx = random.Next(width);
        int top = Math.Clamp(cy - cutH / 2, 0, height), bottom = Math.Clamp(cy + cutH / 2, 0, height);
        int left = Math.Clamp(cx - cutW / 2, 0, width), right = Math.Clamp(cx + cutW / 2, 0, width);
        float corrected = (float)(1 - (double)(bottom - top) * (right - left) / ((double)height * width));
        return new CutMixPlan(mix.Partner, top, left, bottom - top, right - left, corrected);
    }
}

/// <summary>CutMix: pastes a box from each image's partner into it (out of place).</summary>
public static unsafe class CutMix
{
    /// <summary>
    /// outputs = images with, in image i, the plan's box replaced by the same box of image partner[i], in every
    /// channel. Use <see cref="CutMixPlan.Lambda"/> (the exact unpasted share) to mix the targets.
    /// </summary>
    public static void Apply(ReadOnlySpan<float> images, Span<float> outputs, int channels, int height, int width, ImageLayout layout, CutMixPlan plan, ComputeOptions options = default)
    {
        const string op = "CutMix.Apply";
        ArgumentNullException.ThrowIfNull(plan);
        if (channels < 1 || height < 1 || width < 1)
            throw new ArgumentOutOfRangeException(nameof(channels), $"{op}: channels, height and width must be at least 1, got {channels}, {height}, {width}.");
        long image = (long)channels * height * width;
        long batch = Check.Rows(op, nameof(images), images.Length, checked((int)image));
        Check.SameLength(op, nameof(outputs), outputs.Length, nameof(images), images.Length);
        Check.NoOverlap(op, nameof(outputs), outputs, nameof(images), images, inPlaceAllowed: false);
        new MixupPlan(plan.Partner, Enumerable.Repeat(plan.Lambda, plan.Partner.Length).ToArray()).Check(op, (int)batch);
        if (plan.Top < 0 || plan.Left < 0 || plan.BoxHeight < 0 || plan.BoxWidth < 0 || plan.Top + plan.BoxHeight > height || plan.Left + plan.BoxWidth > width)
            throw new ArgumentException($"{op}: the plan's box ({plan.Top}, {plan.Left}, {plan.BoxHeight} x {plan.BoxWidth}) does not fit {height} x {width} images.", nameof(plan));
        if (options.Backend == Backend.Gpu)
        {
            GpuHost.OnDevice(options, op, $"{batch} images of {channels}x{height}x{width}", images, nameof(images), outputs, nameof(outputs), (stream, x, y) =>
            {
                var accelerator = stream.Accelerator;
                using var partner = accelerator.Allocate1D(plan.Partner);
                y.CopyFrom(stream, x);
                long boxElements = batch * channels * plan.BoxHeight * plan.BoxWidth;
                if (boxElements == 0) return;
                var kernel = GpuRows.Load(accelerator, "FastCalib.CutMix.PasteKernel",
                    static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<int>, long, int, int, int, int, int, int, int, int>(PasteKernel));
                kernel(stream, GpuRows.ThreadPerRow(accelerator, boxElements), x, y, partner.View, boxElements, channels, height, width,
                    plan.Top, plan.Left, plan.BoxHeight, plan.BoxWidth, (int)layout);
                stream.Synchronize();
            });
            return;
        }
        images.CopyTo(outputs);
        // the box is a run of contiguous values per (image, channel, row) in NCHW and per (image, row) in NHWC
        int runs = layout == ImageLayout.Nchw ? channels * plan.BoxHeight : plan.BoxHeight;
        int run = layout == ImageLayout.Nchw ? plan.BoxWidth : plan.BoxWidth * channels;
        for (int i = 0; i < batch; i++)
        {
            long target = i * image, source = (long)plan.Partner[i] * image;
            for (int k = 0; k < runs; k++)
            {
                long offset = layout == ImageLayout.Nchw
                    ? (long)(k / plan.BoxHeight) * height * width + (long)(plan.Top + k % plan.BoxHeight) * width + plan.Left
                    : ((long)(plan.Top + k) * width + plan.Left) * channels;
                images.Slice((int)(source + offset), run).CopyTo(outputs.Slice((int)(target + offset), run));
            }
        }
    }

    /// <summary>One thread per pasted value.</summary>
    [GpuKernelEntry]
    public static void PasteKernel(ArrayView<float> images, ArrayView<float> outputs, ArrayView<int> partner, long count,
        int channels, int height, int width, int top, int left, int boxHeight, int boxWidth, int layout)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        long image = (long)channels * height * width;
        for (long e = Grid.GlobalIndex.X; e < count; e += stride)
        {
            // e enumerates (image, channel, box row, box column)
            long rest = e;
            int bx = (int)(rest % boxWidth);
            rest /= boxWidth;
            int by = (int)(rest % boxHeight);
            rest /= boxHeight;
            int c = (int)(rest % channels);
            long i = rest / channels;
            int row = top + by, col = left + bx;
            long offset = layout == 0 ? ((long)c * height + row) * width + col : ((long)row * width + col) * channels + c;
            outputs[i * image + offset] = images[partner[i] * image + offset];
        }
    }
}
