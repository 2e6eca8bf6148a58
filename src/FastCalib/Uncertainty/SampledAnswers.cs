using FastCalib.Kernels.Internals;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Confidence from the agreement of sampled answers, for a classifier that gives no probabilities (an LLM asked the
/// same question S times): per row of S answers, the majority class, its share of the S answers as the confidence, and
/// the vote entropy of the answers.
/// </summary>
/// <remarks>
/// Answers are class ids (any int ≥ 0) or −1 for an answer outside the classes (unparseable, "none of these"). The
/// majority class is the most frequent id ≥ 0, the smallest id among equally frequent ones; its share counts every
/// answer, −1 included, so answers outside the classes lower the confidence. A row with no answer inside the classes
/// has majority −1 and confidence 0 (and is never correct). The vote entropy is that of the answers' empirical
/// distribution, −Σ_k (n_k / S) ln(n_k / S) over the distinct answers, −1 counted as one outcome: 0 when all agree, ln S
/// when all differ. Rows run on all cores; each row's answers are sorted in a scratch copy (S log S per row, any class
/// count). The host-span overload runs on the host whatever the backend of the options (their thread count applies);
/// the device-view overload runs a thread per row on the device, counting each answer's repeats (S² per row).
/// </remarks>
public static class SampledAnswers
{
    /// <summary>
    /// Summarises rows of <paramref name="samples"/> answers, row-major [rows, samples]: majority class, confidence and
    /// vote entropy (nats) per row. <paramref name="voteEntropy"/> may be empty (not wanted).
    /// </summary>
    public static void Summarize(ReadOnlySpan<int> answers, int samples, Span<int> majority, Span<float> confidence, Span<float> voteEntropy, ComputeOptions options = default)
    {
        const string op = "SampledAnswers.Summarize";
        long rows = Validate(op, answers, samples);
        Check.PerRow(op, nameof(majority), majority.Length, rows);
        Check.PerRow(op, nameof(confidence), confidence.Length, rows);
        if (!voteEntropy.IsEmpty) Check.PerRow(op, nameof(voteEntropy), voteEntropy.Length, rows);
        Run(answers, samples, majority, confidence, voteEntropy, options);
    }

    /// <summary>
    /// The same on device views, on <paramref name="stream"/>'s accelerator: answers are checked there, and
    /// <paramref name="voteEntropy"/> may be an empty view (not wanted). Waits for the stream.
    /// </summary>
    public static void Summarize(AcceleratorStream stream, ArrayView<int> answers, int samples, ArrayView<int> majority, ArrayView<float> confidence, ArrayView<float> voteEntropy)
    {
        const string op = "SampledAnswers.Summarize";
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, $"{op}: samples must be at least 1, got {samples}.");
        long rows = Check.Rows(op, nameof(answers), answers.Length, samples, nameof(samples));
        Check.PerRow(op, nameof(majority), majority.Length, rows);
        Check.PerRow(op, nameof(confidence), confidence.Length, rows);
        if (voteEntropy.Length > 0) Check.PerRow(op, nameof(voteEntropy), voteEntropy.Length, rows);
        if (rows == 0) return;
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, samples), () =>
        {
            DeviceChecks.Answers(op, stream, answers, samples);
            var kernel = GpuRows.Load(stream.Accelerator, "FastCalib.SampledAnswerKernels.SummarizeRows",
                static a => a.LoadKernel<ArrayView<int>, int, ArrayView<int>, ArrayView<float>, ArrayView<float>, long>(SampledAnswerKernels.SummarizeRows));
            kernel(stream, GpuRows.ThreadPerRow(stream.Accelerator, rows), answers, samples, majority, confidence, voteEntropy, rows);
            stream.Synchronize();
        });
    }

    /// <summary>Checks the shape and that every answer is −1 or a class id; returns the rows.</summary>
    internal static long Validate(string op, ReadOnlySpan<int> answers, int samples)
    {
        if (samples < 1) throw new ArgumentOutOfRangeException(nameof(samples), samples, $"{op}: samples must be at least 1, got {samples}.");
        long rows = Check.Rows(op, nameof(answers), answers.Length, samples, nameof(samples));
        int bad = answers.IndexOfAnyInRange(int.MinValue, -2);
        if (bad >= 0)
            throw new ArgumentOutOfRangeException(nameof(answers), answers[bad],
                $"{op}: answers[{bad / samples}, {bad % samples}] is {answers[bad]}; answers must be class ids (0 or more) or -1 for an answer outside the classes.");
        return rows;
    }

    /// <summary>The per-row work on validated input.</summary>
    internal static unsafe void Run(ReadOnlySpan<int> answers, int samples, Span<int> majority, Span<float> confidence, Span<float> voteEntropy, ComputeOptions options)
    {
        long rows = answers.Length / samples;
        if (rows == 0) return;
        int threads = options.ResolveThreads();   // host work whatever the backend
        bool entropy = !voteEntropy.IsEmpty;
        fixed (int* a = answers, m = majority)
        fixed (float* c = confidence, h = voteEntropy)
        {
            int* pa = a, pm = m;
            float* pc = c, ph = h;
            CpuRows.ForEachChunk(rows, samples, threads, (_, range) =>
            {
                var scratch = new int[samples];
                for (long r = range.Start; r < range.End; r++)
                {
                    new ReadOnlySpan<int>(pa + r * samples, samples).CopyTo(scratch);
                    var (top, count, sumNLogN) = Tally(scratch);
                    pm[r] = top;
                    pc[r] = (float)((double)count / samples);
                    // H = -Σ (n/S) ln(n/S) = ln S - (1/S) Σ n ln n
                    if (entropy) ph[r] = (float)Math.Max(0, Math.Log(samples) - sumNLogN / samples);
                }
            });
        }
    }

    /// <summary>
    /// Sorts one row's answers and walks their runs: the most frequent id ≥ 0 (the smallest on ties; −1 if none), its
    /// count, and Σ n ln n over the runs (every distinct answer, −1 included).
    /// </summary>
    private static (int Majority, int Count, double SumNLogN) Tally(Span<int> answers)
    {
        answers.Sort();
        int majority = -1, best = 0;
        double sumNLogN = 0;
        for (int i = 0; i < answers.Length;)
        {
            int j = i + 1;
            while (j < answers.Length && answers[j] == answers[i]) j++;
            int n = j - i;
            sumNLogN += n * Math.Log(n);
            // runs come in increasing id order, so a strictly larger count keeps the smallest id on ties
            if (answers[i] >= 0 && n > best)
            {
                best = n;
                majority = answers[i];
            }
            i = j;
        }
        return (majority, best, sumNLogN);
    }
}

