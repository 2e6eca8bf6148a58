// Small row kernels whose generated source is pinned in Golden/*.g.cs.txt, so that every change of the emitter shows
// as a readable diff (see GoldenFileTests). One of each kind: a map, a two-pass reduction with a per-row output, a
// kernel with a total, and a fused traversal whose sums share an exponential.
using System;
using FastCalib.Kernels;

namespace Golden;

public static partial class GoldenKernels
{
    /// <summary>A map: y = x · k.</summary>
    [RowKernel]
    public static void Scale(ReadOnlyRow x, Row y, float k) => Rows.Map(y, x, v => v * k);

    /// <summary>Two passes (max, then a sum of exponentials) and a per-row output: log Σ exp(x).</summary>
    [RowKernel]
    public static void LogSumExp(ReadOnlyRow x, out float lse)
    {
        float max = Rows.Max(x, v => v);
        float sum = Rows.Sum(x, v => MathF.Exp(v - max));
        lse = max + MathF.Log(sum);
    }

    /// <summary>A total over all rows: Σ_rows Σ_j x_j².</summary>
    [RowKernel]
    public static void SquaredNorm(ReadOnlyRow x, ref double total)
    {
        float squares = Rows.Sum(x, v => v * v);
        total += squares;
    }

    /// <summary>Σe and Σe·d over e = exp(d), d = x − max: one traversal after the max, one exponential per element.</summary>
    [RowKernel]
    public static void ShiftedMoment(ReadOnlyRow x, out float mean)
    {
        float max = Rows.Max(x, v => v);
        float sum = Rows.Sum(x, v => MathF.Exp(v - max));
        float first = Rows.Sum(x, v => MathF.Exp(v - max) * (v - max));
        mean = first / sum;
    }
}
