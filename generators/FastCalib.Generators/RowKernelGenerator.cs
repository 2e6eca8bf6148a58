using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FastCalib.Generators;

/// <summary>
/// The FastCalib kernel generator. For each [RowKernel] method it emits the scalar, SIMD and ILGPU paths
/// (see <see cref="KernelEmitter"/>); for each [SimdWidthTemplate] class, its Vector128 and Vector512 twins;
/// for each [FftRadices] class, its FFT butterflies (see <see cref="FftCodelets"/>).
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class RowKernelGenerator : IIncrementalGenerator
{
    public const string RowKernelAttribute = "FastCalib.Kernels.RowKernelAttribute";
    public const string WidthTemplateAttribute = "FastCalib.Kernels.Internals.SimdWidthTemplateAttribute";
    public const string FftRadicesAttribute = "FastCalib.Kernels.FftRadicesAttribute";

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var kernels = context.SyntaxProvider.ForAttributeWithMetadataName(
            RowKernelAttribute,
            static (node, _) => node is MethodDeclarationSyntax,
            static (ctx, ct) => KernelParser.Parse(ctx, ct));

        context.RegisterSourceOutput(kernels, static (spc, kernel) =>
        {
            foreach (var d in kernel.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            if (kernel.Diagnostics.Count == 0)
                spc.AddSource(kernel.FullName + ".g.cs", KernelEmitter.Emit(kernel));
        });

        var templates = context.SyntaxProvider.ForAttributeWithMetadataName(
            WidthTemplateAttribute,
            static (node, _) => node is ClassDeclarationSyntax or StructDeclarationSyntax,
            static (ctx, ct) => WidthTemplate.Read(ctx, ct));

        context.RegisterSourceOutput(templates, static (spc, template) =>
        {
            foreach (var d in template.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            if (template.Diagnostics.Count > 0) return;
            foreach (var width in new[] { "128", "512" })
                spc.AddSource(template.FileName.Replace("256", width) + ".g.cs", WidthTemplate.Rewrite(template.Source, width));
        });

        var codelets = context.SyntaxProvider.ForAttributeWithMetadataName(
            FftRadicesAttribute,
            static (node, _) => node is ClassDeclarationSyntax,
            static (ctx, ct) => FftCodelets.Read(ctx, ct));

        context.RegisterSourceOutput(codelets, static (spc, model) =>
        {
            foreach (var d in model.Diagnostics) spc.ReportDiagnostic(d.ToDiagnostic());
            if (model.Diagnostics.Count == 0)
                spc.AddSource((model.Namespace.Length > 0 ? model.Namespace + "." : "") + string.Join(".", model.Containers.Select(c => c.Name)) + ".Fft.g.cs", FftCodelets.Emit(model));
        });
    }
}
