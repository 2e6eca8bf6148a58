namespace FastCalib;

/// <summary>
/// The bootstrap's half of a thread's binner: each row of a block added to every replica with its Poisson weight
/// (<see cref="ReplicaSums256"/> at the chosen width, a scalar loop otherwise), into tables flushed to
/// <see cref="ReplicaTotals"/> before a slot's weighted units could overflow.
/// </summary>
internal sealed unsafe class ReplicaBinner
{
    /// <summary>Rows between flushes: a row adds at most 9 · 2^40 units to a slot, so 2^18 rows stay below 2^63 (and
    /// their 32-bit weights below 2^22).</summary>
    private const int FlushRows = 1 << 18;

    /// <summary>Replicas are padded to a multiple of this (the lanes of the widest vector).</summary>
    public const int Lanes = 16;

    private readonly int _bins;
    private readonly BinningRule _rule;
    private readonly int _slots;
    private readonly int _width;
    private readonly BootstrapOptions _options;
    private readonly float[]? _edges;
    private readonly float[] _sortedThresholds;
    private readonly AlignedTable<int> _tierCount, _tierCorrect;
    private readonly int _stride;
    private readonly uint[] _replicaKeys;
    private readonly AlignedTable<int> _count, _correct;
    private readonly AlignedTable<long> _units, _nll, _brier;
    private int _pending;
    /// <summary>Whether the rows since the last flush were scored (blocks of the other kind flush first), so that the
    /// replicas' scored weight is their total weight at the flush.</summary>
    private bool _pendingScored;

    /// <summary>
    /// A table of longs starting on a 64-byte boundary (a pinned array with the start offset): a row updates the same
    /// vectors as the row before it, and a store that splits a cache line cannot be forwarded to the next load, which
    /// then waits for it to reach the cache.
    /// </summary>
    private sealed class AlignedTable<T> where T : unmanaged
    {
        private readonly T[] _array;
        private readonly int _start;

        public AlignedTable(int length)
        {
            _array = GC.AllocateArray<T>(length + 64 / sizeof(T), pinned: true);
            fixed (T* p = _array) _start = (int)(((64 - ((nint)p & 63)) & 63) / sizeof(T));
            Length = length;
        }

        public int Length { get; }

        public T* Pointer
        {
            get { fixed (T* p = _array) return p + _start; }   // pinned: the address outlives the fixed block
        }

        public Span<T> Span => _array.AsSpan(_start, Length);
    }

    public ReplicaBinner(int bins, BinningRule rule, BootstrapOptions options, int vectorWidth, float[]? edges = null, float[]? thresholds = null)
    {
        _edges = edges;
        _sortedThresholds = (thresholds ?? []).Order().ToArray();
        _bins = bins;
        _rule = rule;
        _slots = Binning.Slots(bins, rule);
        _width = vectorWidth;
        _options = options;
        _stride = Stride(options);
        _replicaKeys = new uint[_stride];
        for (int r = 0; r < _stride; r++) _replicaKeys[r] = PoissonWeights.ReplicaKey(options.Seed, r);
        _count = new AlignedTable<int>((_slots + 1) * _stride);
        _correct = new AlignedTable<int>((_slots + 1) * _stride);
        _units = new AlignedTable<long>((_slots + 1) * _stride);
        _nll = new AlignedTable<long>(ExactSum.Buckets * _stride);
        _brier = new AlignedTable<long>(ExactSum.Buckets * _stride);
        _tierCount = new AlignedTable<int>((_sortedThresholds.Length + 1) * _stride);
        _tierCorrect = new AlignedTable<int>((_sortedThresholds.Length + 1) * _stride);
    }

    public static int Stride(BootstrapOptions options) => (options.Replicas + Lanes - 1) / Lanes * Lanes;

