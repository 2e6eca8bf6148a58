using System.Diagnostics;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Xunit;

namespace FastCalib.Tests.Packaging;

/// <summary>What the package tests share: running dotnet, finding the repository, and what every package must say.</summary>
internal static class Packages
{
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    public const string RepositoryUrl = "https://github.com/fastcalib/fastcalib";

    /// <summary>Runs a command and returns its output; fails the test on a non-zero exit.</summary>
    public static string Run(string file, string arguments, string directory)
    {
        var (code, output) = Exec(file, arguments, directory);
        Assert.True(code == 0, $"{file} {arguments} failed with {code}:\n{output}");
        return output;
    }

    /// <summary>Runs a command; its exit code and its stdout and stderr together.</summary>
    public static (int Code, string Output) Exec(string file, string arguments, string directory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), $"{file} {arguments} timed out");
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FastCalib.sln"))) return dir.FullName;
        throw new InvalidOperationException("FastCalib.sln not found above the test assembly.");
    }

    public static string Nuspec(ZipArchive zip) => Text(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec")));

    public static string Readme(ZipArchive zip) => Text(zip.GetEntry("README.md")!);

    private static string Text(ZipArchiveEntry entry)
    {
        using var reader = new StreamReader(entry.Open());
        return reader.ReadToEnd();
    }

    /// <summary>
    /// What a package needs on the gallery: authors that are not its id, a license, tags, the repository with the
    /// commit it was built from, and a readme of its own whose links all work off the repository (absolute).
    /// </summary>
    public static void AssertGalleryMetadata(string nuspec, string readme)
    {
        Assert.Contains("<authors>FastCalib contributors</authors>", nuspec);
        Assert.Contains("<license type=\"expression\">MIT</license>", nuspec);
        Assert.Contains("<readme>README.md</readme>", nuspec);
        Assert.Matches(@"<tags>[^<]*calibration[^<]*</tags>", nuspec);
        Assert.Matches($"<repository type=\"git\" url=\"{Regex.Escape(RepositoryUrl)}\"", nuspec);
        Assert.Matches(@"<description>[^<]{200,}</description>", nuspec);
        var links = Regex.Matches(readme, @"\]\(([^)]*)\)").Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(links);
        Assert.All(links, link => Assert.StartsWith("https://", link));
        Assert.DoesNotContain("dotnet run --project", readme);
    }
}
