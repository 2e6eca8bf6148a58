using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace FastCalib;

/// <summary>
/// The accelerator that <see cref="Backend.Gpu"/> uses when the caller names none: the first CUDA device if
/// there is one, otherwise ILGPU's CPU accelerator (which runs the same kernels as ordinary .NET code).
/// Setting the environment variable <c>FASTCALIB_GPU=cpu</c> forces the CPU accelerator.
/// </summary>
public static class GpuDevice
{
    private static readonly Lazy<Context> SharedContext = new(CreateContext);
    private static readonly Lazy<Accelerator> SharedDefault = new(CreateDefault);

    /// <summary>The ILGPU context FastCalib creates for its default accelerator (with ILGPU.Algorithms enabled).</summary>
    public static Context Context => SharedContext.Value;

    /// <summary>The default accelerator, created on first use and kept for the life of the process.</summary>
    public static Accelerator Default => SharedDefault.Value;

    /// <summary>Whether a CUDA device is present (and not disabled with <c>FASTCALIB_GPU=cpu</c>).</summary>
    public static bool HasCuda =>
        !string.Equals(Environment.GetEnvironmentVariable("FASTCALIB_GPU"), "cpu", StringComparison.OrdinalIgnoreCase)
        && Context.GetCudaDevices().Count > 0;

    /// <summary>
    /// Creates a context with the settings FastCalib's kernels need (ILGPU.Algorithms for XMath, fast 32-bit math;
    /// not the 32-bit-only mode, which would demote the float64 totals); for users who manage their own accelerators.
    /// </summary>
    public static Context CreateContext() =>
        Context.Create(builder => builder.Default().EnableAlgorithms().Math(MathMode.Fast));

    private static Accelerator CreateDefault()
    {
        var context = Context;
        try
        {
            if (HasCuda) return context.CreateCudaAccelerator(0);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new DeviceException($"GpuDevice.Default: a CUDA device is present but could not be opened ({e.Message}). Set FASTCALIB_GPU=cpu to use the CPU accelerator.", e);
        }
        return context.CreateCPUAccelerator(0);
    }
}

/// <summary>A device operation failed (no device, out of device memory, a launch failure); the message names the operation and sizes.</summary>
public sealed class DeviceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DeviceException(string message, Exception? inner = null) : base(message, inner)
    {
    }
}