    /// <summary>Adds <paramref name="n"/> valid rows whose first has index <paramref name="firstRow"/> in the data set.</summary>
    public void Add(ReplicaTotals into, float* confidence, float* correct, float* nll, float* brier, int n, long firstRow)
    {
        bool scoredBlock = nll is not null;
        if (_pending + n > FlushRows || _pending > 0 && scoredBlock != _pendingScored) Flush(into);
        _pending += n;
        _pendingScored = scoredBlock;
        int* count = _count.Pointer, right = _correct.Pointer, tierCount = _tierCount.Pointer, tierCorrect = _tierCorrect.Pointer;
        long* units = _units.Pointer, nllTable = _nll.Pointer, brierTable = _brier.Pointer;
        fixed (uint* keys = _replicaKeys)
        {
            for (int i = 0; i < n; i++)
            {
                int bin = Binning.Of(confidence[i], _bins, _rule, _edges);
                int at = (bin < 0 ? _slots : bin) * _stride;
                int tier = 0;
                while (tier < _sortedThresholds.Length && confidence[i] >= _sortedThresholds[tier]) tier++;
                int tierAt = tier * _stride;
                ulong rowKey = PoissonWeights.RowKey(_options.Seed, firstRow + i);
                bool ok = correct[i] != 0;
                double rowUnits = ConfidenceUnits.Of(confidence[i]);
                long* nllAt = null, brierAt = null;
                int nllMantissa = 0, brierMantissa = 0;
                if (nll is not null)
                {
                    int nllBits = BitConverter.SingleToInt32Bits(nll[i]), brierBits = BitConverter.SingleToInt32Bits(brier[i]);
                    nllAt = nllTable + (long)((uint)nllBits >> 23) * _stride;
                    brierAt = brierTable + (long)((uint)brierBits >> 23) * _stride;
                    nllMantissa = ExactSum.Mantissa(nllBits);
                    brierMantissa = ExactSum.Mantissa(brierBits);
                }
                switch (_width)
                {
                    case 512: ReplicaSums512.AddRow(rowKey, keys, _stride, count + at, right + at, ok, units + at, rowUnits, nllAt, nllMantissa, brierAt, brierMantissa, tierCount + tierAt, tierCorrect + tierAt); break;
                    case 256: ReplicaSums256.AddRow(rowKey, keys, _stride, count + at, right + at, ok, units + at, rowUnits, nllAt, nllMantissa, brierAt, brierMantissa, tierCount + tierAt, tierCorrect + tierAt); break;
                    case 128: ReplicaSums128.AddRow(rowKey, keys, _stride, count + at, right + at, ok, units + at, rowUnits, nllAt, nllMantissa, brierAt, brierMantissa, tierCount + tierAt, tierCorrect + tierAt); break;
                    default: AddRowScalar(rowKey, count + at, right + at, ok, units + at, rowUnits, nllAt, nllMantissa, brierAt, brierMantissa, tierCount + tierAt, tierCorrect + tierAt); break;
                }
            }
        }
    }

    /// <summary>The definition the vector forms follow, replica by replica.</summary>
    private void AddRowScalar(ulong rowKey, int* count, int* correct, bool ok, long* units, double rowUnits,
        long* nll, int nllMantissa, long* brier, int brierMantissa, int* tierCount, int* tierCorrect)
    {
        for (int r = 0; r < _stride; r++)
        {
            int w = PoissonWeights.Of(rowKey, _replicaKeys[r]);
            count[r] += w;
            tierCount[r] += w;
            if (ok)
            {
                correct[r] += w;
                tierCorrect[r] += w;
            }
            units[r] += w * (long)rowUnits;
            if (nll is null) continue;
            nll[r] += w * nllMantissa;
            brier[r] += w * brierMantissa;
        }
    }

    /// <summary>Adds the tables to <paramref name="into"/> and clears them.</summary>
    public void Flush(ReplicaTotals into)
    {
        Span<int> count = _count.Span, correct = _correct.Span;
        Span<long> units = _units.Span, nll = _nll.Span, brier = _brier.Span;
        for (int i = 0; i < count.Length; i++)
        {
            into.Count[i] += count[i];
            into.Correct[i] += correct[i];
            into.Units[i] += units[i];
            if (_pendingScored) into.ScoredWeight[i % _stride] += count[i];   // every pending row was scored
        }
        Span<int> tierCount = _tierCount.Span, tierCorrect = _tierCorrect.Span;
        for (int i = 0; i < tierCount.Length; i++)
        {
            into.TierCount[i] += tierCount[i];
            into.TierCorrect[i] += tierCorrect[i];
        }
        tierCount.Clear();
        tierCorrect.Clear();
        var buckets = new long[ExactSum.Buckets];
        for (int r = 0; r < _options.Replicas; r++)
        {
            for (int k = 0; k < ExactSum.Buckets; k++) buckets[k] = nll[k * _stride + r];
            into.NegLogLikelihood[r].Fold(buckets);
            for (int k = 0; k < ExactSum.Buckets; k++) buckets[k] = brier[k * _stride + r];
            into.Brier[r].Fold(buckets);
        }
        count.Clear();
        correct.Clear();
        units.Clear();
        nll.Clear();
        brier.Clear();
        _pending = 0;
    }
}
