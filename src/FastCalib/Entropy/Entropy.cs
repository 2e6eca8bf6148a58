using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>The unit of an entropy.</summary>
public enum EntropyUnit
{
    /// <summary>Natural logarithm (nats).</summary>
    Nats = 0,

    /// <summary>Base-2 logarithm (bits).</summary>
    Bits = 1,

    /// <summary>Divided by ln C, so a uniform row has entropy 1 (0 for a single class).</summary>
    Normalized = 2,
}

/// <summary>
/// Entropy of probability rows (from probabilities, or fused from logits and a temperature without writing
/// probabilities) and the confidence penalty of Pereyra et al. (2017) with its gradient, on host spans or device views.
/// </summary>
/// <remarks>
/// <para>0 · ln 0 = 0. Per-row results are float32; the returned means are float64 sums of them divided by the rows.</para>
/// <para>Probability rows are validated, not renormalised: a row with a negative or NaN entry, or whose sum differs
/// from 1 by more than 1e-3 + C · 2.4e-7 (float32 rounding of C terms), is rejected with an error naming the row (the
/// output is then unspecified). From logits, a row with NaN or +∞ gives NaN (as softmax does); −∞ logits are fine.</para>
/// </remarks>
public static unsafe partial class Entropy
{
    /// <summary>Per-row entropy of probability rows [rows, cols]; returns the mean over rows (NaN for no rows).</summary>
    /// <param name="probabilities">Row-major [rows, cols] probabilities, each row summing to 1.</param>
    /// <param name="entropy">Output, one per row.</param>
    /// <param name="cols">Classes, at least 1.</param>
    /// <param name="unit">Nats (default), bits, or normalised by ln C.</param>
    /// <param name="options">Backend and threads.</param>
    public static double FromProbabilities(ReadOnlySpan<float> probabilities, Span<float> entropy, int cols, EntropyUnit unit = EntropyUnit.Nats, ComputeOptions options = default)
    {
        const string op = "Entropy.FromProbabilities";
        long rows = Check.Rows(op, nameof(probabilities), probabilities.Length, cols);
        Check.PerRow(op, nameof(entropy), entropy.Length, rows);
        Check.NoOverlap(op, nameof(entropy), entropy, nameof(probabilities), probabilities, inPlaceAllowed: false);
        float scale = Scale(unit, cols), tolerance = Tolerance(cols);
        if (rows == 0) return double.NaN;
        double total;
        if (options.Backend == Backend.Gpu)
        {
            using var gpu = GpuHost.Open(options, op);
            var p = gpu.Upload(probabilities, nameof(probabilities));
            var h = gpu.Allocate<float>(rows, nameof(entropy));
            var t = gpu.Upload<double>([0.0], "the total");
            gpu.Guard(() => EntropyKernels.FromProbabilitiesKernel.Gpu(gpu.Stream, p, scale, tolerance, h, t, rows, cols));
            gpu.Download(h, entropy);
            total = Total(gpu, t);
        }
        else
        {
            var (simd, width, threads) = options.ResolveCpu();
            fixed (float* p = probabilities, h = entropy)
                total = EntropyKernels.FromProbabilitiesKernel.Cpu(simd, width, threads, rows, cols, p, scale, tolerance, h);
        }
        ThrowOnInvalidRow(op, entropy);
        return total / rows;
    }

    /// <summary>Per-row entropy of softmax(logits / temperature), without writing probabilities; returns the mean (NaN for no rows).</summary>
    /// <param name="logits">Row-major [rows, cols] logits.</param>
    /// <param name="entropy">Output, one per row.</param>
    /// <param name="cols">Classes, at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="unit">Nats (default), bits, or normalised by ln C.</param>
    /// <param name="options">Backend and threads.</param>
    public static double FromLogits(ReadOnlySpan<float> logits, Span<float> entropy, int cols, float temperature = 1f, EntropyUnit unit = EntropyUnit.Nats, ComputeOptions options = default)
    {
        const string op = "Entropy.FromLogits";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.PerRow(op, nameof(entropy), entropy.Length, rows);
        Check.NoOverlap(op, nameof(entropy), entropy, nameof(logits), logits, inPlaceAllowed: false);
        float invT = Check.InverseTemperature(op, temperature), scale = Scale(unit, cols);
        if (rows == 0) return double.NaN;
        if (options.Backend == Backend.Gpu)
        {
            using var gpu = GpuHost.Open(options, op);
            var z = gpu.Upload(logits, nameof(logits));
            var h = gpu.Allocate<float>(rows, nameof(entropy));
            var t = gpu.Upload<double>([0.0], "the total");
            gpu.Guard(() => EntropyKernels.FromLogitsKernel.Gpu(gpu.Stream, z, invT, scale, h, t, rows, cols));
            gpu.Download(h, entropy);
            return Total(gpu, t) / rows;
        }
        var (simd, width, threads) = options.ResolveCpu();
        fixed (float* z = logits, h = entropy)
            return EntropyKernels.FromLogitsKernel.Cpu(simd, width, threads, rows, cols, z, invT, scale, h) / rows;
    }

