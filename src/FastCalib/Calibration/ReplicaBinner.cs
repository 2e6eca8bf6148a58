namespace FastCalib;

/// <summary>
/// The bootstrap's half of a thread's binner: each row of a block added to every replica with its Poisson weight, into
/// tables flushed to <see cref="ReplicaTotals"/> before a slot's weighted units could overflow. With vectors
/// (<see cref="ReplicaSums256"/> at the chosen width) a block's rows are first grouped by bin slot, threshold tier and
/// correctness, so that a replica's sums over a group stay in registers and reach the tables once a group, and the
/// block's NLL and Brier terms are summed as integers of a window below its largest term (as the rows' own sums are);
/// without vectors rows go one at a time, replica by replica (the definition both follow).
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
    /// <summary>The block path's per-row buffers (see <see cref="ReplicaBlock"/>), in group order, and its groups.</summary>
    private readonly uint[] _keyLow = new uint[BlockBinner.Block + 1], _keyHigh = new uint[BlockBinner.Block + 1];
    private readonly double[] _rowUnits = new double[BlockBinner.Block];
    private readonly double[] _nllHigh = new double[BlockBinner.Block], _nllLow = new double[BlockBinner.Block];
    private readonly double[] _brierHigh = new double[BlockBinner.Block], _brierLow = new double[BlockBinner.Block];
    private readonly int[] _groupEnd = new int[BlockBinner.Block], _groupSlotAt = new int[BlockBinner.Block], _groupTierAt = new int[BlockBinner.Block];
    private readonly bool[] _groupCorrect = new bool[BlockBinner.Block];
    /// <summary>Each row's group key, (slot · tiers + tier) · 2 + correct; the rows in key order; the keys' counts
    /// for the counting sort (null past <see cref="MaxCountedKeys"/> keys, which sort by comparison instead).</summary>
    private readonly int[] _rowSlot = new int[BlockBinner.Block], _rowTier = new int[BlockBinner.Block];
    private readonly int[] _sortKey = new int[BlockBinner.Block], _sortedKey = new int[BlockBinner.Block], _order = new int[BlockBinner.Block];
    private readonly int[]? _keyCount;
    private const int MaxCountedKeys = 1 << 14;
    /// <summary>Rows of the block whose scores are outside its windows.</summary>
    private readonly int[] _apart = new int[BlockBinner.Block];
    /// <summary>Per replica, the block's weighted score parts (NLL high, NLL low, Brier high, Brier low).</summary>
    private readonly double[] _scoreSums;
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
        _scoreSums = new double[4 * _stride];
        long keys = (long)(_slots + 1) * (_sortedThresholds.Length + 1) * 2;
        _keyCount = keys <= MaxCountedKeys ? new int[keys + 1] : null;
    }

    public static int Stride(BootstrapOptions options) => (options.Replicas + Lanes - 1) / Lanes * Lanes;

    /// <summary>Adds <paramref name="n"/> (at most <see cref="BlockBinner.Block"/>) valid rows whose first has index
    /// <paramref name="firstRow"/> in the data set. <paramref name="binSlot"/>, when given, holds each row's bin as the
    /// block binner's histogram slot (row i's bin in copy i mod <paramref name="copies"/>, or past every copy for no bin).</summary>
    public void Add(ReplicaTotals into, float* confidence, float* correct, float* nll, float* brier, int n, long firstRow,
        int* binSlot = null, int copies = 1)
    {
        bool scoredBlock = nll is not null;
        if (_pending + n > FlushRows || _pending > 0 && scoredBlock != _pendingScored) Flush(into);
        _pending += n;
        _pendingScored = scoredBlock;
        if (_width is not (128 or 256 or 512))
        {
            AddOneByOne(confidence, correct, nll, brier, n, firstRow);
            return;
        }
        fixed (uint* keyLow = _keyLow, keyHigh = _keyHigh)
        fixed (double* units = _rowUnits, nllHigh = _nllHigh, nllLow = _nllLow, brierHigh = _brierHigh, brierLow = _brierLow, scoreSums = _scoreSums)
        fixed (int* groupEnd = _groupEnd, groupSlotAt = _groupSlotAt, groupTierAt = _groupTierAt)
        fixed (bool* groupCorrect = _groupCorrect)
        fixed (uint* replicaKeys = _replicaKeys)
        {
            var block = new ReplicaBlock
            {
                KeyLow = keyLow, KeyHigh = keyHigh, Units = units, NllHigh = nllHigh, NllLow = nllLow, BrierHigh = brierHigh, BrierLow = brierLow,
                GroupEnd = groupEnd, GroupSlotAt = groupSlotAt, GroupTierAt = groupTierAt, GroupCorrect = groupCorrect, Scored = scoredBlock,
            };
            var (nllBase, brierBase, apart) = Arrange(ref block, confidence, correct, nll, brier, n, firstRow, binSlot, copies);
            int* count = _count.Pointer, right = _correct.Pointer, tierCount = _tierCount.Pointer, tierCorrect = _tierCorrect.Pointer;
            long* unitsTable = _units.Pointer, nllTable = _nll.Pointer, brierTable = _brier.Pointer;
            switch (_width)
            {
                case 512: ReplicaSums512.AddBlock(&block, replicaKeys, _stride, count, right, unitsTable, tierCount, tierCorrect, scoreSums); break;
                case 256: ReplicaSums256.AddBlock(&block, replicaKeys, _stride, count, right, unitsTable, tierCount, tierCorrect, scoreSums); break;
                default: ReplicaSums128.AddBlock(&block, replicaKeys, _stride, count, right, unitsTable, tierCount, tierCorrect, scoreSums); break;
            }
            if (!scoredBlock) return;
            if (nllBase >= 0)
            {
                for (int r = 0; r < _stride; r++)
                {
                    ExactSum.GatherScaled(nllTable + r, (long)scoreSums[r], nllBase + ScorePartBits, _stride);
                    ExactSum.GatherScaled(nllTable + r, (long)scoreSums[_stride + r], nllBase, _stride);
                    ExactSum.GatherScaled(brierTable + r, (long)scoreSums[2 * _stride + r], brierBase + ScorePartBits, _stride);
                    ExactSum.GatherScaled(brierTable + r, (long)scoreSums[3 * _stride + r], brierBase, _stride);
                }
            }
            for (int k = 0; k < apart; k++)
            {
                int i = _apart[k];
                int nllBits = BitConverter.SingleToInt32Bits(nll[i]), brierBits = BitConverter.SingleToInt32Bits(brier[i]);
                ulong rowKey = PoissonWeights.RowKey(_options.Seed, firstRow + i);
                long* nllAt = nllTable + (long)((uint)nllBits >> 23) * _stride, brierAt = brierTable + (long)((uint)brierBits >> 23) * _stride;
                int nllMantissa = ExactSum.Mantissa(nllBits), brierMantissa = ExactSum.Mantissa(brierBits);
                switch (_width)
                {
                    case 512: ReplicaSums512.AddScores(rowKey, replicaKeys, _stride, nllAt, nllMantissa, brierAt, brierMantissa); break;
                    case 256: ReplicaSums256.AddScores(rowKey, replicaKeys, _stride, nllAt, nllMantissa, brierAt, brierMantissa); break;
                    default: ReplicaSums128.AddScores(rowKey, replicaKeys, _stride, nllAt, nllMantissa, brierAt, brierMantissa); break;
                }
            }
        }
    }

    /// <summary>Bits of a score's low part: an integer of a block's window (below 2^51) is high · 2^26 + low.</summary>
    private const int ScorePartBits = 26;

    /// <summary>
    /// Orders a block's rows into <paramref name="block"/>'s groups (by bin slot, tier and correctness: a counting sort
    /// while the keys are few) and fills its per-row values. Returns the window bases of the block's NLL and Brier terms
    /// (−1 when not scored or when the window's high part would pass the finite exponents) and how many rows
    /// <see cref="_apart"/> lists, whose terms are added one row at a time.
    /// </summary>
    private (int NllBase, int BrierBase, int Apart) Arrange(ref ReplicaBlock block, float* confidence, float* correct, float* nll, float* brier, int n, long firstRow,
        int* binSlot, int copies)
    {
        int tiers = _sortedThresholds.Length + 1;
        for (int i = 0; i < n; i++)
        {
            float c = confidence[i];
            int slot;
            if (binSlot is null)
            {
                int bin = Binning.Of(c, _bins, _rule, _edges);
                slot = bin < 0 ? _slots : bin;
            }
            else slot = Math.Min(binSlot[i] - (i & (copies - 1)) * _slots, _slots);   // the no-bin slot lies past every copy
            int tier = 0;
            foreach (float t in _sortedThresholds) tier += c >= t ? 1 : 0;
            _rowSlot[i] = slot;
            _rowTier[i] = tier;
            _sortKey[i] = (slot * tiers + tier) * 2 + (correct[i] != 0 ? 1 : 0);
        }
        if (_keyCount is not null)
        {
            Array.Clear(_keyCount);
            for (int i = 0; i < n; i++) _keyCount[_sortKey[i] + 1]++;
            for (int k = 1; k < _keyCount.Length; k++) _keyCount[k] += _keyCount[k - 1];
            for (int i = 0; i < n; i++) _order[_keyCount[_sortKey[i]]++] = i;
        }
        else
        {
            for (int i = 0; i < n; i++) _order[i] = i;
            _sortKey.AsSpan(0, n).CopyTo(_sortedKey);
            Array.Sort(_sortedKey, _order, 0, n);
        }

        int nllBase = -1, brierBase = -1;
        if (nll is not null)
        {
            nllBase = ScoreWindowBase(nll, n);
            brierBase = ScoreWindowBase(brier, n);
            if (nllBase < 0 || brierBase < 0) nllBase = brierBase = -1;
        }
        double nllScale = nllBase < 0 ? 0 : Math.ScaleB(1.0, 149 - nllBase), brierScale = brierBase < 0 ? 0 : Math.ScaleB(1.0, 149 - brierBase);
        const double part = 1 << ScorePartBits, perPart = 1.0 / part;
        int groups = 0, groupStart = 0, apart = 0;
        for (int j = 0; j < n; j++)
        {
            int i = _order[j];
            int key = _sortKey[i];
            if (j > 0 && (key != _sortKey[_order[j - 1]] || j - groupStart == ReplicaBlock.MaxGroupRows))
            {
                CloseGroup(ref block, groups++, j, _order[j - 1], correct);
                groupStart = j;
            }
            ulong rowKey = PoissonWeights.RowKey(_options.Seed, firstRow + i);
            block.KeyLow[j] = (uint)rowKey;
            block.KeyHigh[j] = (uint)(rowKey >> 32);
            block.Units[j] = ConfidenceUnits.Of(confidence[i]);
            if (nll is null) continue;
            if (nllBase >= 0 && ExactSum.InWindow(BitConverter.SingleToInt32Bits(nll[i]), nllBase) && ExactSum.InWindow(BitConverter.SingleToInt32Bits(brier[i]), brierBase))
            {
                // t · 2^(149 − base) is an integer below 2^51 (exact in float64), split into parts whose weighted sums stay exact
                double x = nll[i] * nllScale, high = Math.Floor(x * perPart);
                block.NllHigh[j] = high;
                block.NllLow[j] = x - high * part;
                x = brier[i] * brierScale;
                high = Math.Floor(x * perPart);
                block.BrierHigh[j] = high;
                block.BrierLow[j] = x - high * part;
            }
            else
            {
                block.NllHigh[j] = block.NllLow[j] = block.BrierHigh[j] = block.BrierLow[j] = 0;
                _apart[apart++] = i;
            }
        }
        if (n > 0) CloseGroup(ref block, groups++, n, _order[n - 1], correct);
        block.Groups = groups;
        return (nllBase, brierBase, apart);
    }

    /// <summary>Ends a group at <paramref name="end"/>, its rows sharing what <paramref name="row"/> (one of them) has.</summary>
    private void CloseGroup(ref ReplicaBlock block, int group, int end, int row, float* correct)
    {
        block.GroupEnd[group] = end;
        block.GroupSlotAt[group] = _rowSlot[row] * _stride;
        block.GroupTierAt[group] = _rowTier[row] * _stride;
        block.GroupCorrect[group] = correct[row] != 0;
    }

    /// <summary>The window base of a block's terms (<see cref="ExactSum.WindowBase"/>), or −1 where the high part's
    /// pieces (<see cref="ScorePartBits"/> above the base) would pass the finite exponents.</summary>
    private static int ScoreWindowBase(float* terms, int n)
    {
        int largest = 0;
        for (int i = 0; i < n; i++)
        {
            int exponent = (BitConverter.SingleToInt32Bits(terms[i]) >> 23) & 0xFF;
            if (exponent != 0xFF) largest = Math.Max(largest, exponent);
        }
        int windowBase = ExactSum.WindowBase(largest);
        return windowBase >= 0 && windowBase + ScorePartBits + 48 + 1 < 0xFF ? windowBase : -1;
    }

    /// <summary>Rows one at a time, replica by replica: the definition the block path follows (and the path without vectors).</summary>
    private void AddOneByOne(float* confidence, float* correct, float* nll, float* brier, int n, long firstRow)
    {
        int* count = _count.Pointer, right = _correct.Pointer, tierCount = _tierCount.Pointer, tierCorrect = _tierCorrect.Pointer;
        long* units = _units.Pointer, nllTable = _nll.Pointer, brierTable = _brier.Pointer;
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
            AddRowScalar(rowKey, count + at, right + at, ok, units + at, rowUnits, nllAt, nllMantissa, brierAt, brierMantissa, tierCount + tierAt, tierCorrect + tierAt);
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