/// <summary>The device kernel of <see cref="SampledAnswers"/>.</summary>
internal static class SampledAnswerKernels
{
    /// <summary>
    /// One thread per row: each answer's count among the row's (so Σ_i ln n(a_i) = Σ_k n_k ln n_k), the most frequent
    /// id ≥ 0 with the smallest id on ties, and the vote entropy ln S − (1/S) Σ n ln n, as the host's sorted tally gives them.
    /// </summary>
    [GpuKernelEntry]
    public static void SummarizeRows(ArrayView<int> answers, int samples, ArrayView<int> majority, ArrayView<float> confidence, ArrayView<float> voteEntropy, long rows)
    {
        long stride = (long)Grid.DimX * Group.DimX;
        for (long row = Grid.GlobalIndex.X; row < rows; row += stride)
        {
            long at = row * samples;
            int top = -1, best = 0;
            double sumLogCounts = 0;
            for (int i = 0; i < samples; i++)
            {
                int answer = answers[at + i], n = 0;
                for (int j = 0; j < samples; j++) n += answers[at + j] == answer ? 1 : 0;
                sumLogCounts += XMath.Log((double)n);
                if (answer >= 0 && (n > best || (n == best && answer < top)))
                {
                    best = n;
                    top = answer;
                }
            }
            majority[row] = top;
            confidence[row] = (float)((double)best / samples);
            if (voteEntropy.Length > 0) voteEntropy[row] = (float)XMath.Max(0.0, XMath.Log((double)samples) - sumLogCounts / samples);
        }
    }
}
