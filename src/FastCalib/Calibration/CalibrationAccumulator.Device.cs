using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

// The device path of the accumulator, for device views and for host spans on the GPU backend (which upload and come
// here): labels are checked on the device, the per-row kernel writes its results to device memory, and
// DeviceBinning bins them there, so that only a few numbers per bin come back.
public sealed partial class CalibrationAccumulator
{
    /// <summary>
    /// <see cref="AddProbabilities(ReadOnlySpan{float}, ReadOnlySpan{int}, int, ComputeOptions, bool)"/> for data already on a
    /// device: labels are checked, the per-row kernel runs and its results are binned on <paramref name="stream"/>'s
    /// accelerator, and only per-bin numbers come back (with more than 63 bins or 16 thresholds the per-row results,
    /// 16 bytes a row, are binned on the host). Rows are validated as on the host. Waits for the stream.
    /// </summary>
    public void AddProbabilities(AcceleratorStream stream, ArrayView<float> probabilities, ArrayView<int> labels, int classes, bool unnormalized = false)
    {
        const string op = "CalibrationAccumulator.AddProbabilities";
        long rows = Check.Rows(op, nameof(probabilities), probabilities.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        float tolerance = unnormalized ? float.PositiveInfinity : Entropy.Tolerance(classes);
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, classes), () => AddOnDevice(op, stream, rows, classes, labels, InvalidProbabilities(unnormalized), o =>
            CalibrationKernels.FromProbabilitiesKernel.Gpu(stream, probabilities, labels, tolerance, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier, rows, classes)));
    }

    /// <summary>
    /// <see cref="AddLogits(ReadOnlySpan{float}, ReadOnlySpan{int}, int, float, ComputeOptions)"/> for data already on a
    /// device (per-row kernel and binning on the device, as for probabilities). Waits for the stream.
    /// </summary>
    public void AddLogits(AcceleratorStream stream, ArrayView<float> logits, ArrayView<int> labels, int classes, float temperature = 1f)
    {
        const string op = "CalibrationAccumulator.AddLogits";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        Check.PerRow(op, nameof(labels), labels.Length, rows);
        float invT = Check.InverseTemperature(op, temperature);
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, classes), () => AddOnDevice(op, stream, rows, classes, labels, InvalidLogits, o =>
            CalibrationKernels.FromLogitsKernel.Gpu(stream, logits, labels, invT, o.Confidence, o.Correct, o.NegLogLikelihood, o.Brier, rows, classes)));
    }

    /// <summary>The device views of the per-row outputs.</summary>
    private readonly record struct DeviceOutputs(ArrayView<float> Confidence, ArrayView<float> Correct, ArrayView<float> NegLogLikelihood, ArrayView<float> Brier);

    /// <summary>
    /// Checks the labels, runs <paramref name="perRow"/> into device outputs and bins them (on the device when the
    /// table fits its shared memory, otherwise on the host); adds nothing if a label or row is invalid. Returns true.
    /// Device errors propagate to the caller, which names the operation.
    /// </summary>
    private bool AddOnDevice(string op, AcceleratorStream stream, long rows, int classes, ArrayView<int> labels, RowRule rule, Action<DeviceOutputs> perRow)
    {
        if (rows == 0) return true;
        DeviceChecks.Labels(op, stream, labels, classes);
        // one allocation for the four per-row outputs
        using var results = stream.Accelerator.Allocate1D<float>(4 * rows);
        var v = results.View;
        var outputs = new DeviceOutputs(v.SubView(0, rows), v.SubView(rows, rows), v.SubView(2 * rows, rows), v.SubView(3 * rows, rows));
        perRow(outputs);
        // bootstrap replicas and custom edges are binned on the host: the per-row results come back and are binned there
        if (Bootstrap is null && _edges is null && DeviceBinning.Fits(_totals.Count.Length, _thresholds.Length))
        {
            BinOnDevice(op, stream, rows, rule, outputs);
            return true;
        }
        var confidence = new float[rows];
        var correct = new float[rows];
        var nll = new float[rows];
        var brier = new float[rows];
        outputs.Confidence.CopyToCPU(stream, confidence);
        outputs.Correct.CopyToCPU(stream, correct);
        outputs.NegLogLikelihood.CopyToCPU(stream, nll);
        outputs.Brier.CopyToCPU(stream, brier);
        stream.Synchronize();
        AddResults(op, classes, rule, confidence, correct, nll, brier);
        return true;
    }

    /// <summary>Bins per-row results on the device with <see cref="DeviceBinning"/>, in launches of at most 2^22 rows.</summary>
    private void BinOnDevice(string op, AcceleratorStream stream, long rows, RowRule rule, DeviceOutputs o)
    {
        var accelerator = stream.Accelerator;
        var kernel = GpuRows.Load(accelerator, "FastCalib.DeviceBinning.Bin", static a => a.LoadKernel<ArrayView<float>, ArrayView<float>,
            ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<long>, ArrayView<long>, ArrayView<int>, int, int, int, int, BinningLayout>(DeviceBinning.Bin));
        var layout = new BinningLayout(_totals.Count.Length, _thresholds.Length);
        var part = new CalibrationTotals(layout.Slots, layout.Thresholds);
        using var thresholds = accelerator.Allocate1D(_thresholds.Length == 0 ? [0f] : _thresholds);
        using var state = accelerator.Allocate1D<long>(layout.Length);
        using var scores = accelerator.Allocate1D<long>(2 * ExactSum.Buckets);
        using var invalid = accelerator.Allocate1D<int>(1);
        var thresholdView = thresholds.View.SubView(0, _thresholds.Length);
        var host = new long[layout.Length];
        var hostScores = new long[2 * ExactSum.Buckets];
        var hostInvalid = new int[1];
        for (long start = 0; start < rows; start += DeviceBinning.MaxRowsPerLaunch)
        {
            int n = (int)Math.Min(DeviceBinning.MaxRowsPerLaunch, rows - start);
            state.MemSetToZero(stream);
            scores.MemSetToZero(stream);
            invalid.View.CopyFromCPU(stream, [int.MaxValue]);
            kernel(stream, DeviceBinning.Shape(accelerator, n), o.Confidence.SubView(start, n), o.Correct.SubView(start, n),
                o.NegLogLikelihood.SubView(start, n), o.Brier.SubView(start, n), thresholdView, state.View, scores.View, invalid.View,
                n, Bins, (int)Rule, 1, layout);
            state.View.CopyToCPU(stream, host);
            scores.View.CopyToCPU(stream, hostScores);
            invalid.View.CopyToCPU(stream, hostInvalid);
            stream.Synchronize();
            if (hostInvalid[0] != int.MaxValue) throw InvalidRow(op, start + hostInvalid[0], rule);
            layout.Decode(host, n, part);
            part.Scored += n;
            part.NegLogLikelihood.Fold(hostScores.AsSpan(0, ExactSum.Buckets));
            part.Brier.Fold(hostScores.AsSpan(ExactSum.Buckets));
        }
        _totals.Add(part);
        NextRow += rows;
    }
}
