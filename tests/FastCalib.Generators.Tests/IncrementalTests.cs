using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace FastCalib.Generators.Tests;

/// <summary>The generator's models are equatable, so an unrelated edit leaves the generated kernels cached.</summary>
public class IncrementalTests
{
    [Fact]
    public void Unrelated_edits_keep_generated_kernels_cached()
    {
        var compilation = GeneratorHarness.Compilation(GeneratorHarness.Sample("SampleKernels.cs"));
        var driver = GeneratorHarness.Driver(track: true).RunGenerators(compilation);
        var first = driver.GetRunResult();
        Assert.Equal(7, first.GeneratedTrees.Length);   // Mixed, Comparisons, Labelled, Picks, Extremes, Gathered and Moments

        var edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Other { class Unrelated { int X => 1; } }",
            new CSharpParseOptions(LanguageVersion.Latest)));
        var second = driver.RunGenerators(edited).GetRunResult();
        var reasons = second.Results[0].TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.Equal(IncrementalStepRunReason.Cached, r));
    }

    [Fact]
    public void Editing_a_kernel_regenerates_it()
    {
        string source = GeneratorHarness.Sample("SampleKernels.cs");
        var compilation = GeneratorHarness.Compilation(source);
        var driver = GeneratorHarness.Driver(track: true).RunGenerators(compilation);
        var tree = compilation.SyntaxTrees.Single();
        var edited = compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(
            source.Replace("+ -(x - u) * 1000", "+ -(x - u) * 100"))));
        var result = driver.RunGenerators(edited).GetRunResult();
        var reasons = result.Results[0].TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs).Select(o => o.Reason).ToList();
        Assert.Contains(IncrementalStepRunReason.Modified, reasons);
        Assert.Contains(result.GeneratedTrees, t => t.ToString().Contains("100f"));
    }
}
