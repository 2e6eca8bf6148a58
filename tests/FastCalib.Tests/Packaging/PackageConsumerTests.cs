using System.IO.Compression;
using System.Text;
using Xunit;

namespace FastCalib.Tests.Packaging;

/// <summary>
/// The NuGet package works for someone else: pack FastCalib (as built for this test run) into a local folder feed,
/// check what it holds, then build and run a separate consumer project that references it, calls the kernels and
/// defines a row kernel of its own (which proves the generator ships in the package), in a namespace whose types
/// share names with ILGPU's and the runtime's (which proves generated code cannot be captured by them).
/// </summary>
public class PackageConsumerTests
{
    [Fact]
    public void A_separate_project_can_reference_the_package_and_call_a_kernel()
    {
        string repo = Packages.RepositoryRoot();
        string work = Directory.CreateTempSubdirectory("fastcalib-package-").FullName;
        try
        {
            string feed = Path.Combine(work, "feed");
            string version = $"0.1.0-check.{DateTime.UtcNow:yyyyMMddHHmmssfff}";
            Packages.Run("dotnet", $"pack \"{Path.Combine(repo, "src", "FastCalib", "FastCalib.csproj")}\" -c {Packages.Configuration} --no-build -o \"{feed}\" -p:PackageVersion={version}", repo);

            string package = Path.Combine(feed, $"FastCalib.{version}.nupkg");
            using (var zip = ZipFile.OpenRead(package))
            {
                var entries = zip.Entries.Select(e => e.FullName).ToList();
                Assert.Contains("lib/net10.0/FastCalib.dll", entries);
                Assert.Contains("lib/net10.0/FastCalib.xml", entries);
                Assert.Contains("README.md", entries);
                Assert.Contains("LICENSE", entries);
                Assert.Contains("analyzers/dotnet/cs/FastCalib.Generators.dll", entries);
                string nuspec = Packages.Nuspec(zip);
                Assert.Contains("id=\"ILGPU\"", nuspec);
                Packages.AssertGalleryMetadata(nuspec, Packages.Readme(zip));
                // a CI build (CI=true, so ContinuousIntegrationBuild) names no path of the machine that built it
                if (Environment.GetEnvironmentVariable("CI") == "true")
                {
                    using var dll = new MemoryStream();
                    zip.GetEntry("lib/net10.0/FastCalib.dll")!.Open().CopyTo(dll);
                    Assert.DoesNotContain(repo, Encoding.UTF8.GetString(dll.ToArray()));
                }
            }
            using (var symbols = ZipFile.OpenRead(Path.Combine(feed, $"FastCalib.{version}.snupkg")))
                Assert.Contains("lib/net10.0/FastCalib.pdb", symbols.Entries.Select(e => e.FullName));

            string consumer = Path.Combine(work, "consumer");
            Directory.CreateDirectory(consumer);
            string globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            File.WriteAllText(Path.Combine(consumer, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <config><add key="globalPackagesFolder" value="{Path.Combine(work, "packages")}" /></config>
                  <fallbackPackageFolders><add key="user" value="{globalPackages}" /></fallbackPackageFolders>
                  <packageSources><add key="local" value="{feed}" /></packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(consumer, "Consumer.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <AllowUnsafeBlocks>true</AllowUnsafeBlocks>
                    <InvariantGlobalization>true</InvariantGlobalization>
                  </PropertyGroup>
                  <ItemGroup><PackageReference Include="FastCalib" Version="{version}" /></ItemGroup>
                </Project>
                """);
            // the user's kernel lives in a namespace whose own types are named like those generated code uses
            File.WriteAllText(Path.Combine(consumer, "Program.cs"), """
                using System;
                using FastCalib;
                using FastCalib.Kernels;

                float[] z = [1, 2, 3, 4, 0, 0];
                var p = new float[6];
                Softmax.Forward(z, p, 3, 1f);
                var confidence = new float[2];
                var predicted = new int[2];
                Softmax.Top1(z, confidence, predicted, 3, 1f);
                var y = new float[6];
                double total = Consumer.Mine.TwiceKernel.Host(default, "Mine.Twice", 2, 3, z, y, 0.5f);
                Console.WriteLine($"{p[0]:F4} {p[2]:F4} {confidence[1]:F4} {predicted[0]} {predicted[1]} {y[1]:F1} {total:F1}");

                namespace Consumer
                {
                    class Group { }
                    class Warp { }
                    class Grid { }
                    class Atomic { }
                    class Vector256 { }
                    class MathF { }
                    class GpuHost { }
                    class CpuRows { }

                    static partial class Mine
                    {
                        [RowKernel]
                        static void Twice(ReadOnlyRow x, Row y, float k, ref double total)
                        {
                            float s = Rows.MapSum(y, x, v => v + v);
                            total += s * k;
                        }
                    }
                }
                """);
            string output = Packages.Run("dotnet", "run -c Release", consumer);
            // softmax([1, 2, 3]) = [0.0900, 0.2447, 0.6652]; top-1 of [4, 0, 0] is e^4 / (e^4 + 2) = 0.9647 at class 0;
            // the user kernel doubles [1..4, 0, 0] and its total is half of the sum of the doubles, 10
            Assert.Contains("0.0900 0.6652 0.9647 2 0 4.0 10.0", output);
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }
}
