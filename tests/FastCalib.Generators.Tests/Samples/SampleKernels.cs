// Sample row kernels compiled by the generator tests (not part of the test assembly itself). Together they use
// every construct the generator accepts, and Run* helpers give the tests array-based entry points.
using System;
using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace Samples;

public static unsafe partial class SampleKernels
{
    [RowKernel]
    public static void Mixed(ReadOnlyRow a, ReadOnlyRow b, ReadOnlyRow c, Row y, float k, out float low, out int arg, ref double total)
    {
        float smallest = Rows.Min(a, v => MathF.Abs(v));
        float largest = Rows.Max(c, v => v * k);
        float s3 = Rows.Sum(a, b, c, (x, u, w) => x * u + w);
        int im = Rows.ArgMax(b, v => -v);
        float atB = Rows.At(b, im);
        float m2 = Rows.MapSum(y, a, b, (x, u) => x > 0 && u > 0 ? MathF.Sqrt(x * u) : MathF.Max(x, u) * k);
        Rows.Map(y, y, c, (v, w) => !(w < 0) || v == 0 ? v + smallest : MathF.Log(MathF.Abs(w) + 1f) - MathF.Min(v, -v));
        float s1 = Rows.Sum(y, v => v >= 1 ? 1 : (v <= -1 ? -1 : v != v ? 0 : v));
        low = smallest + atB - largest / 8;
        arg = im;
        total += s3 * 0.5f + m2 + s1 - MathF.Exp(-MathF.Abs(atB));
    }

    /// <summary>Every comparison and logical operator, as a bit code per element.</summary>
    [RowKernel]
    public static void Comparisons(ReadOnlyRow a, ReadOnlyRow b, Row y)
    {
        Rows.Map(y, a, b, (x, u) => (x < u ? 1 : 0) + (x <= u ? 2 : 0) + (x > u ? 4 : 0) + (x >= u ? 8 : 0)
            + (x == u ? 16 : 0) + (x != u ? 32 : 0) + ((!(x < 0) && u > 0) || x == 0 ? 64 : 0) + -(x - u) * 1000);
    }

    public static void RunComparisons(int width, float[] a, float[] b, float[] y, int rows, int cols)
    {
        if (width < 0)
        {
            for (int r = 0; r < rows; r++)
                Comparisons(new ReadOnlyRow(a.AsSpan(r * cols, cols)), new ReadOnlyRow(b.AsSpan(r * cols, cols)), new Row(y.AsSpan(r * cols, cols)));
            return;
        }
        fixed (float* pa = a, pb = b, py = y)
            ComparisonsKernel.Cpu(width != 0, width, 1, rows, cols, pa, pb, py);
    }

    public static void RunComparisonsGpu(Accelerator accelerator, float[] a, float[] b, float[] y, int rows, int cols)
    {
        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dy = accelerator.Allocate1D<float>(y.Length);
        ComparisonsKernel.Gpu(accelerator.DefaultStream, da.View, db.View, dy.View, rows, cols);
        accelerator.Synchronize();
        dy.View.CopyToCPU(y);
    }

    /// <summary>Per-row inputs (a label and a weight) and int comparisons.</summary>
    [RowKernel]
    public static void Labelled(ReadOnlyRow p, in int label, in float weight, out float atLabel, out float hit, out int echo, ref double total)
    {
        int arg = Rows.ArgMax(p, v => v);
        float pl = Rows.At(p, label);
        float w = weight;
        atLabel = pl;
        hit = arg == label ? w : -w;
        echo = label;
        total += arg != label ? pl * w : 0;
    }

    public static double RunLabelled(int width, Accelerator? accelerator, float[] p, int[] label, float[] weight, float[] atLabel, float[] hit, int[] echo, int rows, int cols)
    {
        if (width < 0)
        {
            double total = 0;
            for (int r = 0; r < rows; r++)
                Labelled(new ReadOnlyRow(p.AsSpan(r * cols, cols)), label[r], weight[r], out atLabel[r], out hit[r], out echo[r], ref total);
            return total;
        }
        if (accelerator is null)
        {
            fixed (float* pp = p, pw = weight, pa = atLabel, ph = hit)
            fixed (int* pl = label, pe = echo)
                return LabelledKernel.Cpu(width != 0, width, 1, rows, cols, pp, pl, pw, pa, ph, pe);
        }
        using var dp = accelerator.Allocate1D(p);
        using var dl = accelerator.Allocate1D(label);
        using var dw = accelerator.Allocate1D(weight);
        using var da = accelerator.Allocate1D<float>(rows);
        using var dh = accelerator.Allocate1D<float>(rows);
        using var de = accelerator.Allocate1D<int>(rows);
        using var dt = accelerator.Allocate1D<double>(1);
        dt.MemSetToZero();
        LabelledKernel.Gpu(accelerator.DefaultStream, dp.View, dl.View, dw.View, da.View, dh.View, de.View, dt.View, rows, cols);
        accelerator.Synchronize();
        da.View.CopyToCPU(atLabel);
        dh.View.CopyToCPU(hit);
        de.View.CopyToCPU(echo);
        return dt.GetAsArray1D()[0];
    }

