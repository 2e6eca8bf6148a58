namespace FastCalib.Kernels;

/// <summary>
/// On a <c>static partial class</c>: the source generator emits into it, for each radix named, the straight-line
/// butterflies of a mixed-radix FFT: a Stockham stage over lane values (<c>Stage&lt;TL, T&gt;</c>, for the scalar
/// and SIMD paths, see <see cref="ILanes{TValue}"/>) and one butterfly over float views (<c>GpuButterfly</c>, for
/// ILGPU kernels), plus <c>Radices</c> and <c>Supports(radix)</c>. Radices go from 2 to 32; anything else is
/// reported as FCG009.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class FftRadicesAttribute : Attribute
{
    /// <summary>Names the radices to generate.</summary>
    public FftRadicesAttribute(params int[] radices) => Radices = radices;

    /// <summary>The radices named.</summary>
    public IReadOnlyList<int> Radices { get; }
}
