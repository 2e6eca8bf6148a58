using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>How each sample finds the sample it is mixed with.</summary>
public enum MixupPairing
{
    /// <summary>A seeded random permutation of the batch.</summary>
    Shuffle = 0,

    /// <summary>timm's convention: sample i with sample B − 1 − i (the batch flipped).</summary>
    Flip = 1,

    /// <summary>torchvision's convention: sample i with sample i − 1 (the batch rolled by one; sample 0 with B − 1).</summary>
    Roll = 2,
}

/// <summary>Whether λ is drawn once for the batch or once per sample.</summary>
public enum MixupLambda
{
    /// <summary>One λ for the whole batch (timm's "batch" mode, torchvision).</summary>
    PerBatch = 0,

    /// <summary>One λ per sample (timm's "elem" mode).</summary>
    PerSample = 1,
}

/// <summary>
/// The random draws of one mixup step, made once on the host and passed to every backend so they agree exactly:
/// each sample's partner and its λ ~ Beta(α, α).
/// </summary>
/// <param name="Partner">Partner[i] is the sample mixed into sample i.</param>
/// <param name="Lambda">Lambda[i] is the weight of sample i itself (1 − λ goes to its partner).</param>
public sealed record MixupPlan(int[] Partner, float[] Lambda)
{
    /// <summary>Number of samples.</summary>
    public int Batch => Partner.Length;

    /// <summary>
    /// Draws a plan from a seed: partners by <paramref name="pairing"/>, λ ~ Beta(α, α) (α = 0 means no mixing, λ = 1).
    /// The same seed gives the same plan on every machine (System.Random with a seed is stable across .NET versions).
    /// </summary>
    public static MixupPlan Create(int batch, float alpha, int seed, MixupLambda lambda = MixupLambda.PerBatch, MixupPairing pairing = MixupPairing.Shuffle)
    {
        const string op = "MixupPlan.Create";
        if (batch < 0)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"{op}: batch must not be negative, got {batch}.");
        if (!(alpha >= 0) || !float.IsFinite(alpha))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"{op}: alpha must be finite and at least 0, got {alpha}.");
        var random = new Random(seed);
        var partner = new int[batch];
        for (int i = 0; i < batch; i++)
            partner[i] = pairing switch
            {
                MixupPairing.Flip => batch - 1 - i,
                MixupPairing.Roll => (i + batch - 1) % batch,
                _ => i,
            };
        if (pairing == MixupPairing.Shuffle) random.Shuffle(partner);
        var lambdas = new float[batch];
        if (lambda == MixupLambda.PerBatch)
            Array.Fill(lambdas, (float)Beta.Sample(random, alpha));
        else
            for (int i = 0; i < batch; i++) lambdas[i] = (float)Beta.Sample(random, alpha);
        return new MixupPlan(partner, lambdas);
    }

    /// <summary>
    /// Copies the plan to an accelerator once (validated here, on the host, so device launches need no checks) for the
    /// device-view <see cref="Mixup.Blend(AcceleratorStream, ArrayView{float}, ArrayView{float}, int, DeviceMixupPlan)"/>.
    /// </summary>
    public DeviceMixupPlan Upload(Accelerator accelerator)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        Check("MixupPlan.Upload", Batch);
        return new DeviceMixupPlan(accelerator, Partner, Lambda);
    }

    internal void Check(string op, int batch)
    {
        if (Partner.Length != batch || Lambda.Length != batch)
            throw new ArgumentException($"{op}: the plan is for {Partner.Length} samples but the batch has {batch}.", "plan");
        for (int i = 0; i < batch; i++)
        {
            if ((uint)Partner[i] >= (uint)batch)
                throw new ArgumentException($"{op}: plan partner[{i}] is {Partner[i]}; partners must be in [0, {batch}).", "plan");
            if (!(Lambda[i] >= 0 && Lambda[i] <= 1))
                throw new ArgumentException($"{op}: plan lambda[{i}] is {Lambda[i]}; lambdas must be in [0, 1].", "plan");
        }
    }
}

/// <summary>Beta(α, α) sampling through two Gamma draws: X / (X + Y) with X, Y ~ Gamma(α, 1).</summary>
internal static class Beta
{
    public static double Sample(Random random, double alpha)
    {
        if (alpha == 0) return 1;
        double x = Gamma(random, alpha), y = Gamma(random, alpha);
        return x + y == 0 ? 0.5 : x / (x + y);
    }