    /// <summary>
    /// The value at the first maximum and at the label (the tile paths take them from the traversal), and at the first
    /// minimum (a gather on the tile paths).
    /// </summary>
    [RowKernel]
    public static void Picks(ReadOnlyRow p, in int label, out float top, out float atLabel, out float least, out int arg)
    {
        int first = Rows.ArgMax(p, v => v);
        float best = Rows.At(p, first);
        float picked = Rows.At(p, label);
        int low = Rows.ArgMax(p, v => -v);
        float smallest = Rows.At(p, low);
        top = best;
        atLabel = picked;
        least = smallest;
        arg = first;
    }

    public static void RunPicks(int width, Accelerator? accelerator, float[] p, int[] label, float[] top, float[] atLabel, float[] least, int[] arg, int rows, int cols)
    {
        if (width < 0)
        {
            for (int r = 0; r < rows; r++)
                Picks(new ReadOnlyRow(p.AsSpan(r * cols, cols)), label[r], out top[r], out atLabel[r], out least[r], out arg[r]);
            return;
        }
        if (accelerator is null)
        {
            fixed (float* pp = p, pt = top, pa = atLabel, pl = least)
            fixed (int* py = label, pg = arg)
                PicksKernel.Cpu(width != 0, width, 1, rows, cols, pp, py, pt, pa, pl, pg);
            return;
        }
        using var dp = accelerator.Allocate1D(p);
        using var dy = accelerator.Allocate1D(label);
        using var dt = accelerator.Allocate1D<float>(rows);
        using var da = accelerator.Allocate1D<float>(rows);
        using var dl = accelerator.Allocate1D<float>(rows);
        using var dg = accelerator.Allocate1D<int>(rows);
        PicksKernel.Gpu(accelerator.DefaultStream, dp.View, dy.View, dt.View, da.View, dl.View, dg.View, rows, cols);
        accelerator.Synchronize();
        dt.View.CopyToCPU(top);
        da.View.CopyToCPU(atLabel);
        dl.View.CopyToCPU(least);
        dg.View.CopyToCPU(arg);
    }

    /// <summary>Maxima and minima of a row and of a function of it, beside a sum (one traversal), for their NaN and signed-zero rules.</summary>
    [RowKernel]
    public static void Extremes(ReadOnlyRow p, out float high, out float low, out float highOfNegated, out float total)
    {
        float a = Rows.Max(p, v => v);
        float b = Rows.Min(p, v => v);
        float c = Rows.Max(p, v => -v * 0.5f);
        float d = Rows.Sum(p, v => v * 0f);
        high = a;
        low = b;
        highOfNegated = c;
        total = d;
    }

    public static void RunExtremes(int width, Accelerator? accelerator, float[] p, float[] high, float[] low, float[] negated, float[] total, int rows, int cols)
    {
        if (width < 0)
        {
            for (int r = 0; r < rows; r++)
                Extremes(new ReadOnlyRow(p.AsSpan(r * cols, cols)), out high[r], out low[r], out negated[r], out total[r]);
            return;
        }
        if (accelerator is null)
        {
            fixed (float* pp = p, ph = high, pl = low, pn = negated, pt = total)
                ExtremesKernel.Cpu(width != 0, width, 1, rows, cols, pp, ph, pl, pn, pt);
            return;
        }
        using var dp = accelerator.Allocate1D(p);
        using var dh = accelerator.Allocate1D<float>(rows);
        using var dl = accelerator.Allocate1D<float>(rows);
        using var dn = accelerator.Allocate1D<float>(rows);
        using var dt = accelerator.Allocate1D<float>(rows);
        ExtremesKernel.Gpu(accelerator.DefaultStream, dp.View, dh.View, dl.View, dn.View, dt.View, rows, cols);
        accelerator.Synchronize();
        dh.View.CopyToCPU(high);
        dl.View.CopyToCPU(low);
        dn.View.CopyToCPU(negated);
        dt.View.CopyToCPU(total);
    }

    /// <summary>A gathered input row: row r of <c>b</c> is row index[r] of its matrix.</summary>
    [RowKernel]
    public static void Gathered(ReadOnlyRow a, [RowFrom("index")] ReadOnlyRow b, in int index, Row y, out float dot)
    {
        float d = Rows.Sum(a, b, (u, v) => u * v);
        Rows.Map(y, a, b, (u, v) => u - v * d);
        dot = d;
    }

