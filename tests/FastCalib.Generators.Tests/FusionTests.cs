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
        // within a row: one exponential per vector of columns in each block (two unrolled copies for three sums, one
        // whole vector, two tails)
        string row = Method(source, "private static double Row512(");
        Assert.Equal(5, Regex.Matches(row, @"SimdMath512\.Exp\(").Count);
        string tile = Method(source, "private static double Tile256(");
        Assert.Equal(3, Regex.Matches(tile, @"SimdMath256\.Exp\(").Count);   // even column, odd column, last column
        string group = Method(source, "public static void GpuGroupPerRow(");
        Assert.Single(Regex.Matches(group, @"GpuMath\.Exp\("));
        string warp = Method(source, "public static void GpuWarpRows(");
        Assert.Equal(32, Regex.Matches(warp, @"GpuMath\.Exp\(").Count);      // one per register value
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
