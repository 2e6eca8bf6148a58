using System.Numerics.Tensors;
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
public static partial class Entropy
{
    /// <summary>Per-row entropy of probability rows [rows, classes]; returns the mean over rows (NaN for no rows).</summary>
    /// <param name="probabilities">Row-major [rows, classes] probabilities, each row summing to 1.</param>
    /// <param name="entropy">Output, one per row.</param>
    /// <param name="classes">Classes, at least 1.</param>
    /// <param name="unit">Nats (default), bits, or normalised by ln C.</param>
    /// <param name="options">Backend and threads.</param>
    public static double FromProbabilities(ReadOnlySpan<float> probabilities, Span<float> entropy, int classes, EntropyUnit unit = EntropyUnit.Nats, ComputeOptions options = default)
    {
        const string op = "Entropy.FromProbabilities";
        long rows = CheckPerRow(op, nameof(probabilities), probabilities.Length, entropy.Length, classes);
        Check.NoOverlap(op, nameof(entropy), entropy, nameof(probabilities), probabilities, inPlaceAllowed: false);
        float scale = Scale(unit, classes);
        if (rows == 0) return double.NaN;
        double total = EntropyKernels.FromProbabilitiesKernel.Host(options, op, rows, classes, probabilities, scale, Tolerance(classes), entropy);
        ThrowOnInvalidRow(op, entropy);
        return total / rows;
    }

    /// <summary>Per-row entropy of softmax(logits / temperature), without writing probabilities; returns the mean (NaN for no rows).</summary>
    /// <param name="logits">Row-major [rows, classes] logits.</param>
    /// <param name="entropy">Output, one per row.</param>
    /// <param name="classes">Classes, at least 1.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="unit">Nats (default), bits, or normalised by ln C.</param>
    /// <param name="options">Backend and threads.</param>
    public static double FromLogits(ReadOnlySpan<float> logits, Span<float> entropy, int classes, float temperature = 1f, EntropyUnit unit = EntropyUnit.Nats, ComputeOptions options = default)
    {
        const string op = "Entropy.FromLogits";
        long rows = CheckPerRow(op, nameof(logits), logits.Length, entropy.Length, classes);
        Check.NoOverlap(op, nameof(entropy), entropy, nameof(logits), logits, inPlaceAllowed: false);
        float invT = Check.InverseTemperature(op, temperature), scale = Scale(unit, classes);
        if (rows == 0) return double.NaN;
        return EntropyKernels.FromLogitsKernel.Host(options, op, rows, classes, logits, invT, scale, entropy) / rows;
    }

    /// <summary>
    /// <see cref="FromProbabilities(ReadOnlySpan{float}, Span{float}, int, EntropyUnit, ComputeOptions)"/> on a tensor:
    /// its last dimension is the classes, the product of the others the rows, any number of elements.
    /// </summary>
    /// <param name="probabilities">Dense tensor of rank at least 1, each row summing to 1.</param>
    /// <param name="entropy">Output, one per row (row-major order of the other dimensions).</param>
    /// <param name="unit">Nats (default), bits, or normalised by ln C.</param>
    /// <param name="options">Backend and threads.</param>
    public static double FromProbabilities(in ReadOnlyTensorSpan<float> probabilities, Span<float> entropy, EntropyUnit unit = EntropyUnit.Nats, ComputeOptions options = default)
    {
        const string op = "Entropy.FromProbabilities";
        int classes = TensorRows.Classes(op, nameof(probabilities), probabilities);
        return PerRowOfTensor(op, probabilities, nameof(probabilities), entropy, classes,
            (rows, output) => FromProbabilities(rows, output, classes, unit, options));
    }

    /// <summary>
    /// <see cref="FromLogits(ReadOnlySpan{float}, Span{float}, int, float, EntropyUnit, ComputeOptions)"/> on a tensor:
    /// its last dimension is the classes, the product of the others the rows, any number of elements.
    /// </summary>
    /// <param name="logits">Dense tensor of rank at least 1.</param>
    /// <param name="entropy">Output, one per row (row-major order of the other dimensions).</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="unit">Nats (default), bits, or normalised by ln C.</param>
    /// <param name="options">Backend and threads.</param>
    public static double FromLogits(in ReadOnlyTensorSpan<float> logits, Span<float> entropy, float temperature = 1f, EntropyUnit unit = EntropyUnit.Nats, ComputeOptions options = default)
    {
        const string op = "Entropy.FromLogits";
        int classes = TensorRows.Classes(op, nameof(logits), logits);
        Check.InverseTemperature(op, temperature);
        return PerRowOfTensor(op, logits, nameof(logits), entropy, classes,
            (rows, output) => FromLogits(rows, output, classes, temperature, unit, options));
    }

