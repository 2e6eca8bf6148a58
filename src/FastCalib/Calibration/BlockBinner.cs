using System.Runtime.Intrinsics;

namespace FastCalib;

/// <summary>The sums of one block that <see cref="BlockSums256"/> and its twins add to (per-threshold arrays are the binner's).</summary>
internal struct BlockSums
{
    public long Units;
    public long Correct;
    public long[] AboveCount;
    public long[] AboveCorrect;
    /// <summary>The largest biased exponent among the block's finite NLL terms (0 if none).</summary>
    public int LargestNll;
    /// <summary>The same for the Brier terms.</summary>
    public int LargestBrier;
}

/// <summary>
/// Bins blocks of per-row results (confidence, correct as 0 or 1, and optionally NLL and Brier) into
/// <see cref="CalibrationTotals"/>: one binner per thread, its tables on the heap (so any bin count fits), reused
/// block after block. Validity, bin indices and the block sums are one vector pass at the chosen width; the histogram is
/// a scalar scatter into four interleaved copies of the table for small tables (so rows landing in the same bin do not
/// wait on each other); the NLL and Brier terms of a block are summed exactly as integers in a window of binades below
/// the block's largest term, the rare terms outside it gathered by exponent (<see cref="ExactSum"/>); both are flushed
/// into the totals every 2^22 rows and at the end.
/// </summary>
internal sealed unsafe class BlockBinner
{
    /// <summary>Rows per block: the per-row buffers of a block stay in L1.</summary>
    public const int Block = 1024;

    /// <summary>Rows between flushes, so that a slot's confidence units (at most 2^40 a row) stay below 2^63 and a score
    /// bucket's mantissas (below 2^24 a row) below 2^46.</summary>
    private const int FlushRows = 1 << 22;

    private readonly int _bins;
    private readonly BinningRule _rule;
    private readonly float[] _thresholds;
    private readonly int _width;
    private readonly int _slots;
    private readonly int _copies;
    private readonly int[] _slot = new int[Block];
    private readonly long[] _increment = new long[Block];
    private readonly long[] _rowUnits = new long[Block];
    /// <summary>Per slot and copy, two adjacent values: the count in the low 32 bits and the correct count above them (a
    /// flush comes before 2^32 rows), then the confidence units; so that a row is one 128-bit add. One more slot at the
    /// end takes rows in no bin and is never read.</summary>
    private readonly long[] _table;
    private readonly long[] _aboveCount;
    private readonly long[] _aboveCorrect;
    private readonly long[] _nll = new long[ExactSum.Buckets];
    private readonly long[] _brier = new long[ExactSum.Buckets];
    private readonly ReplicaBinner? _replicas;
    private readonly float[]? _edges;
    private int _pending;

    /// <param name="bins">Bins (see <see cref="CalibrationAccumulator"/>).</param>
    /// <param name="rule">The binning rule.</param>
    /// <param name="thresholds">The overconfidence-profile thresholds.</param>
    /// <param name="vectorWidth">128, 256 or 512.</param>
    /// <param name="bootstrap">Bootstrap replicas to keep as well, or null.</param>
    /// <param name="edges">Custom bin edges e_0..e_bins, or null for equal-width bins.</param>
    public BlockBinner(int bins, BinningRule rule, float[] thresholds, int vectorWidth, BootstrapOptions? bootstrap = null, float[]? edges = null)
    {
        _edges = edges;
        _replicas = bootstrap is null ? null : new ReplicaBinner(bins, rule, bootstrap, vectorWidth, edges, thresholds);
        _bins = bins;
        _rule = rule;
        _thresholds = thresholds;
        _width = vectorWidth;
        _slots = Binning.Slots(bins, rule);
        _copies = _slots <= 1024 ? 4 : 1;
        _table = new long[2 * (_copies * _slots + 1)];
        _aboveCount = new long[thresholds.Length];
        _aboveCorrect = new long[thresholds.Length];
    }

