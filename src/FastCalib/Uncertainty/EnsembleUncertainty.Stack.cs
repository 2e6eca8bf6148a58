using FastCalib.Kernels.Internals;

namespace FastCalib;

// The one-read path: S passes held together as [passes, rows, classes]. Adding passes one at a time must read and
// write the [rows, classes] sums Σ p and Σ p² on every pass (five times the pass's own bytes); here blocks of rows
// small enough for L1 take every pass in turn, so the sums never leave the cache and each pass is read once.
public sealed partial class EnsembleUncertainty
{
    /// <summary>Values of a block's Σ p (and of its Σ p²): 32 KB for both, so they stay in L1 while the passes stream by.</summary>
    private const int BlockValues = 4096;

    /// <summary>
    /// The uncertainty of <paramref name="passes"/> passes of probabilities held together, row-major
    /// [passes, rows, classes] (an ensemble's stacked outputs), in one read of the stack. The result has the bits of
    /// adding the passes one by one to an accumulator and taking its <see cref="Result"/>; on the GPU backend it is
    /// computed that way. Rows are validated as in <see cref="AddProbabilities"/>, and the first invalid row (of the
    /// first pass that has one) is named in the error.
    /// </summary>
    public static EnsembleUncertaintyResult FromStack(ReadOnlySpan<float> probabilities, int passes, int classes, ComputeOptions options = default) =>
        OfStack("EnsembleUncertainty.FromStack", nameof(probabilities), probabilities, passes, classes, fromLogits: false, 1f, options);

    /// <summary>
    /// <see cref="FromStack"/> for passes of logits, each taken as softmax(logits / temperature) as in
    /// <see cref="AddLogits"/>; a row with a NaN or infinite logit is named in the error.
    /// </summary>
    public static EnsembleUncertaintyResult FromLogitStack(ReadOnlySpan<float> logits, int passes, int classes, float temperature = 1f, ComputeOptions options = default) =>
        OfStack("EnsembleUncertainty.FromLogitStack", nameof(logits), logits, passes, classes, fromLogits: true, temperature, options);

    private static unsafe EnsembleUncertaintyResult OfStack(string op, string argument, ReadOnlySpan<float> stack, int passes, int classes, bool fromLogits, float temperature, ComputeOptions options)
    {
        float invT = fromLogits ? Check.InverseTemperature(op, temperature) : 1f;
        if (passes < 1) throw new ArgumentOutOfRangeException(nameof(passes), passes, $"{op}: passes must be at least 1, got {passes}.");
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, $"{op}: classes must be at least 1, got {classes}.");
        if (stack.Length % ((long)passes * classes) != 0)
            throw new ArgumentException($"{op}: {argument} has {stack.Length} elements, not a whole number of [{passes} x rows x {classes}] passes.", argument);
        int rows = (int)(stack.Length / ((long)passes * classes));
        long perPass = (long)rows * classes;
        if (options.Backend == Backend.Gpu) return PassByPass(op, argument, stack, passes, rows, classes, fromLogits, temperature, options);

