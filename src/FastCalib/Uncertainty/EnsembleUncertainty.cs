using System.Runtime.Intrinsics;

namespace FastCalib;

/// <summary>
/// Uncertainty of an ensemble or of Monte Carlo dropout: S stochastic passes over the same rows, added one pass at a
/// time (no pass is kept), give per row the mean probabilities p̄, the predictive entropy H(p̄), the expected entropy
/// mean_s H(p_s), the mutual information H(p̄) − mean_s H(p_s) (BALD; Houlsby et al. 2011, Gal and Ghahramani 2016),
/// the variance over passes of the probability of p̄'s top class, and the share of passes whose first argmax is that
/// class.
/// </summary>
/// <remarks>
/// State: the running sums Σ p_s and Σ p_s² (float32, [rows, classes] each), Σ H(p_s) per row (float64) and each
/// pass's predicted class (4 bytes a row a pass). Each pass's rows are validated as probability distributions (or, from
/// logits, finite). A refused pass of probabilities adds nothing (it is validated first); a refused pass of logits has
/// already updated the sums in the same traversal, so it faults the accumulator and every later call throws, which keeps
/// a caught error from leaving a silently wrong ensemble. Passes run on the CPU (SIMD, all cores) or on a GPU through
/// <see cref="ComputeOptions"/>; the sums stay in host memory.
/// </remarks>
public sealed partial class EnsembleUncertainty
{
    private readonly float[] _sum;
    private readonly float[] _squares;
    private readonly double[] _entropySum;
    /// <summary>The pass's per-row entropies, reused from pass to pass (only the running sum is kept).</summary>
    private readonly float[] _entropy;
    private readonly List<int[]> _predicted = [];
    private string? _fault;
    private const string NotADistribution = "is not a probability distribution (a negative or NaN entry, or a sum off 1 by more than the tolerance)";
    private const string NotFinite = "has a NaN or infinite logit";
    /// <summary>The row of the last refused pass that was invalid (for <see cref="FromStack"/>'s message).</summary>
    private int _refusedRow = -1;

    /// <summary>An empty accumulator for passes of <paramref name="rows"/> rows of <paramref name="classes"/> classes.</summary>
    public EnsembleUncertainty(int rows, int classes)
    {
        const string op = "EnsembleUncertainty";
        if (rows < 0) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{op}: rows must be at least 0, got {rows}.");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: classes must be at least 1, got {classes}.");
        if ((long)rows * classes > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{op}: [{rows} x {classes}] is more than one array holds ({Array.MaxLength} values).");
        Rows = rows;
        Classes = classes;
        _sum = new float[(long)rows * classes];
        _squares = new float[_sum.Length];
        _entropySum = new double[rows];
        _entropy = GC.AllocateUninitializedArray<float>(rows);
    }

    /// <summary>Rows of every pass.</summary>
    public int Rows { get; }

    /// <summary>Classes of every row.</summary>
    public int Classes { get; }

    /// <summary>Passes added so far.</summary>
    public int Passes => _predicted.Count;

    /// <summary>
    /// Adds one pass of probabilities, row-major [rows, classes]. Rows are validated as in
    /// <see cref="Entropy.FromProbabilities(ReadOnlySpan{float}, Span{float}, int, EntropyUnit, ComputeOptions)"/>.
    /// </summary>
    public void AddProbabilities(ReadOnlySpan<float> probabilities, ComputeOptions options = default)
    {
        const string op = "EnsembleUncertainty.AddProbabilities";
        CheckPass(op, nameof(probabilities), probabilities.Length);
        AddPass(op, probabilities, options, NotADistribution);
    }

    /// <summary>Adds one pass of logits, row-major [rows, classes], as softmax(logits / temperature).</summary>
    public void AddLogits(ReadOnlySpan<float> logits, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "EnsembleUncertainty.AddLogits";
        float invT = Check.InverseTemperature(op, temperature);
        CheckPass(op, nameof(logits), logits.Length);
        // one fused kernel (measured faster than a softmax into a buffer followed by the probabilities' path)
        // every element of both is written by the kernel: no zeroing
        var predicted = GC.AllocateUninitializedArray<int>(Rows);
        UncertaintyKernels.AddLogitsKernel.Host(options, op, Rows, Classes, logits, _sum, _squares, _sum, _squares, invT, predicted, _entropy);
        Record(op, predicted, _entropy, NotFinite, sumsUpdated: true);
    }