    /// <summary>
    /// Adds <paramref name="n"/> (at most <see cref="Block"/>) rows; <paramref name="nll"/> and <paramref name="brier"/>
    /// may be null (not scored). Returns the first invalid row (confidence NaN or outside [0, 1], NaN score), or -1;
    /// on an invalid row nothing of the block is added. The histogram and the score sums reach
    /// <paramref name="into"/> at <see cref="Flush"/>, the other counts at once.
    /// </summary>
    /// <remarks><paramref name="firstRow"/> is the index in the data set of the block's first row: it keys the rows' bootstrap weights.</remarks>
    public int Add(CalibrationTotals into, float* confidence, float* correct, float* nll, float* brier, int n, long firstRow = 0)
    {
        Array.Clear(_aboveCount);
        Array.Clear(_aboveCorrect);
        var sums = new BlockSums { AboveCount = _aboveCount, AboveCorrect = _aboveCorrect };
        int first = Terms(confidence, correct, nll, brier, n, ref sums);
        if (first >= 0) return first;
        if (_pending + n > FlushRows) Flush(into);
        _pending += n;

        if (nll is not null)
        {
            AddScores(nll, _nll, n, sums.LargestNll);
            AddScores(brier, _brier, n, sums.LargestBrier);
            into.Scored += n;
        }
        // the vector pass turned rows into slots and increments, so that the scatter is loads and adds only
        fixed (int* slot = _slot)
        fixed (long* increment = _increment, rowUnits = _rowUnits, table = _table)
        {
            for (int i = 0; i < n; i++)
            {
                long* entry = table + 2 * slot[i];
                (Vector128.Load(entry) + Vector128.Create(increment[i], rowUnits[i])).Store(entry);
            }
        }
        fixed (int* slot = _slot) _replicas?.Add(into.Replicas!, confidence, correct, nll, brier, n, firstRow, slot, _copies);
        into.Rows += n;
        into.RowsCorrect += sums.Correct;
        into.UnitsTotal += sums.Units;
        for (int t = 0; t < _thresholds.Length; t++)
        {
            into.AboveCount[t] += sums.AboveCount[t];
            into.AboveCorrect[t] += sums.AboveCorrect[t];
        }
        return -1;
    }

    /// <summary>
    /// Each row's slot in its copy of the histogram (the no-bin slot for none), count-and-correct increment and
    /// confidence units, and the block's sums; returns the first invalid row (confidence NaN or outside [0, 1], NaN
    /// score), or -1. The rows after the vector pass's last whole vector are checked before any is taken, so an
    /// invalid row leaves nothing of the block anywhere but in the binner's scratch.
    /// </summary>
    private int Terms(float* confidence, float* correct, float* nll, float* brier, int n, ref BlockSums sums)
    {
        fixed (int* slot = _slot)
        fixed (long* increment = _increment, units = _rowUnits)
        fixed (float* edges = _edges)
        {
            int noBin = _copies * _slots;
            // custom edges: the vector form counts edges, worth it up to 64 bins; past that every row takes the binary search
            bool binInVectors = _edges is null || _bins <= 64;
            int done = _width switch
            {
                512 => BlockSums512.Terms(confidence, correct, nll, brier, slot, increment, units, n, _bins, _rule, _slots, _copies, noBin, edges, binInVectors, _thresholds, ref sums),
                256 => BlockSums256.Terms(confidence, correct, nll, brier, slot, increment, units, n, _bins, _rule, _slots, _copies, noBin, edges, binInVectors, _thresholds, ref sums),
                _ => BlockSums128.Terms(confidence, correct, nll, brier, slot, increment, units, n, _bins, _rule, _slots, _copies, noBin, edges, binInVectors, _thresholds, ref sums),
            };
            for (int i = done; i < n; i++)
            {
                float c = confidence[i];
                if (!(c >= 0 && c <= 1) || (nll is not null && (float.IsNaN(nll[i]) || float.IsNaN(brier[i])))) return i;
            }
            for (int i = binInVectors ? done : 0; i < n; i++)
            {
                int bin = Binning.Of(confidence[i], _bins, _rule, _edges);
                slot[i] = bin < 0 ? noBin : (i & (_copies - 1)) * _slots + bin;
            }
            for (int i = done; i < n; i++)
            {
                float c = confidence[i];
                int ok = (int)correct[i];
                increment[i] = 1 + ((long)ok << 32);
                units[i] = (long)ConfidenceUnits.Of(c);
                sums.Units += units[i];
                sums.Correct += ok;
                for (int t = 0; t < _thresholds.Length; t++)
                {
                    int above = c >= _thresholds[t] ? 1 : 0;
                    sums.AboveCount[t] += above;
                    sums.AboveCorrect[t] += above & ok;
                }
                if (nll is not null)
                {
                    sums.LargestNll = Math.Max(sums.LargestNll, FiniteExponent(nll[i]));
                    sums.LargestBrier = Math.Max(sums.LargestBrier, FiniteExponent(brier[i]));
                }
            }
            return -1;
        }
    }

