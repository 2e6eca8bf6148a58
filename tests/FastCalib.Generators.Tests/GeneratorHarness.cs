using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using FastCalib.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace FastCalib.Generators.Tests;

/// <summary>Runs the generator on source text and compiles the result against FastCalib and ILGPU.</summary>
public static class GeneratorHarness
{
    private static readonly Lazy<ImmutableArray<MetadataReference>> References = new(() =>
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator).ToList();
        paths.Add(typeof(FastCalib.Kernels.Rows).Assembly.Location);
        paths.Add(typeof(ILGPU.Context).Assembly.Location);
        paths.Add(typeof(ILGPU.Algorithms.XMath).Assembly.Location);
        return paths.Distinct().Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    });

    public static CSharpCompilation Compilation(params string[] sources) => Compilation("Samples", sources);

    /// <summary>A compilation named <paramref name="assemblyName"/> (assemblies loaded side by side need distinct names).</summary>
    public static CSharpCompilation Compilation(string assemblyName, string[] sources) =>
        CSharpCompilation.Create(assemblyName,
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, new CSharpParseOptions(LanguageVersion.Latest), path: $"Sample{i}.cs")),
            References.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));

    public static GeneratorDriver Driver(bool track = false) =>
        CSharpGeneratorDriver.Create(new[] { new RowKernelGenerator().AsSourceGenerator() },
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: track));

    /// <summary>Runs the generator; returns the updated compilation and the generator's diagnostics.</summary>
    public static (Compilation Output, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult Run) Generate(params string[] sources) =>
        GenerateNamed("Samples", sources);

    private static (Compilation Output, ImmutableArray<Diagnostic> Diagnostics, GeneratorDriverRunResult Run) GenerateNamed(string assemblyName, string[] sources)
    {
        var driver = Driver().RunGeneratorsAndUpdateCompilation(Compilation(assemblyName, sources), out var output, out var diagnostics);
        return (output, diagnostics, driver.GetRunResult());
    }

    /// <summary>Generates and compiles, failing on any error, and loads the assembly.</summary>
    public static Assembly Build(params string[] sources) => BuildNamed("Samples", sources);

    /// <summary>As <see cref="Build"/>, for an assembly of another name.</summary>
    public static Assembly BuildNamed(string assemblyName, params string[] sources)
    {
        var (output, diagnostics, _) = GenerateNamed(assemblyName, sources);
        Assert.Empty(diagnostics);
        using var stream = new MemoryStream();
        var emit = output.Emit(stream);
        Assert.True(emit.Success, string.Join("\n", emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        stream.Position = 0;
        return AssemblyLoadContext.Default.LoadFromStream(stream);
    }

    public static string Sample(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Samples", name));
}
