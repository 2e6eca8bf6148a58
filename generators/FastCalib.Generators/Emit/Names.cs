namespace FastCalib.Generators;

/// <summary>
/// Fully qualified names for generated code. Generated code lives in the user's namespace, where a type of theirs
/// named Group, Warp or Vector256 would capture an unqualified name (a namespace's own types are found before any
/// using directive), so every type is written with <c>global::</c> and extension methods are called as static methods.
/// </summary>
internal static class Names
{
    public const string Internals = "global::FastCalib.Kernels.Internals";

    public const string MathF = "global::System.MathF";
    public const string Math = "global::System.Math";
    public const string Unsafe = "global::System.Runtime.CompilerServices.Unsafe";

    public const string CpuRows = Internals + ".CpuRows";
    public const string RowRange = Internals + ".RowRange";
    public const string SimdWidth = Internals + ".SimdWidth";
    public const string Prefetch = Internals + ".Prefetch";
    public const string GpuRows = Internals + ".GpuRows";
    public const string GpuMath = Internals + ".GpuMath";
    public const string GroupReduce = Internals + ".GroupReduce";
    public const string DeviceAtomic = Internals + ".DeviceAtomic";
    public const string ILanes = Internals + ".ILanes";
    public const string KernelEntry = "[" + Internals + ".GpuKernelEntry]";

    public const string Grid = "global::ILGPU.Grid";
    public const string Group = "global::ILGPU.Group";
    public const string Warp = "global::ILGPU.Warp";
    public const string SharedMemory = "global::ILGPU.SharedMemory";
    public const string ArrayView = "global::ILGPU.ArrayView";
    public const string AcceleratorStream = "global::ILGPU.Runtime.AcceleratorStream";
    public const string LoadKernel = "global::ILGPU.Runtime.KernelLoaders.LoadKernel";

    /// <summary>Vector128, Vector256 or Vector512 (the static class; add <c>&lt;float&gt;</c> for the type).</summary>
    public static string Vector(int width) => "global::System.Runtime.Intrinsics.Vector" + width;

    /// <summary>The SIMD helpers of one width.</summary>
    public static string SimdMath(int width) => Internals + ".SimdMath" + width;

    /// <summary>The attribute every generated type carries.</summary>
    public static string GeneratedCode => $"[global::System.CodeDom.Compiler.GeneratedCode(\"FastCalib.Generators\", \"{Version}\")]";

    public static readonly string Version = typeof(Names).Assembly.GetName().Version?.ToString() ?? "0.0.0.0";
}
