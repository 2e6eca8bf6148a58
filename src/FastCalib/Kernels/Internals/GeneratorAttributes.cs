using System.ComponentModel;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// Marks a hand-written class or struct of <c>Vector256</c> helpers whose twins for <c>Vector128</c> and <c>Vector512</c>
/// the source generator emits by renaming every identifier that contains <c>256</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct, AllowMultiple = false, Inherited = false)]
internal sealed class SimdWidthTemplateAttribute : Attribute
{
}

/// <summary>Marks a generated ILGPU kernel entry point (used by tests that compile every kernel to PTX).</summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class GpuKernelEntryAttribute : Attribute
{
}