    /// <summary>Marsaglia and Tsang (2000) for shape ≥ 1; shape &lt; 1 through Gamma(a + 1) · U^(1/a).</summary>
    private static double Gamma(Random random, double shape)
    {
        if (shape < 1) return Gamma(random, shape + 1) * Math.Pow(1 - random.NextDouble(), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
                x = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            double u = 1 - random.NextDouble();
            if (Math.Log(u) < 0.5 * x * x + d - d * v + d * Math.Log(v)) return d * v;
        }
    }
}

/// <summary>A <see cref="MixupPlan"/> held in device memory (from <see cref="MixupPlan.Upload"/>); dispose it to free the memory.</summary>
public sealed class DeviceMixupPlan : IDisposable
{
    private readonly MemoryBuffer1D<int, Stride1D.Dense> _partner;
    private readonly MemoryBuffer1D<float, Stride1D.Dense> _lambda;

    internal DeviceMixupPlan(Accelerator accelerator, int[] partner, float[] lambda)
    {
        Accelerator = accelerator;
        _partner = accelerator.Allocate1D(partner);
        _lambda = accelerator.Allocate1D(lambda);
    }

    /// <summary>The accelerator holding the plan.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>Number of samples.</summary>
    public int Batch => (int)_partner.Length;

    internal ArrayView<int> Partner => _partner.View;
    internal ArrayView<float> Lambda => _lambda.View;

    /// <summary>Frees the device memory.</summary>
    public void Dispose()
    {
        _partner.Dispose();
        _lambda.Dispose();
    }
}

/// <summary>
/// Mixup for training batches (Zhang et al. 2018): inputs [batch, features] blended with a partner sample,
/// label smoothing and mixed soft targets, the mixup cross-entropy fused with softmax and its gradient, and CutMix
/// (<see cref="FastCalib.CutMix"/>). All randomness lives in a <see cref="MixupPlan"/>; the kernels are deterministic.
/// </summary>
public static unsafe class Mixup
{
    /// <summary>outputs[i] = λ_i · inputs[i] + (1 − λ_i) · inputs[partner_i] (out of place; outputs must not overlap inputs).</summary>
    public static void Blend(ReadOnlySpan<float> inputs, Span<float> outputs, int features, MixupPlan plan, ComputeOptions options = default)
    {
        const string op = "Mixup.Blend";
        long rows = Kernels(op, inputs.Length, features, plan);
        Check.SameLength(op, nameof(outputs), outputs.Length, nameof(inputs), inputs.Length);
        Check.NoOverlap(op, nameof(outputs), outputs, nameof(inputs), inputs, inPlaceAllowed: false);
        MixupKernels.BlendKernel.Host(options, op, rows, features, inputs, inputs, plan.Partner, plan.Lambda, outputs);
    }

    /// <summary>
    /// The blend on device views, asynchronous on the caller's stream: outputs[i] = λ_i · inputs[i] + (1 − λ_i) · inputs[partner_i]
    /// with the plan uploaded once by <see cref="MixupPlan.Upload"/> (outputs must be a buffer other than inputs).
    /// </summary>
    public static void Blend(AcceleratorStream stream, ArrayView<float> inputs, ArrayView<float> outputs, int features, DeviceMixupPlan plan)
    {
        const string op = "Mixup.Blend";
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(plan);
        long rows = Check.Rows(op, nameof(inputs), inputs.Length, features, nameof(features));
        Check.SameLength(op, nameof(outputs), outputs.Length, nameof(inputs), inputs.Length);
        if (plan.Batch != rows)
            throw new ArgumentException($"{op}: the plan is for {plan.Batch} samples but the batch has {rows}.", nameof(plan));
        if (plan.Accelerator != stream.Accelerator)
            throw new ArgumentException($"{op}: the plan was uploaded to {plan.Accelerator.Name}, not to the stream's accelerator {stream.Accelerator.Name}.", nameof(plan));
        MixupKernels.BlendKernel.Device(stream, op, rows, features, inputs, inputs, plan.Partner, plan.Lambda, outputs);
    }

