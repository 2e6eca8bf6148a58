using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace FastCalib.Benchmarks.Gpu;

/// <summary>
/// Times every kernel on an ILGPU accelerator through the device-view API (data stays on the device, as in a training
/// loop): the first call (kernel compilation included), then the steady state as the median over samples of
/// back-to-back launches with the stream synchronised after each sample. The device-to-device copy bandwidth is
/// measured in the same run and each kernel's effective GB/s is reported as a share of it. Inputs smaller than twice
/// the L2 cache rotate through several buffer sets so they are read from device memory, not from the cache.
/// Run: <c>FastCalib.Benchmarks gpu [--cpu] [--samples N] [--only name,name]</c>; <c>--cpu</c> runs small shapes on ILGPU's CPU
/// accelerator to check the harness itself on machines without a GPU.
/// </summary>
public static class GpuReport
{
    private const long RotateBelowBytes = 256L << 20;   // buffer sets rotate until the footprint passes this (H100 L2: 50 MB)

    public static int Run(string[] args)
    {
        bool cpu = args.Contains("--cpu");
        int samples = args.SkipWhile(a => a != "--samples").Skip(1).Select(int.Parse).FirstOrDefault(15);
        string? only = args.SkipWhile(a => a != "--only").Skip(1).FirstOrDefault();
        var clock = Stopwatch.StartNew();
        using var context = GpuDevice.CreateContext();
        double contextMs = clock.Elapsed.TotalMilliseconds;
        clock.Restart();
        Accelerator accelerator = cpu || context.GetCudaDevices().Count == 0
            ? context.CreateCPUAccelerator(0)
            : context.CreateCudaAccelerator(0);
        double acceleratorMs = clock.Elapsed.TotalMilliseconds;
        using var _ = accelerator;
        if (!cpu && accelerator is not CudaAccelerator)
        {
            Console.WriteLine("No CUDA device found; pass --cpu to check the harness on ILGPU's CPU accelerator.");
            return 2;
        }
        int scale = cpu ? 1000 : 1;   // the CPU accelerator runs 1/1000 of each batch

        Console.WriteLine($"# GPU report: {accelerator.Name} ({accelerator.AcceleratorType}), {accelerator.MemorySize >> 20} MiB, warp {accelerator.WarpSize}, " +
                          $"max group {accelerator.MaxNumThreadsPerGroup}, {DateTime.UtcNow:yyyy-MM-dd}, {RuntimeInformation.FrameworkDescription}");
        Console.WriteLine($"cold start: context {contextMs:F0} ms, accelerator {acceleratorMs:F0} ms");
        Console.WriteLine();
        Console.WriteLine("| kernel | shape | first call ms | steady ms (median) | GB/s | share of copy |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");

        var runner = new Runner(accelerator, samples);
        double copy = 0;
        foreach (var work in Cases.All(accelerator, scale))
        {
            if (only is not null && !only.Split(',').Any(o => work.Name.Contains(o, StringComparison.OrdinalIgnoreCase)))
            {
                work.Dispose();
                continue;
            }
            var result = runner.Measure(work);
            double gbs = work.Bytes / (result.SteadyMs * 1e-3) / 1e9;
            if (work.IsCopyFloor) copy = Math.Max(copy, gbs);
            string share = copy > 0 && work.Bytes > 0 ? $"{100 * gbs / copy:F0}%" : "";
            Console.WriteLine($"| {work.Name} | {work.Shape} | {result.FirstMs:F2} | {result.SteadyMs:F4} | {(work.Bytes > 0 ? gbs.ToString("F0", CultureInfo.InvariantCulture) : "")} | {share} |");
            work.Dispose();
        }
        return 0;
    }

    private readonly record struct Timing(double FirstMs, double SteadyMs);

    private sealed class Runner(Accelerator accelerator, int samples)
    {
        public Timing Measure(GpuCase work)
        {
            var stream = accelerator.DefaultStream;
            var clock = Stopwatch.StartNew();
            work.Launch(stream, 0);
            stream.Synchronize();
            double first = clock.Elapsed.TotalMilliseconds;

            // warm up every buffer set, then estimate how many launches make a sample of about 5 ms
            clock.Restart();
            for (int i = 0; i < work.Sets; i++) work.Launch(stream, i);
            stream.Synchronize();
            double estimate = Math.Max(1e-3, clock.Elapsed.TotalMilliseconds / work.Sets);
            int perSample = Math.Clamp((int)Math.Ceiling(5 / estimate), 1, 500);

            var times = new double[samples];
            int set = 0;
            for (int s = 0; s < samples; s++)
            {
                clock.Restart();
                for (int i = 0; i < perSample; i++)
                {
                    work.Launch(stream, set);
                    set = (set + 1) % work.Sets;
                }
                stream.Synchronize();
                times[s] = clock.Elapsed.TotalMilliseconds / perSample;
            }
            Array.Sort(times);
            return new Timing(first, times[samples / 2]);
        }
    }

    /// <summary>How many buffer sets of <paramref name="bytesPerSet"/> make a footprint the cache cannot hold.</summary>
    internal static int SetsFor(long bytesPerSet) => (int)Math.Clamp((RotateBelowBytes + bytesPerSet - 1) / Math.Max(1, bytesPerSet), 1, 16);
}

/// <summary>One timed operation: a launch on buffer set <c>k</c>, the bytes it must move, and the buffers it owns.</summary>
public sealed class GpuCase(string name, string shape, double bytes, int sets, Action<AcceleratorStream, int> launch, IEnumerable<IDisposable> owned) : IDisposable
{
    public string Name { get; } = name;
    public string Shape { get; } = shape;
    public double Bytes { get; } = bytes;
    public int Sets { get; } = sets;
    public bool IsCopyFloor { get; init; }

    public void Launch(AcceleratorStream stream, int set) => launch(stream, set);

    public void Dispose()
    {
        foreach (var buffer in owned) buffer.Dispose();
    }
}