    /// <summary>
    /// One pass of probability rows: the per-row kernel of <see cref="PredictionDiversity"/> (first argmax, entropy,
    /// validation in one traversal) on the chosen backend, then Σ p and Σ p² elementwise on the CPU, in parallel
    /// chunks (contiguous vector loops, no tile transposes).
    /// </summary>
    private void AddPass(string op, ReadOnlySpan<float> probabilities, ComputeOptions options, string invalid)
    {
        var predicted = GC.AllocateUninitializedArray<int>(Rows);
        EntropyKernels.SummarizeKernel.Host(options, op, Rows, Classes, probabilities, Entropy.Tolerance(Classes), predicted, _entropy);
        Record(op, predicted, _entropy, invalid, sumsUpdated: false);
        AddSums(probabilities, options);
    }

    /// <summary>
    /// Refuses the pass on its first invalid row (NaN entropy), faulting the accumulator if the sums already hold part
    /// of the pass; otherwise keeps the pass's per-row results.
    /// </summary>
    private void Record(string op, int[] predicted, float[] entropy, string invalid, bool sumsUpdated)
    {
        // a vector maximum finds whether any entropy is NaN (NaN propagates through it); the scan only names the row
        if (entropy.Length > 0 && float.IsNaN(System.Numerics.Tensors.TensorPrimitives.Max(entropy)))
        {
            int i = Array.FindIndex(entropy, float.IsNaN);
            _refusedRow = i;
            if (!sumsUpdated)
                throw new ArgumentException($"{op}: row {i} of pass {Passes} {invalid}; nothing of the pass was added.");
            _fault = $"pass {Passes}, row {i}";
            throw new ArgumentException($"{op}: row {i} of pass {Passes} {invalid}; the accumulator is faulted (its sums hold part of the pass).");
        }
        for (int i = 0; i < entropy.Length; i++) _entropySum[i] += entropy[i];
        _predicted.Add(predicted);
    }

    private unsafe void AddSums(ReadOnlySpan<float> probabilities, ComputeOptions options)
    {
        // on a GPU backend the sums still live on the host: all cores add them
        int threads = (options.Backend == Backend.Gpu ? default : options).ResolveCpu().Threads;
        fixed (float* p = probabilities)
        fixed (float* sum = _sum)
        fixed (float* squares = _squares)
        {
            float* pp = p, ps = sum, pq = squares;
            CpuRows.ForEachChunk(Rows, Classes, threads, (_, range) =>
            {
                long start = range.Start * Classes;
                long n = (range.End - range.Start) * Classes;
                AddMoments(pp + start, ps + start, pq + start, n);
            });
        }
    }

