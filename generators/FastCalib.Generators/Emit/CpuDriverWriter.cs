namespace FastCalib.Generators;

/// <summary>
/// The CPU entry points: <c>Cpu</c> (rows split into chunks over threads, each chunk on the scalar or SIMD path),
/// <c>Scalar</c> (the definition row by row with MathF) and <c>Simd</c> (picks the width and the within-row or
/// across-rows shape).
/// </summary>
internal static class CpuDriverWriter
{
    public static void EmitCpuEntry(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>Runs all rows on host memory (pointers to row-major [rows, cols] data), in chunks on up to <paramref name=\"maxThreads\"/> threads; returns the kernel's total (0 if it has none).</summary>");
        w.Line($"public static double Cpu(bool simd, int vectorWidth, int maxThreads, long rows, int cols, {k.CpuParams()})");
        w.Line($"    => {Names.CpuRows}.Run(rows, cols, maxThreads, __range => OnRows(__range, simd ? vectorWidth : 0, cols, {k.CpuArgs()}));");
        w.Line();
        w.Line("/// <summary>Rows [range.Start, range.End) on the SIMD path at <paramref name=\"vectorWidth\"/>, or on the scalar path where it is 0 (for callers that split the rows themselves).</summary>");
        w.Line($"public static double OnRows({Names.RowRange} __range, int vectorWidth, int cols, {k.CpuParams()})");
        w.Line($"    => vectorWidth == 0 ? Scalar(__range, cols, {k.CpuArgs()}) : Simd(__range, vectorWidth, cols, {k.CpuArgs()});");
        w.Line();
    }

    public static void EmitScalar(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>The scalar path over rows [range.Start, range.End).</summary>");
        w.Line(KernelContext.HotMethod);
        w.Open($"public static double Scalar({Names.RowRange} __range, int cols, {k.CpuParams()})");
        w.Line("double __total = 0;");
        w.Open("for (long __row = __range.Start; __row < __range.End; __row++)");
        w.Line("long __o = __row * cols;");
        k.EmitRowInputs();
        foreach (var p in k.RowParams) w.Line($"float* __r_{p.Name} = {p.Name} + {k.RowOffset(p)};");
        ScalarStageWriter.Emit(k, ScalarModel.Cpu((row, index) => $"__r_{row}[{index}]"));
        w.Close();
        w.Line("return __total;");
        w.Close().Line();
    }

    public static void EmitSimdDispatch(KernelContext k)
    {
        var w = k.W;
        w.Line("/// <summary>The SIMD path over rows [range.Start, range.End) at a vector width of 128, 256 or 512 bits.</summary>");
        w.Open($"public static double Simd({Names.RowRange} __range, int vectorWidth, int cols, {k.CpuParams()})");
        w.Line($"bool tile = cols <= {Names.SimdWidth}.TileMaxCols;");
        w.Open("return (vectorWidth, tile) switch");
        string args = $"__range, cols, {k.CpuArgs()}";
        w.Line($"(512, true) => Tile512({args}),");
        w.Line($"(512, false) => Row512({args}),");
        w.Line($"(256, true) => Tile256({args}),");
        w.Line($"(256, false) => Row256({args}),");
        w.Line($"(_, true) => Tile128({args}),");
        w.Line($"_ => Row128({args}),");
        w.Close(";");
        w.Close().Line();
    }
}