    private delegate double PerRowBlock(ReadOnlySpan<float> rows, Span<float> output);

    /// <summary>Runs a per-row operation over a tensor's rows block by block; the mean over all rows.</summary>
    private static unsafe double PerRowOfTensor(string op, in ReadOnlyTensorSpan<float> input, string argument, Span<float> output, int classes, PerRowBlock run)
    {
        long rows = TensorRows.Rows(op, argument, input, classes);
        Check.PerRow(op, "entropy", output.Length, rows);
        if (rows == 0) return double.NaN;
        double total = 0;
        long firstRow = 0;
        try
        {
            fixed (float* o = output)
            {
                float* at = o;
                TensorRows.ForEachBlock(input, classes, (block, start, n) =>
                {
                    firstRow = start;
                    total += run(block, new Span<float>(at + start, n)) * n;
                });
            }
        }
        catch (ArgumentException e)
        {
            throw TensorRows.InTensor(e, firstRow);
        }
        return total / rows;
    }

    /// <summary>
    /// The confidence penalty L = β · mean_rows(ln C − H(softmax(logits / T))) (Pereyra et al. 2017) and its gradient
    /// dL/dlogits, fused: one exponential per element, no probability matrix. Add L to the loss and the gradient to
    /// the logits' gradient.
    /// </summary>
    /// <param name="logits">Row-major [rows, classes] logits.</param>
    /// <param name="gradLogits">Output dL/dlogits, same shape (overwritten).</param>
    /// <param name="classes">Classes, at least 1.</param>
    /// <param name="beta">Penalty weight β, finite (≥ 0 penalises confidence).</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    /// <returns>L (0 for no rows).</returns>
    public static double ConfidencePenalty(ReadOnlySpan<float> logits, Span<float> gradLogits, int classes, float beta, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "Entropy.ConfidencePenalty";
        var penalty = CheckPenalty(op, logits.Length, gradLogits.Length, classes, beta, temperature);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, nameof(logits), logits, inPlaceAllowed: false);
        double totalEntropy = EntropyKernels.ConfidencePenaltyKernel.Host(options, op, penalty.Rows, classes, logits, gradLogits, penalty.InvT, penalty.Coefficient);
        return penalty.Offset + penalty.PerEntropy * totalEntropy;
    }

    // ------------------------------------------------------------------ rules shared by the host and device overloads

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

    /// <summary>An input matrix and one entropy per row; returns the rows.</summary>
    private static long CheckPerRow(string op, string input, long length, long entropy, int classes)
    {
        long rows = Check.Rows(op, input, length, classes);
        Check.PerRow(op, nameof(entropy), entropy, rows);
        return rows;
    }

    /// <summary>
    /// The confidence penalty's checks and constants: rows, 1/T, the gradient's coefficient β / (N T), and
    /// L = Offset + PerEntropy · Σ_rows H with Offset = β ln C and PerEntropy = −β / N (both 0 for no rows).
    /// </summary>
    private static (long Rows, float InvT, float Coefficient, double Offset, double PerEntropy) CheckPenalty(string op, long logits, long gradLogits, int classes, float beta, float temperature)
    {
        long rows = Check.Rows(op, nameof(logits), logits, classes);
        Check.SameLength(op, nameof(gradLogits), gradLogits, nameof(logits), logits);
        float invT = Check.InverseTemperature(op, temperature);
        if (!float.IsFinite(beta))
            throw new ArgumentOutOfRangeException(nameof(beta), beta, $"{op}: beta must be finite, got {beta}.");
        if (rows == 0) return (0, invT, 0, 0, 0);
        return (rows, invT, (float)(beta / ((double)rows * temperature)), beta * Math.Log(classes), -(double)beta / rows);
    }

    internal static void ThrowOnInvalidRow(string op, ReadOnlySpan<float> perRow)
    {
        for (int i = 0; i < perRow.Length; i++)
            if (float.IsNaN(perRow[i]))
                throw new ArgumentException($"{op}: row {i} is not a probability distribution (a negative or NaN entry, or a sum off 1 by more than the tolerance); rows are validated, not renormalised.", "probabilities");
    }
}
