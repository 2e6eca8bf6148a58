namespace FastCalib.Generators.Tests;

/// <summary>
/// The generated source of a few small kernels (Samples/GoldenKernels.cs), compared with the files in Golden/ line
/// for line, so that a change of the emitter is a reviewable diff. After an intended change, regenerate them with
/// <c>FASTCALIB_UPDATE_GOLDEN=1 dotnet test tests/FastCalib.Generators.Tests -c Release --filter GoldenFileTests</c>
/// and review the diff before committing it.
/// </summary>
public class GoldenFileTests
{
    public static IEnumerable<object[]> Kernels() => new[] { "Scale", "LogSumExp", "SquaredNorm", "ShiftedMoment" }.Select(k => new object[] { k });

    private static readonly Lazy<Dictionary<string, string>> Generated = new(() =>
    {
        var (_, diagnostics, run) = GeneratorHarness.Generate(GeneratorHarness.Sample("GoldenKernels.cs"));
        Assert.Empty(diagnostics);
        return run.GeneratedTrees.ToDictionary(t => Path.GetFileName(t.FilePath), t => t.ToString().Replace("\r\n", "\n"));
    });

    [Theory]
    [MemberData(nameof(Kernels))]
    public void Generated_source_matches_its_golden_file(string kernel)
    {
        string file = $"Golden.GoldenKernels.{kernel}Kernel.g.cs";
        Assert.True(Generated.Value.TryGetValue(file, out string? actual), $"no generated file {file}; got {string.Join(", ", Generated.Value.Keys)}");
        string path = Path.Combine(GoldenFolder(), file + ".txt");
        if (Environment.GetEnvironmentVariable("FASTCALIB_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, actual);
            return;
        }
        Assert.True(File.Exists(path), $"{path} is missing; run with FASTCALIB_UPDATE_GOLDEN=1 to create it.");
        string[] expectedLines = File.ReadAllText(path).Replace("\r\n", "\n").Split('\n');
        string[] actualLines = actual!.Split('\n');
        for (int i = 0; i < Math.Max(expectedLines.Length, actualLines.Length); i++)
        {
            string e = i < expectedLines.Length ? expectedLines[i] : "<end of file>";
            string a = i < actualLines.Length ? actualLines[i] : "<end of file>";
            Assert.True(e == a, $"{file} differs from its golden file at line {i + 1}:\n  golden:    {e}\n  generated: {a}\n"
                + "If the change is intended, regenerate with FASTCALIB_UPDATE_GOLDEN=1 and review the diff.");
        }
    }

    /// <summary>
    /// Golden/ of this project's source folder, found by walking up from the test assembly (bin/Configuration/tfm
    /// sits inside it). Not from the compiler's file path: CI builds map source paths to /_/.
    /// </summary>
    private static string GoldenFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastCalib.Generators.Tests.csproj")))
                return Path.Combine(dir.FullName, "Golden");
        throw new DirectoryNotFoundException($"no FastCalib.Generators.Tests.csproj above {AppContext.BaseDirectory}");
    }
}