    /// <summary>
    /// The same blend in place. A sample's partner may already have been overwritten when the sample is reached, so
    /// the permutation is walked cycle by cycle: along a cycle i → p(i) → p(p(i)) … each sample still finds its partner
    /// unchanged, except the last, which gets a copy of the cycle's first sample taken before it was overwritten (one
    /// row of scratch per cycle in flight). On the GPU the batch is first copied on the device.
    /// </summary>
    public static void BlendInPlace(Span<float> batch, int features, MixupPlan plan, ComputeOptions options = default)
    {
        const string op = "Mixup.BlendInPlace";
        long rows = Kernels(op, batch.Length, features, plan);
        if (rows == 0) return;
        if (options.Backend == Backend.Gpu)
        {
            // the inputs are copied to the device before the output is written back over them
            MixupKernels.BlendKernel.Host(options, op, rows, features, batch, batch, plan.Partner, plan.Lambda, batch);
            return;
        }
        if (!IsPermutation(plan.Partner))
            throw new ArgumentException($"{op}: in place needs each sample to be the partner of exactly one sample (a permutation); blend out of place otherwise.", nameof(plan));
        var (simd, width, threads) = options.ResolveCpu();
        var cycles = Cycles(plan.Partner);
        fixed (float* x = batch, lambda = plan.Lambda)
        fixed (int* partner = plan.Partner)
        {
            float* xx = x, ll = lambda;
            int* pp = partner;
            Parallel.For(0, cycles.Count, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => new float[features], (c, _, scratch) =>
            {
                var cycle = cycles[c];
                fixed (float* first = scratch)
                {
                    new Span<float>(xx + (long)cycle[0] * features, features).CopyTo(scratch);
                    for (int k = 0; k < cycle.Length; k++)
                    {
                        long i = cycle[k];
                        var one = new RowRange(i, i + 1);
                        // the last sample's partner (the cycle's first) was overwritten: read it from the copy
                        float* other = k + 1 < cycle.Length ? xx : first - (long)pp[i] * features;
                        if (simd) MixupKernels.BlendKernel.Simd(one, width, features, xx, other, pp, ll, xx);
                        else MixupKernels.BlendKernel.Scalar(one, features, xx, other, pp, ll, xx);
                    }
                }
                return scratch;
            }, _ => { });
        }
    }

    /// <summary>Label smoothing: targets[i, c] = (1 − ε) [c = label_i] + ε / C.</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static void SmoothLabels(ReadOnlySpan<int> labels, Span<float> targets, int classes, float epsilon)
    {
        const string op = "Mixup.SmoothLabels";
        CheckTargets(op, labels, targets.Length, classes, epsilon);
        float off = epsilon / classes, on = 1 - epsilon + off;
        targets.Fill(off);
        for (int i = 0; i < labels.Length; i++) targets[i * classes + labels[i]] = on;
    }

    /// <summary>Mixed soft targets: targets[i] = λ_i · smooth(label_i) + (1 − λ_i) · smooth(label_partner_i).</summary>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static void MixedTargets(ReadOnlySpan<int> labels, Span<float> targets, int classes, MixupPlan plan, float epsilon = 0)
    {
        const string op = "Mixup.MixedTargets";
        CheckTargets(op, labels, targets.Length, classes, epsilon);
        plan.Check(op, labels.Length);
        float off = epsilon / classes, keep = 1 - epsilon;
        targets.Fill(off);
        for (int i = 0; i < labels.Length; i++)
        {
            float l = plan.Lambda[i];
            targets[i * classes + labels[i]] += keep * l;
            targets[i * classes + labels[plan.Partner[i]]] += keep * (1 - l);
        }
    }

