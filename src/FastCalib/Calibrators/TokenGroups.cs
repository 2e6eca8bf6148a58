using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Class probabilities of a language model used as a classifier: each class is a group of token ids ("Yes", "yes",
/// " YES" ...), and its probability is the softmax mass of its tokens. From logits [rows, vocabulary] and a
/// temperature this computes, per row, the mass of each of the K groups and the mass outside all groups
/// ([rows, K + 1]), without writing the [rows, vocabulary] probability matrix: one fused pass finds each row's maximum
/// and softmax normaliser (generated kernel), then only the grouped tokens are read again.
/// </summary>
/// <remarks>The mass outside the groups is 1 minus the groups' total, so its absolute accuracy is about 1e-7.</remarks>
public sealed unsafe class TokenGroups
{
    private const int Block = 1024;
    private readonly int[] _ids;       // all group ids, group after group
    private readonly int[] _offsets;   // group k is _ids[_offsets[k] .. _offsets[k + 1])

    /// <summary>Defines the classes as disjoint, non-empty groups of token ids in [0, vocabulary).</summary>
    public TokenGroups(int vocabulary, IReadOnlyList<IReadOnlyList<int>> groups)
    {
        const string op = "TokenGroups";
        if (vocabulary < 1)
            throw new ArgumentOutOfRangeException(nameof(vocabulary), vocabulary, $"{op}: vocabulary must be at least 1, got {vocabulary}.");
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0)
            throw new ArgumentException($"{op}: at least one group is needed.", nameof(groups));
        var owner = new Dictionary<int, int>();
        var ids = new List<int>();
        _offsets = new int[groups.Count + 1];
        for (int k = 0; k < groups.Count; k++)
        {
            if (groups[k] is null || groups[k].Count == 0)
                throw new ArgumentException($"{op}: group {k} is empty; every class needs at least one token.", nameof(groups));
            foreach (int id in groups[k])
            {
                if (id < 0 || id >= vocabulary)
                    throw new ArgumentOutOfRangeException(nameof(groups), id, $"{op}: group {k} has token id {id}; ids must be in [0, {vocabulary}).");
                if (!owner.TryAdd(id, k))
                    throw new ArgumentException($"{op}: token id {id} is in group {owner[id]} and group {k}; groups must be disjoint.", nameof(groups));
                ids.Add(id);
            }
            _offsets[k + 1] = ids.Count;
        }
        _ids = ids.ToArray();
        Vocabulary = vocabulary;
    }

    /// <summary>Vocabulary size (columns of the logits).</summary>
    public int Vocabulary { get; }

    /// <summary>Number of groups K; the output has K + 1 columns (the last is the mass outside all groups).</summary>
    public int Count => _offsets.Length - 1;

    /// <summary>Per row, the softmax mass of each group and of everything else: [rows, K + 1].</summary>
    /// <param name="logits">Row-major [rows, vocabulary] logits.</param>
    /// <param name="probabilities">Output, [rows, K + 1].</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    /// <param name="options">Backend and threads.</param>
    public void Probabilities(ReadOnlySpan<float> logits, Span<float> probabilities, float temperature = 1f, ComputeOptions options = default)
    {
        const string op = "TokenGroups.Probabilities";
        long rows = Check.Rows(op, nameof(logits), logits.Length, Vocabulary, "vocabulary");
        Check.SameLength(op, nameof(probabilities), probabilities.Length, "rows x (groups + 1)", rows * (Count + 1));
        float invT = Check.InverseTemperature(op, temperature);
        if (rows == 0) return;
        if (options.Backend == Backend.Gpu)
        {
            GpuHost.OnDevice(options, op, GpuHost.Shape(rows, Vocabulary), logits, nameof(logits), probabilities, nameof(probabilities),
                (stream, z, p) => Probabilities(stream, z, p, temperature));
            return;
        }
        var (simd, width, threads) = options.ResolveCpu();
        fixed (float* z = logits, p = probabilities)
        fixed (int* ids = _ids, offsets = _offsets)
        {
            float* zz = z, pp = p;
            int* idp = ids, offp = offsets;
            int vocabulary = Vocabulary, groups = Count;
            CpuRows.ForEachChunk(rows, vocabulary, threads, (_, range) =>
            {
                float* max = stackalloc float[Block];
                float* sum = stackalloc float[Block];
                for (long start = range.Start; start < range.End; start += Block)
                {
                    long end = Math.Min(range.End, start + Block);
                    var block = new RowRange(start, end);
                    if (simd) TemperatureKernels.NormalizerKernel.Simd(block, width, vocabulary, zz, invT, max - start, sum - start);
                    else TemperatureKernels.NormalizerKernel.Scalar(block, vocabulary, zz, invT, max - start, sum - start);
                    for (long r = start; r < end; r++)
                        GroupMasses(zz + r * vocabulary, max[r - start], sum[r - start], invT, idp, offp, groups, pp + r * (groups + 1));
                }
            });
        }
    }

    /// <summary>The same on device views ([rows, vocabulary] in, [rows, K + 1] out) on the caller's stream.</summary>
    public void Probabilities(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, float temperature = 1f)
    {
        const string op = "TokenGroups.Probabilities";
        long rows = Check.Rows(op, nameof(logits), logits.Length, Vocabulary, "vocabulary");
        Check.SameLength(op, nameof(probabilities), probabilities.Length, "rows x (groups + 1)", rows * (Count + 1));
        float invT = Check.InverseTemperature(op, temperature);
        if (rows == 0) return;
        GpuHost.Launch(op, stream, GpuHost.Shape(rows, Vocabulary), () =>
        {
            var accelerator = stream.Accelerator;
            using var scratch = accelerator.Allocate1D<float>(2 * rows);
            using var ids = accelerator.Allocate1D(_ids);
            using var offsets = accelerator.Allocate1D(_offsets);
            Launch(stream, logits, probabilities, scratch.View, ids.View, offsets.View, rows, invT);
            stream.Synchronize();
        });
    }

    /// <summary>The mass of each group and the rest for one row, given its maximum and normaliser.</summary>
    private static void GroupMasses(float* row, float max, float sum, float invT, int* ids, int* offsets, int groups, float* output)
    {
        float invSum = 1f / sum, total = 0;
        for (int k = 0; k < groups; k++)
        {
            float mass = 0;
            for (int i = offsets[k]; i < offsets[k + 1]; i++) mass += MathF.Exp((row[ids[i]] - max) * invT);
            output[k] = mass * invSum;
            total += output[k];
        }
        output[groups] = MathF.Max(0, 1 - total);
    }

    private void Launch(AcceleratorStream stream, ArrayView<float> logits, ArrayView<float> probabilities, ArrayView<float> scratch, ArrayView<int> ids, ArrayView<int> offsets, long rows, float invT)
    {
        var maxima = scratch.SubView(0, rows);
        var sums = scratch.SubView(rows, rows);
        TemperatureKernels.NormalizerKernel.Gpu(stream, logits, invT, maxima, sums, rows, Vocabulary);
        var accelerator = stream.Accelerator;
        var kernel = GpuRows.Load(accelerator, "FastCalib.TokenGroups.GroupMassesKernel",
            static a => a.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, ArrayView<int>, long, int, float>(GroupMassesKernel));
        kernel(stream, GpuRows.ThreadPerRow(accelerator, rows), logits, scratch, probabilities, ids, offsets, rows, Vocabulary, invT);
    }

    /// <summary>One thread per row: the grouped tokens' softmax mass from the row's maximum and normaliser.</summary>
    [GpuKernelEntry]
    public static void GroupMassesKernel(ArrayView<float> logits, ArrayView<float> scratch, ArrayView<float> probabilities, ArrayView<int> ids, ArrayView<int> offsets, long rows, int vocabulary, float invT)
    {
        int groups = (int)offsets.Length - 1;
        long stride = (long)Grid.DimX * Group.DimX;
        for (long r = Grid.GlobalIndex.X; r < rows; r += stride)
        {
            float max = scratch[r], invSum = 1f / scratch[rows + r], total = 0;
            long row = r * vocabulary, output = r * (groups + 1);
            for (int k = 0; k < groups; k++)
            {
                float mass = 0;
                for (int i = offsets[k]; i < offsets[k + 1]; i++) mass += GpuMath.Exp((logits[row + ids[i]] - max) * invT);
                probabilities[output + k] = mass * invSum;
                total += mass * invSum;
            }
            probabilities[output + groups] = GpuMath.Max(0f, 1f - total);
        }
    }
}