        var (simd, vectorWidth, threads) = CpuRows.Resolve(options);
        int width = simd ? vectorWidth : 0;   // the kernels' OnRows: 0 for the scalar path
        var mean = new float[perPass];
        var top = new int[rows];
        var predictive = new float[rows];
        var variance = new float[rows];
        var expected = new float[rows];
        var mutual = new float[rows];
        var agreement = new float[rows];
        // the block's predictions of every pass stay small too (64 K of them); whole 16-row tiles where rows are narrow
        int blockRows = Math.Max(1, Math.Min(BlockValues / classes, 65536 / passes));
        if (blockRows >= 32) blockRows &= ~15;
        double cap = Math.Log(classes);
        float tolerance = Entropy.Tolerance(classes);
        int failed = 0;
        fixed (float* x = stack)
        fixed (float* meanAt = mean, predictiveAt = predictive, varianceAt = variance)
        fixed (int* topAt = top)
        {
            float* xs = x, m = meanAt, pe = predictiveAt, tv = varianceAt;
            int* tp = topAt;
            CpuRows.ForEachChunk(rows, classes, threads, () => new StackBlock(blockRows, classes, passes), (_, range, block) =>
            {
                for (long start = range.Start; start < range.End && Volatile.Read(ref failed) == 0; start += blockRows)
                {
                    var rowsOfBlock = new RowRange(start, Math.Min(range.End, start + blockRows));
                    if (block.Add(rowsOfBlock, xs, perPass, fromLogits, invT, tolerance, width) >= 0)
                    {
                        Interlocked.Exchange(ref failed, 1);
                        return;
                    }
                    block.Finish(rowsOfBlock, m, tp, pe, tv, width);
                    for (long r = rowsOfBlock.Start; r < rowsOfBlock.End; r++)
                    {
                        int i = (int)(r - rowsOfBlock.Start);
                        int agreeing = 0;
                        for (int s = 0; s < passes; s++) agreeing += block.Predicted[s * blockRows + i] == tp[r] ? 1 : 0;
                        (expected[r], mutual[r], agreement[r]) = RowMeasures(block.EntropySum[i], agreeing, passes, cap, pe[r]);
                    }
                }
            }, _ => { });
        }
        if (failed != 0)
        {
            // name the row the pass-by-pass accumulator would: the first invalid row of the first pass with one
            var (pass, row) = FirstInvalid(stack, passes, rows, classes, blockRows, fromLogits, invT, tolerance, width);
            throw Invalid(op, argument, pass, row, fromLogits);
        }
        return new EnsembleUncertaintyResult(rows, classes, passes, mean, top, predictive, expected, mutual, variance, agreement);
    }

    /// <summary>The GPU backend's path: the passes added one by one (their sums live in host memory either way).</summary>
    private static EnsembleUncertaintyResult PassByPass(string op, string argument, ReadOnlySpan<float> stack, int passes, int rows, int classes, bool fromLogits, float temperature, ComputeOptions options)
    {
        var ensemble = new EnsembleUncertainty(rows, classes);
        int perPass = rows * classes;
        for (int s = 0; s < passes; s++)
        {
            var pass = stack.Slice(s * perPass, perPass);
            try
            {
                if (fromLogits) ensemble.AddLogits(pass, temperature, options);
                else ensemble.AddProbabilities(pass, options);
            }
            catch (ArgumentException) when (ensemble._refusedRow >= 0)
            {
                throw Invalid(op, argument, s, ensemble._refusedRow, fromLogits);
            }
        }
        return ensemble.Result(options);
    }

    private static ArgumentException Invalid(string op, string argument, int pass, int row, bool fromLogits) =>
        new($"{op}: row {row} of pass {pass} {(fromLogits ? NotFinite : NotADistribution)}.", argument);

    /// <summary>The first (pass, row) whose entropy comes out NaN: pass by pass, block by block, on the same path as the
    /// blocks (the validity of a sum near the tolerance depends on the order of its additions); the error path only.</summary>
    private static unsafe (int Pass, int Row) FirstInvalid(ReadOnlySpan<float> stack, int passes, int rows, int classes, int blockRows, bool fromLogits, float invT, float tolerance, int width)
    {
        var block = new StackBlock(blockRows, classes, 1);
        long perPass = (long)rows * classes;
        fixed (float* x = stack)
        {
            for (int s = 0; s < passes; s++)
            {
                for (long start = 0; start < rows; start += blockRows)
                {
                    int bad = block.Add(new RowRange(start, Math.Min(rows, start + blockRows)), x + s * perPass, 0, fromLogits, invT, tolerance, width);
                    if (bad >= 0) return (s, (int)start + bad);
                }
            }
        }
        return (-1, -1);
    }

    /// <summary>One thread's state for a block of rows: the block's Σ p, Σ p², entropy sums and every pass's predictions.</summary>
    private sealed unsafe class StackBlock(int blockRows, int classes, int passes)
    {
        public float[] Sum { get; } = new float[blockRows * classes];
        public float[] Squares { get; } = new float[blockRows * classes];
        public double[] EntropySum { get; } = new double[blockRows];
        public float[] Entropy { get; } = new float[blockRows];
        /// <summary>Pass s's prediction for the block's row i at s · blockRows + i.</summary>
        public int[] Predicted { get; } = new int[passes * blockRows];

        private void Clear(int rows)
        {
            Array.Clear(Sum, 0, rows * classes);
            Array.Clear(Squares, 0, rows * classes);
            Array.Clear(EntropySum, 0, rows);
        }

        /// <summary>
        /// Every pass's rows of the block, in pass order, with the pass-by-pass path's arithmetic (so the same bits);
        /// returns the block's first row whose entropy is NaN (an invalid row) in the first pass with one, or -1. The
        /// kernels index rows absolutely, so the block's buffers are handed over at bases that put its first row at
        /// their start. <paramref name="width"/> is the kernels' OnRows width (0: scalar).
        /// </summary>
        public int Add(RowRange rows, float* stack, long perPass, bool fromLogits, float invT, float tolerance, int width)
        {
            int n = (int)(rows.End - rows.Start);
            Clear(n);
            long first = rows.Start * classes;
            fixed (float* sum = Sum, squares = Squares, entropy = Entropy)
            fixed (int* predicted = Predicted)
            {
                float* sumAt = sum - first, squaresAt = squares - first, entropyAt = entropy - rows.Start;
                for (int s = 0; s < passes; s++)
                {
                    float* pass = stack + s * perPass;
                    int* predictedAt = predicted + s * blockRows - rows.Start;
                    if (fromLogits) UncertaintyKernels.AddLogitsKernel.OnRows(rows, width, classes, pass, sumAt, squaresAt, sumAt, squaresAt, invT, predictedAt, entropyAt);
                    else EntropyKernels.SummarizeKernel.OnRows(rows, width, classes, pass, tolerance, predictedAt, entropyAt);
                    for (int i = 0; i < n; i++)
                    {
                        if (float.IsNaN(entropy[i])) return i;
                        EntropySum[i] += entropy[i];
                    }
                    if (!fromLogits) AddMoments(pass + first, sum, squares, (long)n * classes);
                }
            }
            return -1;
        }

        /// <summary>The block's mean, top class, predictive entropy and top variance, into the result arrays.</summary>
        public void Finish(RowRange rows, float* mean, int* top, float* predictive, float* variance, int width)
        {
            long first = rows.Start * classes;
            fixed (float* sum = Sum, squares = Squares)
                UncertaintyKernels.FinishKernel.OnRows(rows, width, classes, sum - first, squares - first, mean, 1f / passes, top, predictive, variance);
        }
    }
}
