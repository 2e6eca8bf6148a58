using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace FastCalib.Tests;

/// <summary>One way to run a kernel: the scalar path, the SIMD path at a forced vector width, or an ILGPU accelerator.</summary>
public sealed record KernelPath(string Name, ComputeOptions Options)
{
    public override string ToString() => Name;
}

/// <summary>
/// Every path the tests run: scalar, SIMD at 128/256/512 bits (widths the CPU lacks still compute, slowly, which
/// keeps their generated code tested on any machine), ILGPU's CPU accelerator, and CUDA where a device exists.
/// </summary>
public static class Paths
{
    private static readonly Lazy<Context> SharedContext = new(GpuDevice.CreateContext);

    /// <summary>ILGPU's CPU accelerator with its default shape (warp size 4, at most 16 threads per group).</summary>
    public static readonly Lazy<Accelerator> CpuAccelerator = new(() => SharedContext.Value.CreateCPUAccelerator(0));

    /// <summary>The first CUDA device, or null when there is none.</summary>
    public static readonly Lazy<Accelerator?> Cuda = new(() =>
        SharedContext.Value.GetCudaDevices().Count > 0 ? SharedContext.Value.CreateCudaAccelerator(0) : null);

    /// <summary>The accelerator a device test names: "cuda" (null without a device) or ILGPU's CPU accelerator.</summary>
    public static Accelerator? Device(string name) => name == "cuda" ? Cuda.Value : CpuAccelerator.Value;

    public const string NoCuda = "No CUDA device on this machine; the ILGPU kernels are tested on ILGPU's CPU accelerator instead.";

    /// <summary>All host-memory paths, single-threaded so that every chunking path is the same.</summary>
    public static IReadOnlyList<KernelPath> All
    {
        get
        {
            var paths = new List<KernelPath>
            {
                new("scalar", new ComputeOptions { Backend = Backend.Scalar, MaxThreads = 1 }),
                new("simd128", new ComputeOptions { Backend = Backend.Simd, VectorWidth = 128, MaxThreads = 1 }),
                new("simd256", new ComputeOptions { Backend = Backend.Simd, VectorWidth = 256, MaxThreads = 1 }),
                new("simd512", new ComputeOptions { Backend = Backend.Simd, VectorWidth = 512, MaxThreads = 1 }),
                new("ilgpu-cpu", new ComputeOptions { Backend = Backend.Gpu, Accelerator = CpuAccelerator.Value }),
            };
            if (Cuda.Value is { } cuda) paths.Add(new("cuda", new ComputeOptions { Backend = Backend.Gpu, Accelerator = cuda }));
            return paths;
        }
    }

    public static IEnumerable<object[]> AllData => All.Select(p => new object[] { p });
}
