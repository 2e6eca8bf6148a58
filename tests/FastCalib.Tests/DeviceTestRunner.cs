using System.Diagnostics;
using System.Reflection;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace FastCalib.Tests;

/// <summary>
/// Runs this test assembly in-process, without the .NET SDK or a test host: the way to run the whole suite on a GPU
/// machine that has only the .NET runtime (see benchmarks/gpu/README.md). <c>dotnet test</c> does not use this entry
/// point. Arguments: substrings of "Namespace.Class.Method" to include (all when none), <c>--exclude NAME</c> to leave tests out,
/// <c>--require-cuda</c> to fail at once when no CUDA device is found (so a GPU run cannot pass by skipping).
/// Exit code 0 when every selected test passed or skipped, 1 otherwise.
/// </summary>
public static class DeviceTestRunner
{
    public static int Main(string[] args)
    {
        var include = new List<string>();
        var exclude = new List<string>();
        bool requireCuda = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--exclude" && i + 1 < args.Length) exclude.Add(args[++i]);
            else if (args[i] == "--require-cuda") requireCuda = true;
            else include.Add(args[i]);
        }

        var cuda = Paths.Cuda.Value;
        Console.WriteLine(cuda is null ? "CUDA: none (CUDA tests will skip)" : $"CUDA: {cuda.Name}, {cuda.MemorySize >> 20} MiB, warp {cuda.WarpSize}");
        if (requireCuda && cuda is null)
        {
            Console.WriteLine("--require-cuda given but no CUDA device was found");
            return 2;
        }

        var assembly = Assembly.GetExecutingAssembly();
        var sink = new ConsoleSink();
        using var framework = new XunitTestFramework(sink);

        // discover, filter by class, run
        var options = new Options();
        var testCases = new List<ITestCase>();
        using (var discoverer = framework.GetDiscoverer(Reflector.Wrap(assembly)))
        {
            var discovery = new DiscoverySink(testCases);
            discoverer.Find(false, discovery, options);
            discovery.Done.WaitOne();
        }
        var selected = testCases.Where(t =>
        {
            string type = t.TestMethod.TestClass.Class.Name + "." + t.TestMethod.Method.Name;
            return (include.Count == 0 || include.Any(type.Contains)) && !exclude.Any(type.Contains);
        }).ToList();
        Console.WriteLine($"running {selected.Count} of {testCases.Count} test cases");

        var clock = Stopwatch.StartNew();
        using (var executor = framework.GetExecutor(assembly.GetName()))
        {
            executor.RunTests(selected, sink, options);
            sink.Finished.WaitOne();
        }
        Console.WriteLine($"passed {sink.Passed}, failed {sink.Failed}, skipped {sink.Skipped} in {clock.Elapsed.TotalSeconds:F1} s");
        foreach (var (reason, count) in sink.SkipReasons.OrderByDescending(p => p.Value))
            Console.WriteLine($"  skipped x{count}: {reason}");
        return sink.Failed == 0 ? 0 : 1;
    }

    /// <summary>Discovery and execution options by name; unset ones take xunit's defaults.</summary>
    private sealed class Options : ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
    {
        private readonly Dictionary<string, object?> _values = new() { ["xunit.discovery.PreEnumerateTheories"] = false };
        public TValue GetValue<TValue>(string name) => _values.TryGetValue(name, out var v) && v is TValue t ? t : default!;
        public void SetValue<TValue>(string name, TValue value) => _values[name] = value;
    }

    // xUnit3000 asks for LongLivedMarshalByRefObject (from the runner utility) for sinks that cross AppDomains; .NET has one
#pragma warning disable xUnit3000
    private sealed class DiscoverySink(List<ITestCase> found) : IMessageSink
    {
        public readonly ManualResetEvent Done = new(false);

        public bool OnMessage(IMessageSinkMessage message)
        {
            if (message is ITestCaseDiscoveryMessage discovered) found.Add(discovered.TestCase);
            if (message is IDiscoveryCompleteMessage) Done.Set();
            return true;
        }
    }

    private sealed class ConsoleSink : IMessageSink
    {
        public readonly ManualResetEvent Finished = new(false);
        public readonly Dictionary<string, int> SkipReasons = new();
        public int Passed, Failed, Skipped;

        public bool OnMessage(IMessageSinkMessage message)
        {
            lock (this)
            {
                switch (message)
                {
                    case ITestPassed:
                        Passed++;
                        break;
                    case ITestFailed failed:
                        Failed++;
                        Console.WriteLine($"FAIL {failed.Test.DisplayName}");
                        for (int i = 0; i < failed.Messages.Length; i++)
                        {
                            Console.WriteLine($"  {failed.ExceptionTypes[i]}: {failed.Messages[i]}");
                            Console.WriteLine(Indent(failed.StackTraces[i]));
                        }
                        if (!string.IsNullOrEmpty(failed.Output)) Console.WriteLine(Indent(failed.Output));
                        break;
                    case ITestSkipped skipped:
                        Skipped++;
                        SkipReasons[skipped.Reason] = SkipReasons.GetValueOrDefault(skipped.Reason) + 1;
                        break;
                    case ITestClassFinished classDone:
                        Console.WriteLine($"  {classDone.TestClass.Class.Name}: {classDone.TestsRun} run, {classDone.TestsFailed} failed, {classDone.TestsSkipped} skipped, {classDone.ExecutionTime:F1} s");
                        break;
                    case IErrorMessage error:
                        Failed++;
                        Console.WriteLine($"ERROR {string.Join("; ", error.Messages)}\n{Indent(string.Join("\n", error.StackTraces))}");
                        break;
                    case ITestAssemblyFinished:
                        Finished.Set();
                        break;
                }
            }
            return true;
        }

        private static string Indent(string? text) =>
            string.Join('\n', (text ?? "").Split('\n').Take(12).Select(l => "    " + l.TrimEnd()));
    }
#pragma warning restore xUnit3000
}
