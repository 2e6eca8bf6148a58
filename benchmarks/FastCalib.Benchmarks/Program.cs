using BenchmarkDotNet.Running;

namespace FastCalib.Benchmarks;

/// <summary>
/// Runs the benchmarks: <c>dotnet run -c Release --project benchmarks/FastCalib.Benchmarks -- --filter '*'</c>
/// (add <c>--job Dry</c> for a quick smoke run). Results and the machine they came from go to benchmarks/RESULTS.md.
/// <c>-- gpu</c> runs the GPU report instead (<see cref="Gpu.GpuReport"/>; benchmarks/gpu/README.md).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "gpu") return Gpu.GpuReport.Run(args[1..]);
        // a job named on the command line (e.g. --job Dry) replaces the default one instead of running beside it
        KernelConfig.AddDefaultJob = !args.Any(a => a is "--job" or "-j");
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
