using ILGPU.Runtime;

namespace FastCalib;

/// <summary>Which implementation of a kernel runs a host-memory call.</summary>
public enum Backend
{
    /// <summary>Vectorised CPU code (Vector512, Vector256 or Vector128, whichever is fastest here), multi-core for large inputs.</summary>
    Simd = 0,

    /// <summary>Plain scalar CPU code, one element at a time (reference speed; also multi-core for large inputs).</summary>
    Scalar = 1,

    /// <summary>
    /// The ILGPU kernel on <see cref="ComputeOptions.Accelerator"/>, or on <see cref="GpuDevice.Default"/>
    /// (a CUDA device when there is one, otherwise ILGPU's CPU accelerator). Host spans are copied to the device and back.
    /// </summary>
    Gpu = 2,
}

/// <summary>How a host-memory call runs. The default (<c>default(ComputeOptions)</c>) runs SIMD code on all cores.</summary>
public readonly record struct ComputeOptions
{
    /// <summary>The implementation to use.</summary>
    public Backend Backend { get; init; }

    /// <summary>
    /// Most CPU threads to use; 0 means all cores. Results are bit-for-bit the same for any value: rows are split
    /// into chunks by shape alone and totals are added in chunk order.
    /// </summary>
    public int MaxThreads { get; init; }

    /// <summary>
    /// SIMD vector width in bits for <see cref="Backend.Simd"/>: 0 picks the widest the CPU accelerates;
    /// 128, 256 or 512 force one (a width the CPU does not accelerate still computes correctly, slowly).
    /// </summary>
    public int VectorWidth { get; init; }

    /// <summary>Accelerator for <see cref="Backend.Gpu"/>; null means <see cref="GpuDevice.Default"/>.</summary>
    public Accelerator? Accelerator { get; init; }

    /// <summary>Default options with the given backend.</summary>
    public static ComputeOptions For(Backend backend) => new() { Backend = backend };

    /// <summary>Whether the CPU path is SIMD, the vector width, and the thread count.</summary>
    internal (bool Simd, int Width, int Threads) ResolveCpu() => Backend switch
    {
        Backend.Simd => (true, ResolveVectorWidth(), ResolveThreads()),
        Backend.Scalar => (false, 0, ResolveThreads()),
        _ => throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend."),
    };

    internal int ResolveThreads() => MaxThreads switch
    {
        < 0 => throw new ArgumentOutOfRangeException(nameof(MaxThreads), MaxThreads, "MaxThreads must be 0 (all cores) or positive."),
        0 => Environment.ProcessorCount,
        _ => MaxThreads,
    };

    internal int ResolveVectorWidth() => VectorWidth switch
    {
        0 => Kernels.Internals.SimdWidth.Best,
        128 or 256 or 512 => VectorWidth,
        _ => throw new ArgumentOutOfRangeException(nameof(VectorWidth), VectorWidth, "VectorWidth must be 0, 128, 256 or 512."),
    };
}