    /// <summary>
    /// The confidence penalty L = β · mean_rows(ln C − H(softmax(logits / T))) (Pereyra et al. 2017) and its gradient
    /// dL/dlogits, fused: one exponential per element, no probability matrix. Add L to the loss and the gradient to
    /// the logits' gradient.
    /// </summary>
    /// <param name="logits">Row-major [rows, cols] logits.</param>
    /// <param name="gradLogits">Output dL/dlogits, same shape (overwritten).</param>
    /// <param name="cols">Classes, at least 1.</param>
    /// <param name="beta">Penalty weight β, finite (≥ 0 penalises confidence).</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    /// <returns>L (0 for no rows).</returns>
    public static double ConfidencePenalty(ReadOnlySpan<float> logits, Span<float> gradLogits, int cols, float beta, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Entropy.ConfidencePenalty";
        long rows = Check.Rows(op, nameof(logits), logits.Length, cols);
        Check.SameLength(op, nameof(gradLogits), gradLogits.Length, nameof(logits), logits.Length);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, nameof(logits), logits, inPlaceAllowed: false);
        float invT = Check.InverseTemperature(op, temperature);
        if (!float.IsFinite(beta))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"{op}: beta must be finite, got {beta}.");
        if (rows == 0) return 0;
        float coefficient = (float)(beta / ((double)rows * temperature));
        double totalEntropy;
        if (options.Backend == Backend.Gpu)
        {
            using var gpu = GpuHost.Open(options, op);
            var z = gpu.Upload(logits, nameof(logits));
            var g = gpu.Allocate<float>(logits.Length, nameof(gradLogits));
            var t = gpu.Upload<double>([0.0], "the total");
            gpu.Guard(() => EntropyKernels.ConfidencePenaltyKernel.Gpu(gpu.Stream, z, g, invT, coefficient, t, rows, cols));
            gpu.Download(g, gradLogits);
            totalEntropy = Total(gpu, t);
        }
        else
        {
            var (simd, width, threads) = options.ResolveCpu();
            fixed (float* z = logits, g = gradLogits)
                totalEntropy = EntropyKernels.ConfidencePenaltyKernel.Cpu(simd, width, threads, rows, cols, z, g, invT, coefficient);
        }
        return beta * (Math.Log(cols) - totalEntropy / rows);
    }

    /// <summary>The factor turning nats into <paramref name="unit"/>.</summary>
    internal static float Scale(EntropyUnit unit, int classes) => unit switch
    {
        EntropyUnit.Nats => 1f,
        EntropyUnit.Bits => (float)(1 / Math.Log(2)),
        EntropyUnit.Normalized => classes == 1 ? 0f : (float)(1 / Math.Log(classes)),
        _ => throw new ArgumentOutOfRangeException(nameof(unit), unit, "Unknown entropy unit."),
    };

    /// <summary>How far a probability row's sum may be from 1: 1e-3 plus float32 rounding of its terms.</summary>
    internal static float Tolerance(int classes) => 1e-3f + classes * 2.4e-7f;

    internal static void ThrowOnInvalidRow(string op, ReadOnlySpan<float> perRow)
    {
        for (int i = 0; i < perRow.Length; i++)
            if (float.IsNaN(perRow[i]))
                throw new ArgumentException($"{op}: row {i} is not a probability distribution (a negative or NaN entry, or a sum off 1 by more than the tolerance); rows are validated, not renormalised.", "probabilities");
    }

    private static double Total(GpuHost gpu, ArrayView<double> total)
    {
        Span<double> value = stackalloc double[1];
        gpu.Download(total, value);
        return value[0];
    }
}
