using System.Reflection;
using ILGPU;
using ILGPU.Runtime.CPU;

namespace FastCalib.Generators.Tests;

/// <summary>
/// Compiles a sample kernel that uses every accepted construct and checks that each generated path (scalar, SIMD
/// at each width, within-row and across-rows, ILGPU) computes what the definition itself computes when run as
/// ordinary C#.
/// </summary>
public class GeneratedCodeTests
{
    private static readonly Lazy<Type> Samples = new(() =>
        GeneratorHarness.Build(GeneratorHarness.Sample("SampleKernels.cs")).GetType("Samples.SampleKernels")!);

    public static IEnumerable<object[]> Shapes() =>
        new[] { (1, 1), (3, 5), (17, 16), (33, 31), (2, 33), (5, 64), (4, 100), (2, 257) }.Select(s => new object[] { s.Item1, s.Item2 });

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Every_generated_path_computes_what_the_definition_computes(int rows, int cols)
    {
        var random = new Random(rows * 1000 + cols);
        float[] Values() => Enumerable.Range(0, rows * cols).Select(_ => (float)Math.Round(random.NextDouble() * 6 - 3, 2)).ToArray();
        var a = Values();
        var b = Values();
        var c = Values();
        const float k = 0.75f;

        var expected = Run("RunDefinition", null, a, b, c, k, rows, cols);
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        foreach (var (name, method, extra) in new (string, string, object?)[]
                 {
                     ("scalar", "RunCpu", 0), ("simd128", "RunCpu", 128), ("simd256", "RunCpu", 256), ("simd512", "RunCpu", 512),
                     ("ilgpu-cpu", "RunGpu", accelerator),
                 })
        {
            var actual = Run(method, extra, a, b, c, k, rows, cols);
            for (int i = 0; i < expected.Y.Length; i++)
                Assert.True(Close(actual.Y[i], expected.Y[i]), $"{name} [{rows}x{cols}] y[{i}]: {actual.Y[i]} vs {expected.Y[i]}");
            for (int r = 0; r < rows; r++)
            {
                Assert.True(Close(actual.Low[r], expected.Low[r]), $"{name} low[{r}]: {actual.Low[r]} vs {expected.Low[r]}");
                Assert.Equal(expected.Arg[r], actual.Arg[r]);
            }
            Assert.True(Math.Abs(actual.Total - expected.Total) <= 1e-4 * (1 + Math.Abs(expected.Total)), $"{name} total {actual.Total} vs {expected.Total}");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Comparisons_agree_exactly_on_every_path(int rows, int cols)
    {
        var random = new Random(cols);
        float[] Values() => Enumerable.Range(0, rows * cols).Select(_ => random.Next(-2, 3) * 0.5f).ToArray();   // many equal pairs
        var a = Values();
        var b = Values();
        var expected = new float[a.Length];
        var method = Samples.Value.GetMethod("RunComparisons")!;
        method.Invoke(null, new object[] { -1, a, b, expected, rows, cols });
        foreach (int width in new[] { 0, 128, 256, 512 })
        {
            var y = new float[a.Length];
            method.Invoke(null, new object[] { width, a, b, y, rows, cols });
            Assert.Equal(expected, y);
        }
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        var gpu = new float[a.Length];
        Samples.Value.GetMethod("RunComparisonsGpu")!.Invoke(null, new object[] { accelerator, a, b, gpu, rows, cols });
        Assert.Equal(expected, gpu);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Per_row_inputs_and_int_comparisons_agree_on_every_path(int rows, int cols)
    {
        var random = new Random(rows + 7 * cols);
        var p = Enumerable.Range(0, rows * cols).Select(_ => random.Next(0, 4) * 0.25f).ToArray();   // ties included
        var label = Enumerable.Range(0, rows).Select(_ => random.Next(cols)).ToArray();
        var weight = Enumerable.Range(0, rows).Select(_ => (float)random.NextDouble() + 0.5f).ToArray();
        var method = Samples.Value.GetMethod("RunLabelled")!;
        (float[], float[], int[], double) Run(int width, object? accelerator)
        {
            var a = new float[rows];
            var h = new float[rows];
            var e = new int[rows];
            double t = (double)method.Invoke(null, new[] { width, accelerator, p, label, weight, a, h, e, rows, cols })!;
            return (a, h, e, t);
        }
        var expected = Run(-1, null);
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        foreach (var (width, acc) in new (int, object?)[] { (0, null), (128, null), (256, null), (512, null), (0, accelerator) })
        {
            var actual = Run(width, acc);
            Assert.Equal(expected.Item1, actual.Item1);
            Assert.Equal(expected.Item2, actual.Item2);
            Assert.Equal(expected.Item3, actual.Item3);
            Assert.Equal(expected.Item4, actual.Item4, 1e-9);
        }
    }

    /// <summary>
    /// The values at the first maximum, the label and the first minimum, bit for bit as the definition reads them:
    /// rows with ties, signed zeros, infinities and NaN (the first NaN is the maximum), every label position.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Picked_values_are_the_definitions_bit_for_bit_on_every_path(int rows, int cols)
    {
        var random = new Random(rows * 5 + cols);
        float[] pool = [0f, -0f, 0.5f, -0.5f, 1f, float.NegativeInfinity, float.PositiveInfinity, float.NaN, -float.NaN];
        var p = Enumerable.Range(0, rows * cols).Select(i => random.Next(4) == 0 ? pool[random.Next(pool.Length)] : random.Next(-2, 3) * 0.25f).ToArray();
        for (int j = 0; j < cols && rows > 1; j++) p[cols + j] = float.NegativeInfinity;   // a row of -inf only: the first column
        var label = Enumerable.Range(0, rows).Select(r => r % 2 == 0 ? random.Next(cols) : cols - 1).ToArray();
        var method = Samples.Value.GetMethod("RunPicks")!;
        (float[] Top, float[] AtLabel, float[] Least, int[] Arg) Run(int width, object? accelerator)
        {
            var result = (new float[rows], new float[rows], new float[rows], new int[rows]);
            Array.Fill(result.Item1, 123f);
            Array.Fill(result.Item2, 123f);
            method.Invoke(null, new[] { width, accelerator, p, label, result.Item1, result.Item2, result.Item3, result.Item4, rows, cols });
            return result;
        }
        var expected = Run(-1, null);
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        int[] Bits(float[] v) => v.Select(BitConverter.SingleToInt32Bits).ToArray();
        foreach (var (width, acc) in new (int, object?)[] { (0, null), (128, null), (256, null), (512, null), (0, accelerator) })
        {
            var actual = Run(width, acc);
            Assert.Equal(expected.Arg, actual.Arg);
            Assert.Equal(Bits(expected.Top), Bits(actual.Top));
            Assert.Equal(Bits(expected.AtLabel), Bits(actual.AtLabel));
            Assert.Equal(Bits(expected.Least), Bits(actual.Least));
        }
    }

    /// <summary>
    /// Max and Min bit for bit as the definition (MathF.Max/Min) gives them, NaN as NaN: rows drawn from both zeros,
    /// infinities, NaN and ties, rows of zeros of one sign or mixed, of -inf only, and a NaN at the row's last column.
    /// </summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Maxima_and_minima_keep_signed_zeros_and_nan_on_every_path(int rows, int cols)
    {
        var random = new Random(rows * 11 + cols);
        float[] pool = [0f, -0f, 0.5f, -0.5f, float.NegativeInfinity, float.PositiveInfinity, float.NaN, -0f, 0f];
        var p = Enumerable.Range(0, rows * cols).Select(_ => random.Next(3) == 0 ? pool[random.Next(pool.Length)] : random.Next(-2, 3) * 0.25f).ToArray();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                p[r * cols + j] = (r % 6) switch
                {
                    1 => -0f,
                    2 => j % 3 == 1 ? 0f : -0f,
                    3 => float.NegativeInfinity,
                    4 => j == cols - 1 ? float.NaN : p[r * cols + j],
                    5 => j % 2 == 0 ? 0f : -0.25f,
                    _ => p[r * cols + j],
                };
        var method = Samples.Value.GetMethod("RunExtremes")!;
        float[][] Run(int width, object? accelerator)
        {
            var result = new[] { new float[rows], new float[rows], new float[rows], new float[rows] };
            foreach (var a in result) Array.Fill(a, 123f);
            method.Invoke(null, new[] { width, accelerator, p, result[0], result[1], result[2], result[3], rows, cols });
            return result;
        }
        var expected = Run(-1, null);
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        int Bits(float v) => float.IsNaN(v) ? -1 : BitConverter.SingleToInt32Bits(v);
        foreach (var (width, acc) in new (int, object?)[] { (0, null), (128, null), (256, null), (512, null), (0, accelerator) })
        {
            var actual = Run(width, acc);
            for (int o = 0; o < 3; o++)
                for (int r = 0; r < rows; r++)
                    Assert.True(Bits(expected[o][r]) == Bits(actual[o][r]), $"width {width} output {o} row {r}: {actual[o][r]:R}, expected {expected[o][r]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gathered_rows_agree_on_every_path(int rows, int cols)
    {
        var random = new Random(rows * 3 + cols);
        var a = Enumerable.Range(0, rows * cols).Select(_ => random.Next(-4, 5) * 0.25f).ToArray();
        var index = Enumerable.Range(0, rows).Select(_ => random.Next(rows)).ToArray();
        var method = Samples.Value.GetMethod("RunGathered")!;
        (float[], float[]) Run(int width, object? accelerator)
        {
            var y = new float[a.Length];
            var dot = new float[rows];
            method.Invoke(null, new[] { width, accelerator, a, index, y, dot, rows, cols });
            return (y, dot);
        }
        var expected = Run(-1, null);
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        foreach (var (width, acc) in new (int, object?)[] { (0, null), (128, null), (256, null), (512, null), (0, accelerator) })
        {
            var actual = Run(width, acc);
            Assert.Equal(expected.Item1, actual.Item1);
            Assert.Equal(expected.Item2, actual.Item2);
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Fused_traversals_compute_what_the_definition_computes_on_every_path(int rows, int cols)
    {
        var random = new Random(rows * 31 + cols);
        var z = Enumerable.Range(0, rows * cols).Select(_ => (float)Math.Round(random.NextDouble() * 20 - 10, 2)).ToArray();
        var label = Enumerable.Range(0, rows).Select(_ => random.Next(cols)).ToArray();
        const float beta = 0.7f;
        (float[] E, float[] Mean, float[] Spread, float[] Picked) Run(string method, FastCalib.ComputeOptions? options)
        {
            var e = new float[z.Length];
            var mean = new float[rows];
            var spread = new float[rows];
            var picked = new float[rows];
            var args = new List<object> { z, e, label, beta, mean, spread, picked, rows, cols };
            if (options is { } o) args.Insert(0, o);
            Samples.Value.GetMethod(method)!.Invoke(null, args.ToArray());
            return (e, mean, spread, picked);
        }
        var expected = Run("RunMomentsDefinition", null);
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        foreach (var options in new[]
                 {
                     FastCalib.ComputeOptions.For(FastCalib.Backend.Scalar), new FastCalib.ComputeOptions { VectorWidth = 128 },
                     new FastCalib.ComputeOptions { VectorWidth = 256 }, new FastCalib.ComputeOptions { VectorWidth = 512 },
                     new FastCalib.ComputeOptions { Backend = FastCalib.Backend.Gpu, Accelerator = accelerator },
                 })
        {
            var actual = Run("RunMoments", options);
            for (int i = 0; i < z.Length; i++)
                Assert.True(Close(actual.E[i], expected.E[i]), $"{options} [{rows}x{cols}] e[{i}]: {actual.E[i]} vs {expected.E[i]}");
            for (int r = 0; r < rows; r++)
            {
                Assert.True(Close(actual.Mean[r], expected.Mean[r]), $"{options} mean[{r}]: {actual.Mean[r]} vs {expected.Mean[r]}");
                Assert.True(Math.Abs(actual.Spread[r] - expected.Spread[r]) <= 1e-4f * (1 + Math.Abs(expected.Spread[r])), $"{options} spread[{r}]: {actual.Spread[r]} vs {expected.Spread[r]}");
                Assert.Equal(expected.Picked[r], actual.Picked[r]);
            }
        }
    }

    private static bool Close(float x, float y) => Math.Abs(x - y) <= 2e-5f * (1 + Math.Abs(y)) || (float.IsNaN(x) && float.IsNaN(y));

    private static (float[] Y, float[] Low, int[] Arg, double Total) Run(string method, object? extra, float[] a, float[] b, float[] c, float k, int rows, int cols)
    {
        var y = new float[a.Length];
        var low = new float[rows];
        var arg = new int[rows];
        var args = new List<object?>();
        if (extra is not null) args.Add(extra);
        args.AddRange(new object[] { a, b, c, y, k, low, arg, rows, cols });
        double total = (double)Samples.Value.GetMethod(method, BindingFlags.Public | BindingFlags.Static)!.Invoke(null, args.ToArray())!;
        return (y, low, arg, total);
    }
}