    /// <summary>The biased exponent of a finite term, 0 for an infinite one (gathered apart, so it sets no window).</summary>
    private static int FiniteExponent(float term)
    {
        int exponent = (BitConverter.SingleToInt32Bits(term) >> 23) & 0xFF;
        return exponent == 0xFF ? 0 : exponent;
    }

    /// <summary>
    /// Adds a block's NLL or Brier terms to <paramref name="buckets"/> exactly: the terms within
    /// <see cref="ExactSum.Window"/> binades of the block's largest (biased exponent <paramref name="largest"/>) summed
    /// as one integer (vector code), the others (infinities, terms far smaller than the block's largest) gathered one by
    /// one by exponent.
    /// </summary>
    private void AddScores(float* terms, long[] buckets, int n, int largest)
    {
        int windowBase = ExactSum.WindowBase(largest);
        fixed (long* b = buckets)
        {
            if (windowBase < 0)
            {
                for (int k = 0; k < n; k++) ExactSum.Gather(b, terms[k]);
                return;
            }
            long sum = 0;
            bool outside = false;
            int done = _width switch
            {
                512 => BlockSums512.WindowSum(terms, n, windowBase, ref sum, ref outside),
                256 => BlockSums256.WindowSum(terms, n, windowBase, ref sum, ref outside),
                _ => BlockSums128.WindowSum(terms, n, windowBase, ref sum, ref outside),
            };
            double scale = Math.ScaleB(1.0, 149 - windowBase);
            for (int k = done; k < n; k++)
            {
                if (ExactSum.InWindow(BitConverter.SingleToInt32Bits(terms[k]), windowBase)) sum += (long)(terms[k] * scale);
                else ExactSum.Gather(b, terms[k]);
            }
            if (outside)
                for (int k = 0; k < done; k++)
                    if (!ExactSum.InWindow(BitConverter.SingleToInt32Bits(terms[k]), windowBase)) ExactSum.Gather(b, terms[k]);
            ExactSum.GatherScaled(b, sum, windowBase);
        }
    }

    /// <summary>Adds the histogram gathered since the last flush to <paramref name="into"/> and clears it.</summary>
    public void Flush(CalibrationTotals into)
    {
        for (int k = 0; k < _copies; k++)
        {
            for (int b = 0; b < _slots; b++)
            {
                long both = _table[2 * (k * _slots + b)];
                into.Count[b] += both & 0xFFFFFFFF;
                into.Correct[b] += both >> 32;
                into.Units[b] += _table[2 * (k * _slots + b) + 1];
            }
        }
        Array.Clear(_table);   // the no-bin slot too
        into.NegLogLikelihood.Fold(_nll);
        into.Brier.Fold(_brier);
        _replicas?.Flush(into.Replicas!);
        _pending = 0;
    }
}
