using System.IO.Compression;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Xunit;

namespace FastCalib.Tests.Packaging;

/// <summary>
/// The tool package as a user gets it: packed from this build, at most 30 MB, with its gallery readme, license and
/// repository; installed with <c>dotnet tool install</c> into a tool path from a local feed, it answers
/// <c>fastcalib --version</c> and draws the demo's diagrams where it ships the drawing library. Where the drawing library
/// is missing, plot says so in one line and the demo still reports.
/// </summary>
public class ToolPackageTests
{
    private const long MaxPackageBytes = 30L * 1024 * 1024;

    [Fact]
    public void The_tool_package_is_small_installs_into_a_tool_path_and_runs()
    {
        string repo = Packages.RepositoryRoot();
        string work = Directory.CreateTempSubdirectory("fastcalib-tool-").FullName;
        try
        {
            string feed = Path.Combine(work, "feed");
            string version = $"0.1.0-check.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
            Packages.Run("dotnet", $"pack \"{Path.Combine(repo, "src", "FastCalib.Cli", "FastCalib.Cli.csproj")}\" -c {Packages.Configuration} --no-build -o \"{feed}\" -p:PackageVersion={version}", repo);

            string package = Path.Combine(feed, $"FastCalib.Tool.{version}.nupkg");
            long size = new FileInfo(package).Length;
            Assert.True(size <= MaxPackageBytes, $"the tool package is {size / 1048576.0:F1} MB, over {MaxPackageBytes / 1048576} MB");
            Assert.True(File.Exists(Path.Combine(feed, $"FastCalib.Tool.{version}.snupkg")), "no symbol package");
            using (var zip = ZipFile.OpenRead(package))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("README.md", entries);
                Assert.Contains("LICENSE", entries);
                Assert.Contains("tools/net10.0/any/FastCalib.Cli.dll", entries);
                Assert.Contains("tools/net10.0/any/runtimes/linux-x64/native/libSkiaSharp.so", entries);
                Assert.DoesNotContain(entries, e => e.Contains("HarfBuzz", StringComparison.OrdinalIgnoreCase) && e.Contains("/native/"));
                Assert.DoesNotContain(entries, e => e.Contains("/native/") && e.EndsWith(".pdb"));
                string nuspec = Packages.Nuspec(zip);
                Assert.Contains("<packageType name=\"DotnetTool\" />", nuspec);
                Packages.AssertGalleryMetadata(nuspec, Packages.Readme(zip));
            }

            string tools = Path.Combine(work, "tools");
            string config = Path.Combine(work, "nuget.config");
            File.WriteAllText(config, $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources><clear /><add key="local" value="{feed}" /></packageSources>
                </configuration>
                """);
            Packages.Run("dotnet", $"tool install FastCalib.Tool --version {version} --tool-path \"{tools}\" --configfile \"{config}\"", work);
            string fastcalib = Path.Combine(tools, OperatingSystem.IsWindows() ? "fastcalib.exe" : "fastcalib");

            string expected = typeof(FastCalib.Cli.Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
            Assert.Equal(expected, Packages.Run(fastcalib, "--version", work).Trim());

            // the installed tool draws where the package carries the drawing library for this runtime
            string shipped = typeof(FastCalib.Cli.Program).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .Single(a => a.Key == "DrawingRuntimeIdentifiers").Value!;
            string pictures = Path.Combine(work, "pictures");
            string demo = Packages.Run(fastcalib, $"demo --rows 3000 --out-dir \"{pictures}\"", work);
            Assert.Contains("ECE", demo);
            if (shipped.Split(';').Contains(DrawingRuntime()))
            {
                Assert.True(new FileInfo(Path.Combine(pictures, "reliability-before.png")).Length > 10_000, demo);
                Assert.True(new FileInfo(Path.Combine(pictures, "reliability-after.png")).Length > 10_000, demo);
            }
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public void Without_the_drawing_library_plot_says_so_and_the_demo_still_reports()
    {
        string work = Directory.CreateTempSubdirectory("fastcalib-nodraw-").FullName;
        try
        {
            // the tool as built, less SkiaSharp's native libraries: what a runtime the package does not ship them for sees
            string build = Path.GetDirectoryName(typeof(FastCalib.Cli.Program).Assembly.Location)!;
            string tool = Path.Combine(work, "tool");
            foreach (string file in Directory.EnumerateFiles(build, "*", SearchOption.AllDirectories))
            {
                string relative = Path.GetRelativePath(build, file);
                if (Path.GetFileName(file).StartsWith("libSkiaSharp", StringComparison.Ordinal)) continue;
                if (!relative.StartsWith("runtimes", StringComparison.Ordinal) && !Regex.IsMatch(relative, @"^[^/\\]+\.(dll|json)$")) continue;
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(tool, relative))!);
                File.Copy(file, Path.Combine(tool, relative));
            }
            string dll = Path.Combine(tool, "FastCalib.Cli.dll");
            string probs = Path.Combine(work, "p.csv"), labels = Path.Combine(work, "l.csv"), png = Path.Combine(work, "r.png");
            File.WriteAllText(probs, "0.9,0.1\n0.2,0.8\n0.6,0.4\n");
            File.WriteAllText(labels, "0\n1\n1\n");

            var (code, output) = Packages.Exec("dotnet", $"\"{dll}\" plot --probs \"{probs}\" --labels \"{labels}\" --out \"{png}\"", work);
            Assert.Equal(1, code);
            string line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("drawing needs SkiaSharp's native library", line);
            Assert.Contains(RuntimeInformation.RuntimeIdentifier, line);
            Assert.False(File.Exists(png));

            (code, output) = Packages.Exec("dotnet", $"\"{dll}\" demo --rows 2000 --out-dir \"{work}\"", work);
            Assert.True(code == 0, output);
            Assert.Contains("ECE", output);
            Assert.Contains("reliability diagrams not drawn", output);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>The runtime folder SkiaSharp's native library is looked up under here (macOS has one for both CPUs).</summary>
    private static string DrawingRuntime() =>
        OperatingSystem.IsMacOS() ? "osx" : RuntimeInformation.RuntimeIdentifier;
}