    public static void RunGathered(int width, Accelerator? accelerator, float[] a, int[] index, float[] y, float[] dot, int rows, int cols)
    {
        if (width < 0)
        {
            for (int r = 0; r < rows; r++)
                Gathered(new ReadOnlyRow(a.AsSpan(r * cols, cols)), new ReadOnlyRow(a.AsSpan(index[r] * cols, cols)), index[r], new Row(y.AsSpan(r * cols, cols)), out dot[r]);
            return;
        }
        if (accelerator is null)
        {
            fixed (float* pa = a, py = y, pd = dot)
            fixed (int* pi = index)
                GatheredKernel.Cpu(width != 0, width, 1, rows, cols, pa, pa, pi, py, pd);
            return;
        }
        using var da = accelerator.Allocate1D(a);
        using var di = accelerator.Allocate1D(index);
        using var dy = accelerator.Allocate1D<float>(y.Length);
        using var dd = accelerator.Allocate1D<float>(rows);
        GatheredKernel.Gpu(accelerator.DefaultStream, da.View, da.View, di.View, dy.View, dd.View, rows, cols);
        accelerator.Synchronize();
        dy.View.CopyToCPU(y);
        dd.View.CopyToCPU(dot);
    }

    /// <summary>
    /// Three sums sharing one exponential (fused into one traversal with common subexpressions), a map that reads
    /// the row the same traversal's MapSum writes, and statements between patterns that move after the traversal.
    /// </summary>
    [RowKernel]
    public static void Moments(ReadOnlyRow z, Row e, in int label, float beta, out float mean, out float spread, out float picked)
    {
        float max = Rows.Max(z, v => v);
        float top = Rows.At(z, label);
        float sum = Rows.MapSum(e, z, v => MathF.Exp((v - max) * beta));
        float first = Rows.Sum(z, v => (v - max) * beta > -30 ? MathF.Exp((v - max) * beta) * (v - max) : 0);
        float second = Rows.Sum(e, z, (x, v) => x * (v - max) * (v - max));
        float m = first / sum;
        Rows.Map(e, e, x => x / sum);
        mean = m;
        spread = second / sum - m * m;
        picked = top - max;
    }

    public static void RunMomentsDefinition(float[] z, float[] e, int[] label, float beta, float[] mean, float[] spread, float[] picked, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
            Moments(new ReadOnlyRow(z.AsSpan(r * cols, cols)), new Row(e.AsSpan(r * cols, cols)), label[r], beta, out mean[r], out spread[r], out picked[r]);
    }

    public static void RunMoments(FastCalib.ComputeOptions options, float[] z, float[] e, int[] label, float beta, float[] mean, float[] spread, float[] picked, int rows, int cols) =>
        MomentsKernel.Host(options, "Moments", rows, cols, z, e, label, beta, mean, spread, picked);

    /// <summary>Runs the definition itself, row by row, through the Rows implementations.</summary>
    public static double RunDefinition(float[] a, float[] b, float[] c, float[] y, float k, float[] low, int[] arg, int rows, int cols)
    {
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            Mixed(new ReadOnlyRow(a.AsSpan(r * cols, cols)), new ReadOnlyRow(b.AsSpan(r * cols, cols)), new ReadOnlyRow(c.AsSpan(r * cols, cols)),
                new Row(y.AsSpan(r * cols, cols)), k, out low[r], out arg[r], ref total);
        }
        return total;
    }

    /// <summary>Runs a generated CPU path: width 0 is the scalar path, 128/256/512 the SIMD path.</summary>
    public static double RunCpu(int width, float[] a, float[] b, float[] c, float[] y, float k, float[] low, int[] arg, int rows, int cols)
    {
        fixed (float* pa = a, pb = b, pc = c, py = y, pl = low)
        fixed (int* pi = arg)
            return MixedKernel.Cpu(width != 0, width, 1, rows, cols, pa, pb, pc, py, k, pl, pi);
    }

    /// <summary>Runs the generated ILGPU path on an accelerator.</summary>
    public static double RunGpu(Accelerator accelerator, float[] a, float[] b, float[] c, float[] y, float k, float[] low, int[] arg, int rows, int cols)
    {
        using var da = accelerator.Allocate1D(a);
        using var db = accelerator.Allocate1D(b);
        using var dc = accelerator.Allocate1D(c);
        using var dy = accelerator.Allocate1D<float>(y.Length);
        using var dl = accelerator.Allocate1D<float>(rows);
        using var di = accelerator.Allocate1D<int>(rows);
        using var dt = accelerator.Allocate1D<double>(1);
        dt.MemSetToZero();
        MixedKernel.Gpu(accelerator.DefaultStream, da.View, db.View, dc.View, dy.View, k, dl.View, di.View, dt.View, rows, cols);
        accelerator.Synchronize();
        dy.View.CopyToCPU(y);
        dl.View.CopyToCPU(low);
        di.View.CopyToCPU(arg);
        return dt.GetAsArray1D()[0];
    }
}
