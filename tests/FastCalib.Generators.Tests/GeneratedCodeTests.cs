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
