namespace FastCalib.Generators.Tests;

/// <summary>Definitions outside the accepted subset get a diagnostic with an id, at the offending code, and no generated code.</summary>
public class DiagnosticTests
{
    private const string Usings = "using System;\nusing FastCalib.Kernels;\n";

    [Theory]
    [InlineData("FCG001", "static class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => v); } }", "partial")]
    [InlineData("FCG001", "partial class K { [RowKernel] void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => v); } }", "static")]
    [InlineData("FCG002", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y, int n) { Rows.Map(y, x, v => v); } }", "'n'")]
    [InlineData("FCG002", "static partial class K { [RowKernel] static void F(float t) { } }", "at least one")]
    [InlineData("FCG002", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, [RowFrom(\"i\")] ReadOnlyRow z, Row y) { Rows.Map(y, x, v => v); } }", "in int")]
    [InlineData("FCG002", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, [RowFrom(\"i\")] Row y, in int i) { Rows.Map(y, x, v => v); } }", "ReadOnlyRow inputs only")]
    [InlineData("FCG003", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { for (int i = 0; i < 2; i++) { } Rows.Map(y, x, v => v); } }", "for (int i")]
    [InlineData("FCG003", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { double d = 1; Rows.Map(y, x, v => v); } }", "'double'")]
    [InlineData("FCG004", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => v % 2); } }", "'%'")]
    [InlineData("FCG004", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => (v > 0) == (v > 1) ? 1 : 0); } }", "applies to numbers")]
    [InlineData("FCG005", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => MathF.Round(v)); } }", "may call MathF.Exp")]
    [InlineData("FCG004", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => (float)Math.Exp(v)); } }", "(float)Math.Exp(v)")]
    [InlineData("FCG005", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { float s = MathF.Tanh(1); Rows.Map(y, x, v => v); } }", "MathF.Tanh")]
    [InlineData("FCG006", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, x, v => { return v; }); } }", "expression body")]
    [InlineData("FCG007", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { Rows.Map(y, y, v => v); } }", "read before")]
    [InlineData("FCG007", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y, float cols) { Rows.Map(y, x, v => v * cols); } }", "used by the generated code")]
    [InlineData("FCG007", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y) { float m = Rows.Max(x, v => v); Rows.Map(y, x, m => m); } }", "reuses")]
    [InlineData("FCG007", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y, float t) { int i = Rows.ArgMax(x, v => v); Rows.Map(y, x, v => v + i); } }", "an int local")]
    [InlineData("FCG007", "static partial class K { [RowKernel] static void F(ReadOnlyRow x, Row y, out float o) { o = 1; float k = o; Rows.Map(y, x, v => v); } }", "cannot be read")]
    public void Unsupported_definitions_are_reported(string id, string source, string messagePart)
    {
        var (_, diagnostics, run) = GeneratorHarness.Generate(Usings + source);
        var diagnostic = Assert.Single(diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(Microsoft.CodeAnalysis.DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Contains(messagePart, diagnostic.GetMessage());
        Assert.Equal("Sample0.cs", diagnostic.Location.GetLineSpan().Path);   // points into the definition's file
        Assert.Empty(run.GeneratedTrees);
    }

    [Fact]
    public void A_width_template_needs_256_in_its_name()
    {
        var (_, diagnostics, _) = GeneratorHarness.Generate("namespace FastCalib.Kernels.Internals { [SimdWidthTemplate] static partial class Helpers { } }");
        Assert.Equal("FCG008", Assert.Single(diagnostics).Id);
    }
}
