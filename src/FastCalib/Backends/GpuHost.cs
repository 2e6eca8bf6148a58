using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib;

/// <summary>
/// Runs device kernels on host spans: copies inputs to the accelerator, launches, copies outputs back, frees.
/// Host-span calls on one accelerator hold its lock for their whole run, because they share its default stream;
/// device-memory calls are the caller's to order on their own streams. Device errors become
/// <see cref="DeviceException"/>s that name the operation and the sizes.
/// </summary>
internal sealed class GpuHost : IDisposable
{
    private static readonly ConditionalWeakTable<Accelerator, object> Locks = new();

    private readonly List<MemoryBuffer> _buffers = new();
    private readonly string _operation;
    private readonly object _lock;

    private GpuHost(Accelerator accelerator, string operation)
    {
        Accelerator = accelerator;
        _operation = operation;
        _lock = Locks.GetValue(accelerator, static _ => new object());
        Monitor.Enter(_lock);
    }

    public Accelerator Accelerator { get; }

    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>Takes the accelerator of <paramref name="options"/> (or the default one) for one operation.</summary>
    public static GpuHost Open(ComputeOptions options, string operation)
    {
        var accelerator = options.Accelerator ?? GpuDevice.Default;
        var host = new GpuHost(accelerator, operation);
        host.Guard(accelerator.Bind);
        return host;
    }

    /// <summary>A device copy of <paramref name="data"/>.</summary>
    public ArrayView<T> Upload<T>(ReadOnlySpan<T> data, string what) where T : unmanaged
    {
        var view = Allocate<T>(data.Length, what);
        try
        {
            if (data.Length > 0) view.CopyFromCPU(data);
        }
        catch (Exception e) when (IsDeviceError(e))
        {
            throw Failure($"could not copy {what} ({data.Length} elements) to the device", e);
        }
        return view;
    }

    /// <summary>An uninitialised device array of <paramref name="length"/> elements.</summary>
    public ArrayView<T> Allocate<T>(long length, string what) where T : unmanaged
    {
        try
        {
            var buffer = Accelerator.Allocate1D<T>(Math.Max(1, length));
            _buffers.Add(buffer);
            return buffer.View.SubView(0, length);
        }
        catch (Exception e) when (IsDeviceError(e) || e is ArgumentException)
        {
            throw Failure($"could not allocate {what} ({length} elements, {length * Unsafe.SizeOf<T>()} bytes)", e);
        }
    }

    /// <summary>Runs a launch (or any device call), turning device errors into <see cref="DeviceException"/>.</summary>
    public void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsDeviceError(e))
        {
            throw Failure("the kernel failed", e);
        }
    }

    /// <summary>Waits for the stream and copies a device array back to host memory.</summary>
    public void Download<T>(ArrayView<T> view, Span<T> destination) where T : unmanaged
    {
        try
        {
            Stream.Synchronize();
            if (destination.Length > 0) view.SubView(0, destination.Length).CopyToCPU(destination);
        }
        catch (Exception e) when (IsDeviceError(e))
        {
            throw Failure($"could not copy {destination.Length} elements back from the device", e);
        }
    }

    public void Dispose()
    {
        try
        {
            foreach (var buffer in _buffers) buffer.Dispose();
        }
        finally
        {
            Monitor.Exit(_lock);
        }
    }

    /// <summary>Wraps device errors of device-memory calls (which hold no host buffers) with the operation's name.</summary>
    public static void Launch(string operation, AcceleratorStream stream, string shape, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsDeviceError(e))
        {
            throw new DeviceException($"{operation} on {stream.Accelerator.Name} for {shape} failed: {e.Message}", e);
        }
    }

    internal static bool IsDeviceError(Exception e) =>
        e is AcceleratorException or OutOfMemoryException or InternalCompilerException or NotSupportedException;

    private DeviceException Failure(string what, Exception e) =>
        new($"{_operation} on {Accelerator.Name}: {what}: {e.Message}", e);
}
