using FastCalib.Kernels.Internals;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Argument checks of device views, run on the device so that the data need not come back: each finds the first bad
/// element with an atomic minimum and copies back one number (two on error), then throws as the host overloads do.
/// </summary>
internal static class DeviceChecks
{
    /// <summary>Throws like the host overloads if a label on the device is outside [0, classes). Waits for the stream.</summary>
    public static void Labels(string op, AcceleratorStream stream, ArrayView<int> labels, int classes)
    {
        var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.DeviceChecks.FirstBadLabel",
            static a => a.LoadKernel<ArrayView<int>, int, ArrayView<long>>(FirstBadLabel));
        long bad = First(stream, labels.Length, first => kernel(stream, GpuRows.ThreadPerRow(stream.Accelerator, labels.Length), labels, classes, first));
        if (bad < 0) return;
        int value = At(stream, labels, bad);
        throw new ArgumentOutOfRangeException("labels", value, $"{op}: labels[{bad}] is {value}; labels must be in [0, {classes}).");
    }

    /// <summary>Throws like the host overloads if a logit on the device is NaN or infinite (<paramref name="what"/> names the need). Waits for the stream.</summary>
    public static void Finite(string op, AcceleratorStream stream, ArrayView<float> logits, int classes, string what)
    {
        long bad = FirstOutside(stream, logits, float.MinValue, float.MaxValue);
        if (bad < 0) return;
        float value = At(stream, logits, bad);
        throw new ArgumentException($"{op}: logits[{bad / classes}, {bad % classes}] is {value}; {what} needs finite logits.", "logits");
    }

    /// <summary>Throws like the binary calibrators' host fits if a score is NaN, infinite or (for probabilities) outside [0, 1]. Waits for the stream.</summary>
    public static void Scores(string op, AcceleratorStream stream, ArrayView<float> scores, bool probabilities)
    {
        long bad = FirstOutside(stream, scores, probabilities ? 0f : float.MinValue, probabilities ? 1f : float.MaxValue);
        if (bad < 0) return;
        float value = At(stream, scores, bad);
        throw new ArgumentException($"{op}: scores[{bad}] is {value}; scores must be finite{(probabilities ? " and in [0, 1]" : "")}.", "scores");
    }

    /// <summary>Throws like the binary calibrators' host fits if a target is not 0 or 1. Waits for the stream.</summary>
    public static void Targets(string op, AcceleratorStream stream, ArrayView<int> targets)
    {
        var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.DeviceChecks.FirstBadLabel",
            static a => a.LoadKernel<ArrayView<int>, int, ArrayView<long>>(FirstBadLabel));
        long bad = First(stream, targets.Length, first => kernel(stream, GpuRows.ThreadPerRow(stream.Accelerator, targets.Length), targets, 2, first));
        if (bad < 0) return;
        int value = At(stream, targets, bad);
        throw new ArgumentException($"{op}: targets[{bad}] is {value}; targets must be 0 or 1.", "targets");
    }

    /// <summary>Throws like <see cref="SampledAnswers.Summarize(ReadOnlySpan{int}, int, Span{int}, Span{float}, Span{float}, ComputeOptions)"/> if an answer is below −1. Waits for the stream.</summary>
    public static void Answers(string op, AcceleratorStream stream, ArrayView<int> answers, int samples)
    {
        var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.DeviceChecks.FirstBelow",
            static a => a.LoadKernel<ArrayView<int>, int, ArrayView<long>>(FirstBelow));
        long bad = First(stream, answers.Length, first => kernel(stream, GpuRows.ThreadPerRow(stream.Accelerator, answers.Length), answers, -1, first));
        if (bad < 0) return;
        int value = At(stream, answers, bad);
        throw new ArgumentOutOfRangeException("answers", value,
            $"{op}: answers[{bad / samples}, {bad % samples}] is {value}; answers must be class ids (0 or more) or -1 for an answer outside the classes.");
    }

    private static long FirstOutside(AcceleratorStream stream, ArrayView<float> values, float low, float high)
    {
        var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.DeviceChecks.FirstOutside",
            static a => a.LoadKernel<ArrayView<float>, float, float, ArrayView<long>>(FirstOutside));
        return First(stream, values.Length, first => kernel(stream, GpuRows.ThreadPerRow(stream.Accelerator, values.Length), values, low, high, first));
    }

    private static long First(AcceleratorStream stream, long length, Action<ArrayView<long>> launch)
    {
        if (length == 0) return -1;
        using var first = stream.Accelerator.Allocate1D(new[] { long.MaxValue });
        launch(first.View);
        var found = new long[1];
        first.View.CopyToCPU(stream, found);
        stream.Synchronize();
        return found[0] == long.MaxValue ? -1 : found[0];
    }

    private static T At<T>(AcceleratorStream stream, ArrayView<T> view, long index) where T : unmanaged
    {
        var value = new T[1];
        view.SubView(index, 1).CopyToCPU(stream, value);
        stream.Synchronize();
        return value[0];
    }

    /// <summary><paramref name="first"/>[0] (which must start at long.MaxValue) receives the first index of a label outside [0, <paramref name="classes"/>).</summary>
    [GpuKernelEntry]
    public static void FirstBadLabel(ArrayView<int> labels, int classes, ArrayView<long> first)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < labels.Length; i += stride)
        {
            if ((uint)labels[i] >= (uint)classes)
            {
                Atomic.Min(ref first[0], i);
                return;
            }
        }
    }

    /// <summary><paramref name="first"/>[0] (which must start at long.MaxValue) receives the first index of a value below <paramref name="least"/>.</summary>
    [GpuKernelEntry]
    public static void FirstBelow(ArrayView<int> values, int least, ArrayView<long> first)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < values.Length; i += stride)
        {
            if (values[i] < least)
            {
                Atomic.Min(ref first[0], i);
                return;
            }
        }
    }

    /// <summary><paramref name="first"/>[0] (which must start at long.MaxValue) receives the first index of a value outside [low, high] or NaN.</summary>
    [GpuKernelEntry]
    public static void FirstOutside(ArrayView<float> values, float low, float high, ArrayView<long> first)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long i = Grid.GlobalIndex.X; i < values.Length; i += stride)
        {
            // false for NaN as well as for values outside
            float v = values[i];
            if (!(v >= low && v <= high))
            {
                Atomic.Min(ref first[0], i);
                return;
            }
        }
    }
}
