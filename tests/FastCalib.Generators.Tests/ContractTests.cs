using System.Reflection;
using System.Text.RegularExpressions;
using FastCalib.Kernels;
using ILGPU;
using ILGPU.Runtime.CPU;

namespace FastCalib.Generators.Tests;

/// <summary>
/// The contract between generated code and user code: generated code is fully qualified (a user's types named like
/// ILGPU's or the runtime's capture nothing), carries [GeneratedCode], and its entry points check their arguments;
/// every diagnostic is described and tracked; the reserved names are documented where users look.
/// </summary>
public class ContractTests
{
    private const string Colliding = """
        using System;
        using FastCalib.Kernels;

        namespace User
        {
            // types a user may well have, named like those generated code calls
            public class Group { }
            public class Warp { }
            public class Grid { }
            public class Atomic { }
            public class SharedMemory { }
            public class ArrayView { }
            public class Vector128 { }
            public class Vector256 { }
            public class Vector512 { }
            public class MathF { }
            public class Math { }
            public class GpuMath { }
            public class GroupReduce { }
            public class GpuRows { }
            public class CpuRows { }
            public class GpuHost { }
            public class SimdMath256 { }
            public class RowRange { }
            public class Unsafe { }
            public class ReadOnlySpan { }

            public static partial class Kernels
            {
                [RowKernel]
                public static void Normalize(ReadOnlyRow x, Row y, in int index, float k, out float top, out int at, ref double total)
                {
                    int arg = Rows.ArgMax(x, v => v);
                    float max = Rows.At(x, arg);
                    float picked = Rows.At(x, index);
                    float sum = Rows.MapSum(y, x, v => System.MathF.Exp(v - max));
                    Rows.Map(y, y, e => e * k / sum);
                    top = max;
                    at = arg;
                    total += picked;
                }
            }
        }
        """;

    private static readonly Lazy<Type> Kernel = new(() =>
        GeneratorHarness.BuildNamed("Colliding", Colliding).GetType("User.Kernels+NormalizeKernel")!);

    [Fact]
    public void User_types_named_like_the_runtime_capture_nothing_on_any_path()
    {
        const int rows = 19, cols = 37;
        var random = new Random(5);
        var x = Enumerable.Range(0, rows * cols).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
        var index = Enumerable.Range(0, rows).Select(r => r * 7 % cols).ToArray();
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms());
        using var accelerator = context.CreateCPUAccelerator(0);
        foreach (var options in new[]
                 {
                     ComputeOptions.For(Backend.Scalar), new ComputeOptions { VectorWidth = 128 }, new ComputeOptions { VectorWidth = 256 },
                     new ComputeOptions { VectorWidth = 512 }, new ComputeOptions { Backend = Backend.Gpu, Accelerator = accelerator },
                 })
        {
            var y = new float[rows * cols];
            var top = new float[rows];
            var at = new int[rows];
            double total = Host(options, rows, cols, x, y, index, 2f, top, at);
            for (int r = 0; r < rows; r++)
            {
                var row = x.AsSpan(r * cols, cols).ToArray();
                double max = row.Max(), sum = row.Sum(v => Math.Exp(v - max));
                Assert.Equal(Array.IndexOf(row, row.Max()), at[r]);
                Assert.Equal((float)max, top[r]);
                for (int j = 0; j < cols; j++)
                    Assert.True(Math.Abs(y[r * cols + j] - 2 * Math.Exp(row[j] - max) / sum) <= 1e-6, $"{options} y[{r}, {j}]");
            }
            double expected = Enumerable.Range(0, rows).Sum(r => (double)x[r * cols + index[r]]);
            Assert.True(Math.Abs(total - expected) <= 1e-9 * (1 + Math.Abs(expected)), $"{options}: total {total} vs {expected}");
        }
    }

    [Fact]
    public void Host_entries_check_every_length_before_any_kernel_runs()
    {
        var x = new float[6];
        var ex = Assert.Throws<TargetInvocationException>(() => Host(default, 2, 3, x, new float[5], [0, 0], 1f, new float[2], new int[2])).InnerException;
        Assert.Contains("Test.Op: y has 5 elements", Assert.IsType<ArgumentException>(ex).Message);
        ex = Assert.Throws<TargetInvocationException>(() => Host(default, 2, 3, x, new float[6], [0, 0], 1f, new float[3], new int[2])).InnerException;
        Assert.Contains("top has 3 elements but there are 2 rows", Assert.IsType<ArgumentException>(ex).Message);
        ex = Assert.Throws<TargetInvocationException>(() => Host(default, 2, 0, x, new float[6], [0, 0], 1f, new float[2], new int[2])).InnerException;
        Assert.Equal("cols", Assert.IsType<ArgumentOutOfRangeException>(ex).ParamName);
    }

    private static double Host(ComputeOptions options, long rows, int cols, float[] x, float[] y, int[] index, float k, float[] top, int[] at)
    {
        // spans cannot go through reflection; a small generated adapter is simplest: call Host through a delegate built here
        var method = Kernel.Value.GetMethod("Host")!;
        var adapter = typeof(ContractTests).GetMethod(nameof(Invoke), BindingFlags.NonPublic | BindingFlags.Static)!;
        return (double)adapter.Invoke(null, [method.CreateDelegate<HostDelegate>(), options, rows, cols, x, y, index, k, top, at])!;
    }

    private delegate double HostDelegate(ComputeOptions options, string operation, long rows, int cols, ReadOnlySpan<float> x, Span<float> y, ReadOnlySpan<int> index, float k, Span<float> top, Span<int> at);

    private static double Invoke(HostDelegate host, ComputeOptions options, long rows, int cols, float[] x, float[] y, int[] index, float k, float[] top, int[] at) =>
        host(options, "Test.Op", rows, cols, x, y, index, k, top, at);

    [Fact]
    public void Generated_kernel_classes_carry_GeneratedCode()
    {
        var attribute = Kernel.Value.GetCustomAttribute<System.CodeDom.Compiler.GeneratedCodeAttribute>();
        Assert.NotNull(attribute);
        Assert.Equal("FastCalib.Generators", attribute!.Tool);
    }

    [Fact]
    public void Every_diagnostic_has_a_message_format_a_description_a_help_link_and_a_release()
    {
        string shipped = File.ReadAllText(Path.Combine(RepositoryRoot(), "generators", "FastCalib.Generators", "AnalyzerReleases.Shipped.md"));
        foreach (var d in Diagnostics.All)
        {
            string format = d.MessageFormat.ToString();
            Assert.True(format.Contains("{0}") && format.Contains("{1}") && format.Length > 12, $"{d.Id}: message format '{format}'");
            Assert.False(string.IsNullOrWhiteSpace(d.Description.ToString()), $"{d.Id} has no description");
            Assert.StartsWith("https://", d.HelpLinkUri);
            Assert.Matches(new Regex($@"^{d.Id} \| {Regex.Escape(d.Category)} \| Error \|", RegexOptions.Multiline), shipped);
        }
    }

    [Fact]
    public void The_reserved_names_on_RowKernelAttribute_are_the_generators()
    {
        var documented = RowKernelAttribute.ReservedNames.Split(", ").ToHashSet();
        Assert.True(documented.SetEquals(KernelParser.Reserved), $"documented: {RowKernelAttribute.ReservedNames}; generator: {string.Join(", ", KernelParser.Reserved)}");
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastCalib.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastCalib.sln not found above the test assembly.");
    }
}