    /// <summary>
    /// The mixup loss mean_i [λ_i CE(z_i, smooth(a_i)) + (1 − λ_i) CE(z_i, smooth(b_i))] with softmax fused in (a_i the
    /// sample's label, b_i its partner's), and its gradient with respect to the logits, written to <paramref name="gradLogits"/>.
    /// </summary>
    /// <returns>The mean loss.</returns>
    // int32 labels win a call with a literal such as [] that fits both label types
    [System.Runtime.CompilerServices.OverloadResolutionPriority(1)]
    public static double MixedCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> gradLogits, int classes, MixupPlan plan, float epsilon = 0, ComputeOptions options = default)
    {
        const string op = "Mixup.MixedCrossEntropy";
        long rows = Check.Rows(op, nameof(logits), logits.Length, classes);
        CheckTargets(op, labels, gradLogits.Length, classes, epsilon);
        Check.SameLength(op, nameof(gradLogits), gradLogits.Length, nameof(logits), logits.Length);
        Check.NoOverlap(op, nameof(gradLogits), gradLogits, nameof(logits), logits, inPlaceAllowed: false);
        plan.Check(op, (int)rows);
        if (rows == 0) return 0;
        var labelB = new int[rows];
        for (int i = 0; i < rows; i++) labelB[i] = labels[plan.Partner[i]];
        float smoothing = epsilon / classes, keep = 1 - epsilon, scale = 1f / rows;
        double total = MixupKernels.MixedCrossEntropyKernel.Host(options, op, rows, classes, logits, gradLogits, labels, labelB, plan.Lambda, epsilon, smoothing, keep, scale);
        // the target's one-hot parts, which the row kernel leaves out: −(1 − ε) · scale · (λ at a, 1 − λ at b)
        for (int i = 0; i < rows; i++)
        {
            gradLogits[i * classes + labels[i]] -= keep * scale * plan.Lambda[i];
            gradLogits[i * classes + labelB[i]] -= keep * scale * (1 - plan.Lambda[i]);
        }
        return total / rows;
    }

    private static long Kernels(string op, int length, int features, MixupPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        long rows = Check.Rows(op, "inputs", length, features, nameof(features));
        plan.Check(op, (int)rows);
        return rows;
    }

    /// <summary>Label smoothing with int64 labels (NumPy's and PyTorch's default).</summary>
    /// <inheritdoc cref="SmoothLabels(ReadOnlySpan{int}, Span{float}, int, float)"/>
    public static void SmoothLabels(ReadOnlySpan<long> labels, Span<float> targets, int classes, float epsilon)
    {
        using var y = Narrow("Mixup.SmoothLabels", labels, classes);
        SmoothLabels(y.Span, targets, classes, epsilon);
    }

    /// <summary>Mixed soft targets with int64 labels.</summary>
    /// <inheritdoc cref="MixedTargets(ReadOnlySpan{int}, Span{float}, int, MixupPlan, float)"/>
    public static void MixedTargets(ReadOnlySpan<long> labels, Span<float> targets, int classes, MixupPlan plan, float epsilon = 0)
    {
        using var y = Narrow("Mixup.MixedTargets", labels, classes);
        MixedTargets(y.Span, targets, classes, plan, epsilon);
    }

    /// <summary>The fused mixup loss and its gradient with int64 labels.</summary>
    /// <inheritdoc cref="MixedCrossEntropy(ReadOnlySpan{float}, ReadOnlySpan{int}, Span{float}, int, MixupPlan, float, ComputeOptions)"/>
    public static double MixedCrossEntropy(ReadOnlySpan<float> logits, ReadOnlySpan<long> labels, Span<float> gradLogits, int classes, MixupPlan plan, float epsilon = 0, ComputeOptions options = default)
    {
        using var y = Narrow("Mixup.MixedCrossEntropy", labels, classes);
        return MixedCrossEntropy(logits, y.Span, gradLogits, classes, plan, epsilon, options);
    }

    private static NarrowedLabels Narrow(string op, ReadOnlySpan<long> labels, int classes) =>
        NarrowedLabels.Of(op, nameof(labels), labels, 0, classes - 1, $"labels must be in [0, {classes})");

    private static void CheckTargets(string op, ReadOnlySpan<int> labels, int targets, int classes, float epsilon)
    {
        if (classes < 1)
            throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: classes must be at least 1, got {classes}.");
        if (!(epsilon >= 0 && epsilon < 1))
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"{op}: epsilon must be in [0, 1), got {epsilon}.");
        if ((long)labels.Length * classes != targets)
            throw new ArgumentException($"{op}: {labels.Length} labels need {(long)labels.Length * classes} target values, got {targets}.", nameof(labels));
        int bad = labels.IndexOfAnyExceptInRange(0, classes - 1);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(labels), labels[bad], $"{op}: labels[{bad}] is {labels[bad]}; labels must be in [0, {classes}).");
    }

    private static bool IsPermutation(int[] partner)
    {
        var seen = new bool[partner.Length];
        foreach (int p in partner)
        {
            if (seen[p]) return false;
            seen[p] = true;
        }
        return true;
    }

    /// <summary>The cycles of a permutation, each starting anywhere on it.</summary>
    private static List<int[]> Cycles(int[] permutation)
    {
        var seen = new bool[permutation.Length];
        var cycles = new List<int[]>();
        var cycle = new List<int>();
        for (int start = 0; start < permutation.Length; start++)
        {
            if (seen[start]) continue;
            cycle.Clear();
            for (int i = start; !seen[i]; i = permutation[i])
            {
                seen[i] = true;
                cycle.Add(i);
            }
            cycles.Add(cycle.ToArray());
        }
        return cycles;
    }
}
