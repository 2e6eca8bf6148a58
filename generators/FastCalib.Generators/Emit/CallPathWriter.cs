using System.Collections.Generic;
using System.Linq;

namespace FastCalib.Generators;

/// <summary>
/// The call paths of a kernel, so that public methods are argument checks plus one call:
/// <list type="bullet">
/// <item><c>Host</c>: host spans on the backend of a ComputeOptions. The CPU path pins the spans and runs
/// <c>Cpu</c>; the GPU path uploads the inputs (once for spans that are the same), allocates the outputs, seeds the
/// total, launches, downloads, and turns device failures into DeviceException naming the operation and the shape.
/// Returns the total (0 without one).</item>
/// <item><c>Device</c>: device views on the caller's stream (asynchronous); the total view, if any, is overwritten.</item>
/// </list>
/// Both check that every span or view fits the shape first.
/// </summary>
internal static class CallPathWriter
{
    private const string Span = "global::System.Span";
    private const string ReadOnlySpan = "global::System.ReadOnlySpan";
    private const string Host = Names.Internals + ".GpuHost";
    private const string Checks = Names.Internals + ".KernelArguments";

    private static string HostType(ParamKind kind) => kind switch
    {
        ParamKind.InRow or ParamKind.RowFloat => ReadOnlySpan + "<float>",
        ParamKind.RowInt => ReadOnlySpan + "<int>",
        ParamKind.OutRow or ParamKind.OutFloat => Span + "<float>",
        ParamKind.OutInt => Span + "<int>",
        _ => "float",
    };

    private static bool IsInput(ParamKind kind) => kind is ParamKind.InRow or ParamKind.RowFloat or ParamKind.RowInt;

    private static bool IsOutput(ParamKind kind) => kind is ParamKind.OutRow or ParamKind.OutFloat or ParamKind.OutInt;

    private static string Element(ParamKind kind) => kind is ParamKind.RowInt or ParamKind.OutInt ? "int" : "float";

    /// <summary>The length checks of one span or view of either entry.</summary>
    private static void EmitChecks(KernelContext k, string length, bool host)
    {
        var w = k.W;
        w.Line($"{Checks}.Shape(operation, rows, cols);");
        foreach (var p in k.Kernel.Params)
        {
            string len = string.Format(length, p.Name);
            switch (p.Kind)
            {
                case ParamKind.InRow when p.RowFrom.Length > 0:
                    break;
                case ParamKind.InRow or ParamKind.OutRow:
                    w.Line($"{Checks}.Matrix(operation, \"{p.Name}\", {len}, rows, cols);");
                    break;
                case ParamKind.RowFloat or ParamKind.RowInt or ParamKind.OutFloat or ParamKind.OutInt:
                    w.Line($"{Checks}.PerRow(operation, \"{p.Name}\", {len}, rows);");
                    break;
                case ParamKind.Total when !host:
                    w.Line($"{Checks}.Total(operation, \"{p.Name}\", {len});");
                    break;
            }
        }
    }

    public static void EmitHost(KernelContext k)
    {
        var w = k.W;
        var ps = k.Kernel.Params.Where(p => p.Kind != ParamKind.Total).ToList();
        string parameters = string.Join(", ", ps.Select(p => $"{HostType(p.Kind)} {p.Name}"));
        w.Line("/// <summary>");
        w.Line("/// Runs the kernel over host spans (row-major [rows, cols] matrices, one value per row for per-row inputs and outputs) on");
        w.Line("/// the backend of <paramref name=\"options\"/>; device failures become DeviceException naming <paramref name=\"operation\"/>");
        w.Line("/// and the shape. Returns the kernel's total (0 if it has none).");
        w.Line("/// </summary>");
        w.Open($"public static double Host(global::FastCalib.ComputeOptions options, string operation, long rows, int cols, {parameters})");
        EmitChecks(k, "{0}.Length", host: true);
        foreach (var p in ps.Where(p => p.RowFrom.Length > 0))
            w.Line($"{Checks}.Gathered(operation, \"{p.Name}\", {p.Name}.Length, cols, {p.RowFrom}, \"{p.RowFrom}\");");
        w.Line("if (rows == 0) return 0;");
        w.Open("if (options.Backend == global::FastCalib.Backend.Gpu)");
        w.Line($"using var __gpu = {Host}.Open(options, operation, rows, cols);");
        var uploaded = new List<ParamModel>();
        foreach (var p in ps)
        {
            if (IsInput(p.Kind))
            {
                // a span passed twice (a matrix and its gathered rows) is copied once
                string upload = $"__gpu.Upload({p.Name}, \"{p.Name}\")";
                foreach (var q in uploaded.Where(q => Element(q.Kind) == Element(p.Kind)))
                    upload = $"{p.Name} == {q.Name} ? __d_{q.Name} : {upload}";
                w.Line($"var __d_{p.Name} = {upload};");
                uploaded.Add(p);
            }
            else if (IsOutput(p.Kind))
                w.Line($"var __d_{p.Name} = __gpu.Allocate<{Element(p.Kind)}>({p.Name}.Length, \"{p.Name}\");");
        }
        if (k.TotalName is { } total) w.Line($"var __d_{total} = __gpu.Total();");
        string views = string.Join(", ", k.Kernel.Params.Select(p => p.Kind == ParamKind.Uniform ? p.Name : "__d_" + p.Name));
        w.Line($"__gpu.Run(() => Gpu(__gpu.Stream, {views}, rows, cols));");
        foreach (var p in ps.Where(p => IsOutput(p.Kind)))
            w.Line($"__gpu.Download(__d_{p.Name}, {p.Name});");
        w.Line(k.TotalName is { } t ? $"return __gpu.Download(__d_{t});" : "return 0;");
        w.Close();
        w.Line($"var (__simd, __width, __threads) = {Names.CpuRows}.Resolve(options);");
        foreach (var p in ps.Where(p => p.Kind != ParamKind.Uniform))
            w.Line($"fixed ({Element(p.Kind)}* __p_{p.Name} = {p.Name})");
        string pointers = string.Join(", ", ps.Select(p => p.Kind == ParamKind.Uniform ? p.Name : "__p_" + p.Name));
        w.Line($"    return Cpu(__simd, __width, __threads, rows, cols, {pointers});");
        w.Close().Line();
    }

    public static void EmitDevice(KernelContext k)
    {
        var w = k.W;
        string parameters = string.Join(", ", k.Kernel.Params.Select(p => $"{KernelContext.ViewType(p.Kind)} {p.Name}"));
        w.Line("/// <summary>");
        w.Line("/// Launches the kernel on <paramref name=\"stream\"/> over device views (asynchronous; the caller orders the stream);");
        w.Line("/// device failures become DeviceException naming <paramref name=\"operation\"/> and the shape.");
        if (k.TotalName is { } t) w.Line($"/// <paramref name=\"{t}\"/> (one element) is overwritten with the total.");
        w.Line("/// </summary>");
        w.Open($"public static void Device({Names.AcceleratorStream} stream, string operation, long rows, int cols, {parameters})");
        EmitChecks(k, "{0}.Length", host: false);
        w.Open($"{Host}.Launch(operation, stream, {Host}.Shape(rows, cols), () =>");
        if (k.TotalName is { } total) w.Line($"global::ILGPU.Runtime.ArrayViewExtensions.MemSetToZero({total}, stream);");
        w.Line($"Gpu(stream, {k.GpuArgs()});");
        w.Close(");");
        w.Close().Line();
    }
}
