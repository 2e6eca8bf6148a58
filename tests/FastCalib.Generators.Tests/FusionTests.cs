using System.Text.RegularExpressions;

namespace FastCalib.Generators.Tests;

/// <summary>
/// The structure of fused code, read off the generated source: how many loops over a row each path makes and how
/// many exponentials it evaluates per element, for a kernel of three sums sharing one exponential (the temperature
/// fit's pass) and for the library's own kernels.
/// </summary>
public class FusionTests
{
    private const string Source = """
        using System;
        using FastCalib.Kernels;

        static partial class K
        {
            [RowKernel]
            static void Pass(ReadOnlyRow z, float beta, out float s0, out float s1, out float s2)
            {
                float max = Rows.Max(z, v => v);
                float sum = Rows.Sum(z, v => MathF.Exp((v - max) * beta));
                float first = Rows.Sum(z, v => MathF.Exp((v - max) * beta) * (v - max));
                float second = Rows.Sum(z, v => MathF.Exp((v - max) * beta) * (v - max) * (v - max));
                s0 = sum;
                s1 = first;
                s2 = second;
            }
        }
        """;

    private static string Generated() =>
        GeneratorHarness.Generate(Source).Run.GeneratedTrees.Single(t => t.FilePath.EndsWith("K.PassKernel.g.cs")).ToString();

    /// <summary>The text of one generated method: from its signature to the next method's doc comment.</summary>
    private static string Method(string source, string signature)
    {
        int start = source.IndexOf(signature, StringComparison.Ordinal);
        Assert.True(start >= 0, $"no {signature}");
        int end = source.IndexOf("/// <summary>", start, StringComparison.Ordinal);
        return source.Substring(start, (end < 0 ? source.Length : end) - start);
    }

    [Fact]
    public void Three_sums_after_a_max_are_two_traversals_with_one_exponential_per_element()
    {
        string source = Generated();
        string scalar = Method(source, "public static double Scalar(");
        Assert.Equal(2, Regex.Matches(scalar, @"for \(int __j = 0; __j < cols; __j\+\+\)").Count);
        Assert.Single(Regex.Matches(scalar, @"MathF\.Exp\("));
        // within a row: one exponential per vector of columns in each block (one whole vector, two tails: a traversal
        // with an exponential keeps one accumulator copy), and the max's traversal unrolled four times
        string row = Method(source, "private static double Row512(");
        Assert.Equal(3, Regex.Matches(row, @"SimdMath512\.Exp\(").Count);
        Assert.Contains("__a0_3", row);
        Assert.DoesNotContain("__a1_1", row);
        string tile = Method(source, "private static double Tile256(");
        Assert.Equal(3, Regex.Matches(tile, @"SimdMath256\.Exp\(").Count);   // even column, odd column, last column
        string group = Method(source, "public static void GpuGroupPerRow(");
        Assert.Single(Regex.Matches(group, @"GpuMath\.Exp\("));
        string warp = Method(source, "public static void GpuWarpRows(");
        Assert.Equal(32, Regex.Matches(warp, @"GpuMath\.Exp\(").Count);      // one per register value
    }

    /// <summary>
    /// A logarithm under a guard x ≥ c or x &gt; c with c at least 2^-126 becomes LogOfNormal on every vector path (the
    /// lanes that keep its value are normal or +∞); a weaker guard, a logarithm of another value or one outside the
    /// guarded branch keeps the full Log. (One kernel per case: a logarithm shared by several patterns is computed
    /// once, outside any guard.)
    /// </summary>
    [Theory]
    [InlineData("v >= 1.17549435e-38f ? -v * MathF.Log(v) : 0", true)]
    [InlineData("v > 0.5f ? MathF.Log(v) : 1", true)]
    [InlineData("v >= 1e-39f ? MathF.Log(v) : 2", false)]
    [InlineData("v > 0 ? MathF.Log(v) : 2", false)]
    [InlineData("v >= 1f ? MathF.Log(v + 1) : 3", false)]
    [InlineData("v >= 1f ? 4 : MathF.Log(v)", false)]
    public void A_logarithm_guarded_to_normal_values_skips_the_special_cases(string body, bool specialised)
    {
        string source = $$"""
            using System;
            using FastCalib.Kernels;

            static partial class K
            {
                [RowKernel]
                static void Logs(ReadOnlyRow p, out float total)
                {
                    float a = Rows.Sum(p, v => {{body}});
                    total = a;
                }
            }
            """;
        string generated = GeneratorHarness.Generate(source).Run.GeneratedTrees.Single(t => t.FilePath.EndsWith("K.LogsKernel.g.cs")).ToString();
        foreach (int width in new[] { 128, 256, 512 })
            foreach (string path in new[] { "Row", "Tile" })
            {
                string method = Method(generated, $"private static double {path}{width}(");
                int ofNormal = Regex.Matches(method, $@"SimdMath{width}\.LogOfNormal\(").Count;
                int full = Regex.Matches(method, $@"SimdMath{width}\.Log\(").Count;
                Assert.True(specialised ? ofNormal > 0 && full == 0 : ofNormal == 0 && full > 0, $"{path}{width}: {ofNormal} LogOfNormal, {full} Log");
            }
    }