    /// <summary>sum += x and squares += x·x over <paramref name="n"/> values in one traversal (the pass read once).</summary>
    private static unsafe void AddMoments(float* x, float* sum, float* squares, long n)
    {
        long i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i + 16 <= n; i += 16)
            {
                var v = Vector512.Load(x + i);
                (Vector512.Load(sum + i) + v).Store(sum + i);
                Vector512.FusedMultiplyAdd(v, v, Vector512.Load(squares + i)).Store(squares + i);
            }
        }
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Load(x + i);
                (Vector256.Load(sum + i) + v).Store(sum + i);
                Vector256.FusedMultiplyAdd(v, v, Vector256.Load(squares + i)).Store(squares + i);
            }
        }
        for (; i < n; i++)
        {
            sum[i] += x[i];
            squares[i] = MathF.FusedMultiplyAdd(x[i], x[i], squares[i]);
        }
    }

    /// <summary>A row's expected entropy, mutual information and agreement from its sum of pass entropies, the passes
    /// whose prediction is the mean's top class, and its predictive entropy; <paramref name="cap"/> is ln C.</summary>
    private static (float Expected, float Mutual, float Agreement) RowMeasures(double entropySum, int agreeing, int passes, double cap, float predictive)
    {
        double e = entropySum / passes;
        // H(p̄) ≥ mean_s H(p_s) by concavity; rounding can leave it a hair below, and neither exceeds ln C
        return ((float)e, (float)Math.Clamp(predictive - e, 0, cap), (float)agreeing / passes);
    }

    private void CheckPass(string op, string argument, long length)
    {
        if (_fault is not null)
            throw new InvalidOperationException($"{op}: the accumulator is faulted by an earlier rejected pass ({_fault}); start a new one.");
        if (length != (long)Rows * Classes)
            throw new ArgumentException($"{op}: {argument} has {length} elements; a pass is [{Rows} x {Classes}] = {(long)Rows * Classes}.", argument);
    }

    /// <summary>The per-row measures of the passes added so far (at least one).</summary>
    public EnsembleUncertaintyResult Result(ComputeOptions options = default)
    {
        const string op = "EnsembleUncertainty.Result";
        if (_fault is not null)
            throw new InvalidOperationException($"{op}: the accumulator is faulted by an earlier rejected pass ({_fault}).");
        if (Passes == 0)
            throw new InvalidOperationException($"{op}: no pass has been added.");
        int rows = Rows;
        var mean = new float[_sum.Length];
        var top = new int[rows];
        var predictive = new float[rows];
        var variance = new float[rows];
        UncertaintyKernels.FinishKernel.Host(options, op, rows, Classes, _sum, _squares, mean, 1f / Passes, top, predictive, variance);
        var expected = new float[rows];
        var mutual = new float[rows];
        var agreement = new float[rows];
        var agreeing = new int[rows];
        foreach (var pass in _predicted)
            for (int i = 0; i < rows; i++)
                if (pass[i] == top[i]) agreeing[i]++;
        double cap = Math.Log(Classes);
        for (int i = 0; i < rows; i++)
            (expected[i], mutual[i], agreement[i]) = RowMeasures(_entropySum[i], agreeing[i], Passes, cap, predictive[i]);
        return new EnsembleUncertaintyResult(rows, Classes, Passes, mean, top, predictive, expected, mutual, variance, agreement);
    }
}

/// <summary>Per-row uncertainty of an ensemble (see <see cref="EnsembleUncertainty"/>); arrays of one value per row unless noted.</summary>
/// <param name="Rows">Rows.</param>
/// <param name="Classes">Classes.</param>
/// <param name="Passes">Passes averaged.</param>
/// <param name="MeanProbabilities">p̄ = mean over passes, row-major [rows, classes].</param>
/// <param name="Predicted">p̄'s first argmax.</param>
/// <param name="PredictiveEntropy">H(p̄) in nats.</param>
/// <param name="ExpectedEntropy">mean_s H(p_s) in nats.</param>
/// <param name="MutualInformation">H(p̄) − mean_s H(p_s) in nats, in [0, ln C] (BALD).</param>
/// <param name="TopVariance">Variance over passes (population, 1/S) of p_s at p̄'s top class.</param>
/// <param name="Agreement">Share of passes whose first argmax is p̄'s top class.</param>
public sealed record EnsembleUncertaintyResult(
    int Rows,
    int Classes,
    int Passes,
    float[] MeanProbabilities,
    int[] Predicted,
    float[] PredictiveEntropy,
    float[] ExpectedEntropy,
    float[] MutualInformation,
    float[] TopVariance,
    float[] Agreement)
{
    /// <summary>Mean over rows of <see cref="PredictiveEntropy"/> (NaN for no rows).</summary>
    public double MeanPredictiveEntropy => Mean(PredictiveEntropy);

    /// <summary>Mean over rows of <see cref="ExpectedEntropy"/>.</summary>
    public double MeanExpectedEntropy => Mean(ExpectedEntropy);

    /// <summary>Mean over rows of <see cref="MutualInformation"/>.</summary>
    public double MeanMutualInformation => Mean(MutualInformation);

    /// <summary>Mean over rows of <see cref="TopVariance"/>.</summary>
    public double MeanTopVariance => Mean(TopVariance);

    /// <summary>Mean over rows of <see cref="Agreement"/>.</summary>
    public double MeanAgreement => Mean(Agreement);

    private static double Mean(float[] values)
    {
        double sum = 0;
        foreach (float v in values) sum += v;
        return values.Length == 0 ? double.NaN : sum / values.Length;
    }
}
