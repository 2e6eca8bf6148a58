using System.ComponentModel;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Runs device kernels on host spans: copies inputs to the accelerator, launches, copies outputs back, frees.
/// Host-span calls on one accelerator hold its lock for their whole run, because they share its default stream;
/// device-memory calls are the caller's to order on their own streams. Device errors become
/// <see cref="DeviceException"/>s that name the operation and the sizes.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class GpuHost : IDisposable
{
    private static readonly ConditionalWeakTable<Accelerator, object> Locks = new();

    private readonly List<MemoryBuffer> _buffers = new();
    private readonly string _operation;
    private readonly string _shape;
    private readonly object _lock;

    private GpuHost(Accelerator accelerator, string operation, string shape)
    {
        Accelerator = accelerator;
        _operation = operation;
        _shape = shape;
        _lock = Locks.GetValue(accelerator, static _ => new object());
        Monitor.Enter(_lock);
    }

    /// <summary>The accelerator this operation holds.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The accelerator's default stream, on which host-span calls run.</summary>
    public AcceleratorStream Stream => Accelerator.DefaultStream;

    /// <summary>Takes the accelerator of <paramref name="options"/> (or the default one) for one operation on data of the given shape.</summary>
    public static GpuHost Open(ComputeOptions options, string operation, string shape)
    {
        var accelerator = options.Accelerator ?? GpuDevice.Default;
        var host = new GpuHost(accelerator, operation, shape);
        try
        {
            host.Run(accelerator.Bind);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return host;
    }

    /// <summary><see cref="Open(ComputeOptions, string, string)"/> for a row-major [rows, cols] matrix.</summary>
    public static GpuHost Open(ComputeOptions options, string operation, long rows, int cols) =>
        Open(options, operation, Shape(rows, cols));

    /// <summary>How messages write a matrix shape.</summary>
    public static string Shape(long rows, int cols) => $"[{rows} x {cols}]";

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

    /// <summary>A one-element float64 total on the device, set to 0.</summary>
    public ArrayView<double> Total() => Upload<double>([0.0], "the total");

    /// <summary>Runs a launch (or any device call), turning device errors into <see cref="DeviceException"/>.</summary>
    public void Run(Action action)
    {
        try
        {
            action();
        }
        catch (Exception e) when (IsDeviceError(e))
        {
            throw Failure("the device call failed", e);
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

    /// <summary>Waits for the stream and returns a one-element total.</summary>
    public double Download(ArrayView<double> total)
    {
        Span<double> value = stackalloc double[1];
        Download(total, value);
        return value[0];
    }

    /// <summary>
    /// Runs a device-view operation on host spans (the host overloads' GPU backend): <paramref name="input"/> is copied
    /// to the device, <paramref name="output"/> allocated there and copied back after <paramref name="device"/> ran on
    /// the default stream; device failures become <see cref="DeviceException"/>.
    /// </summary>
    public static void OnDevice<TIn, TOut>(ComputeOptions options, string operation, string shape, ReadOnlySpan<TIn> input, string inputName,
        Span<TOut> output, string outputName, Action<AcceleratorStream, ArrayView<TIn>, ArrayView<TOut>> device)
        where TIn : unmanaged
        where TOut : unmanaged
    {
        using var gpu = Open(options, operation, shape);
        var x = gpu.Upload(input, inputName);
        var y = gpu.Allocate<TOut>(output.Length, outputName);
        gpu.Run(() => device(gpu.Stream, x, y));
        gpu.Download(y, output);
    }

    /// <summary>
    /// Runs a device-view operation that reads two host spans and returns a host value (an accumulator's or a fit's
    /// device path): both are copied to the device first.
    /// </summary>
    public static TResult OnDevice<T1, T2, TResult>(ComputeOptions options, string operation, string shape, ReadOnlySpan<T1> first, string firstName,
        ReadOnlySpan<T2> second, string secondName, Func<AcceleratorStream, ArrayView<T1>, ArrayView<T2>, TResult> device)
        where T1 : unmanaged
        where T2 : unmanaged
    {
        using var gpu = Open(options, operation, shape);
        var a = gpu.Upload(first, firstName);
        var b = gpu.Upload(second, secondName);
        TResult result = default!;
        gpu.Run(() => result = device(gpu.Stream, a, b));
        return result;
    }

    /// <summary>Frees the device arrays and releases the accelerator.</summary>
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

    /// <summary>Wraps device errors of device-memory calls (which hold no host buffers) with the operation's name and shape.</summary>
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

    /// <summary>Whether an exception comes from the device (and becomes a <see cref="DeviceException"/>).</summary>
    public static bool IsDeviceError(Exception e) =>
        e is AcceleratorException or OutOfMemoryException or InternalCompilerException or NotSupportedException;

    private DeviceException Failure(string what, Exception e) =>
        new($"{_operation} on {Accelerator.Name} for {_shape}: {what}: {e.Message}", e);
}
