namespace FastCalib;

// The CPU path of the accumulator: a per-row kernel writes blocks of per-row results into stack buffers, which a
// binner of the thread bins right away (16 bytes a row never leave L1).
public sealed unsafe partial class CalibrationAccumulator
{
    /// <summary>Per-row results for a run of rows: base pointers indexed by absolute row.</summary>
    private readonly struct RowOutputs(float* confidence, float* correct, float* negLogLikelihood, float* brier)
    {
        public float* Confidence { get; } = confidence;
        public float* Correct { get; } = correct;
        public float* NegLogLikelihood { get; } = negLogLikelihood;
        public float* Brier { get; } = brier;
    }

    /// <summary>The rows of one call, per thread: a binner and the integer totals it fills.</summary>
    private sealed class ThreadPart(CalibrationTotals totals, BlockBinner binner)
    {
        public CalibrationTotals Totals { get; } = totals;
        public BlockBinner Binner { get; } = binner;
    }

    /// <summary>
    /// Runs <paramref name="perRow"/> (the kernel for a range of rows, at a vector width, 0 for the scalar path) over
    /// all rows and bins its results. Each thread bins into its own totals (exact integers, merged in any order, so the
    /// result does not depend on the thread count). Nothing is added if a row is invalid.
    /// </summary>
    private void AddOnCpu(string op, long rows, int classes, ComputeOptions options, RowRule rule, Action<RowRange, int, RowOutputs> perRow)
    {
        var (simd, width, threads) = CpuRows.Resolve(options);
        int kernelWidth = simd ? width : 0;
        int binningWidth = simd ? width : SimdWidth.Best;
        var failures = new long[CpuRows.Chunks(rows, classes)];
        var merged = NewTotals();
        long firstRow = NextRow;
        CpuRows.ForEachChunk(rows, classes, threads,
            () => new ThreadPart(NewTotals(), new BlockBinner(Bins, Rule, _thresholds, binningWidth, Bootstrap, _edges)),
            (c, range, part) => failures[c] = BinChunk(range, part, kernelWidth, perRow, firstRow),
            part =>
            {
                part.Binner.Flush(part.Totals);
                lock (merged) merged.Add(part.Totals);
            });
        foreach (long row in failures)
            if (row >= 0) throw InvalidRow(op, row, rule);
        _totals.Add(merged);
        NextRow += rows;
    }

    /// <summary>Computes and bins the rows of one chunk block by block; returns the first invalid row, or -1.</summary>
    private static long BinChunk(RowRange range, ThreadPart part, int width, Action<RowRange, int, RowOutputs> perRow, long firstRow)
    {
        const int Block = BlockBinner.Block;
        float* confidence = stackalloc float[Block];
        float* correct = stackalloc float[Block];
        float* nll = stackalloc float[Block];
        float* brier = stackalloc float[Block];
        for (long start = range.Start; start < range.End; start += Block)
        {
            long end = Math.Min(range.End, start + Block);
            // the kernels index outputs by absolute row: hand them bases that put this block's rows in the buffers
            perRow(new RowRange(start, end), width, new RowOutputs(confidence - start, correct - start, nll - start, brier - start));
            int bad = part.Binner.Add(part.Totals, confidence, correct, nll, brier, (int)(end - start), firstRow + start);
            if (bad >= 0) return start + bad;
        }
        return -1;
    }

    /// <summary>Bins per-row results held in host arrays (results of a device kernel), on all cores.</summary>
    private void AddResults(string op, int classes, RowRule rule, float[] confidence, float[] correct, float[] nll, float[] brier)
    {
        fixed (float* c = confidence, ok = correct, l = nll, b = brier)
        {
            float* cc = c, oo = ok, ll = l, bb = b;
            AddOnCpu(op, confidence.Length, classes, default, rule, (range, _, o) =>
            {
                for (long r = range.Start; r < range.End; r++)
                {
                    o.Confidence[r] = cc[r];
                    o.Correct[r] = oo[r];
                    o.NegLogLikelihood[r] = ll[r];
                    o.Brier[r] = bb[r];
                }
            });
        }
    }
}