    /// <summary>
    /// A summed product is one fused multiply-add into the accumulator on every vector path; a summed c ? a : 0 is
    /// an add under c's mask on the 512-bit paths (narrower ones keep the AND with the mask, which is one blend-free
    /// instruction there); a guarded logarithm inside it still skips the special cases.
    /// </summary>
    [Fact]
    public void Sums_of_products_and_of_masked_terms_fold_into_the_accumulator()
    {
        const string source = """
            using System;
            using FastCalib.Kernels;

            static partial class K
            {
                [RowKernel]
                static void Folds(ReadOnlyRow p, out float squares, out float negatives, out float entropy)
                {
                    float a = Rows.Sum(p, v => v * v);
                    float b = Rows.Sum(p, v => v < 0 ? 1 : 0);
                    float c = Rows.Sum(p, v => v >= 1.17549435e-38f ? v * MathF.Log(v) : 0);
                    squares = a;
                    negatives = b;
                    entropy = c;
                }
            }
            """;
        string generated = GeneratorHarness.Generate(source).Run.GeneratedTrees.Single(t => t.FilePath.EndsWith("K.FoldsKernel.g.cs")).ToString();
        foreach (int width in new[] { 128, 256, 512 })
            foreach (string path in new[] { "Row", "Tile" })
            {
                string method = Method(generated, $"private static double {path}{width}(");
                string name = $"{path}{width}";
                // the square on every copy of the loop body, the product under the guard on the 512-bit paths too
                Assert.Matches(@"FusedMultiplyAdd\(__x_p, __x_p, ", method);
                Assert.DoesNotContain("(__x_p * __x_p)", method);
                Assert.DoesNotContain($"SimdMath{width}.Log(", method);
                Assert.Contains($"SimdMath{width}.LogOfNormal(", method);
                bool masked = Regex.IsMatch(method, @"ConditionalSelect\(global::System\.Runtime\.Intrinsics\.Vector\d+\.LessThan\(__x_p, [^;]*\), (__a\w+) \+ [^;]*, \1\)");
                Assert.True(width == 512 ? masked : !masked, $"{name}: masked add {masked}");
                if (width == 512) Assert.Matches(@"ConditionalSelect\([^;]*FusedMultiplyAdd\(__x_p, global::FastCalib\.Kernels\.Internals\.SimdMath512\.LogOfNormal\(__x_p\)", method);
            }
    }

    [Fact]
    public void Tile_paths_take_the_first_maximum_and_the_label_column_from_the_traversal_not_a_gather()
    {
        const string source = """
            using System;
            using FastCalib.Kernels;

            static partial class K
            {
                [RowKernel]
                static void Picks(ReadOnlyRow p, in int label, out float top, out float atLabel, out float scaled)
                {
                    int arg = Rows.ArgMax(p, v => v);
                    float best = Rows.At(p, arg);
                    float picked = Rows.At(p, label);
                    int low = Rows.ArgMax(p, v => -v);
                    float least = Rows.At(p, low);
                    top = best;
                    atLabel = picked;
                    scaled = least;
                }
            }
            """;
        string generated = GeneratorHarness.Generate(source).Run.GeneratedTrees.Single(t => t.FilePath.EndsWith("K.PicksKernel.g.cs")).ToString();
        foreach (int width in new[] { 128, 256, 512 })
        {
            string tile = Method(generated, $"private static double Tile{width}(");
            // the ArgMax of v itself keeps its value; the label column is selected in the loop (even, odd, last column);
            // the ArgMax of -v has no value of p to keep, so its At stays a gather
            Assert.Single(Regex.Matches(tile, @"GatherTile\("));
            Assert.Contains("var best = __best_arg;", tile);
            Assert.Equal(3, Regex.Matches(tile, @"picked = global::System\.Runtime\.Intrinsics\.Vector" + width + @"\.ConditionalSelect\(").Count);
        }
    }
}
