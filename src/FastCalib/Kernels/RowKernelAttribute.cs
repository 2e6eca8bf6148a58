namespace FastCalib.Kernels;

/// <summary>
/// Marks a static method in a <c>static partial class</c> as the one definition of a row-wise kernel.
/// The FastCalib source generator turns its body into the scalar, SIMD CPU and ILGPU paths of the kernel,
/// emitted into the same class as a nested class named <c>&lt;Method&gt;Kernel</c>.
/// </summary>
/// <remarks>
/// <para>The definition is ordinary C# that also runs as written (one row at a time, slowly), which is how the
/// generated paths are tested against it. Parameters:</para>
/// <list type="bullet">
/// <item><see cref="ReadOnlyRow"/>: an input matrix [rows, cols], seen one row at a time.</item>
/// <item><see cref="Row"/>: an output matrix [rows, cols]; it may be read after it was written.</item>
/// <item><c>float</c>: a uniform value shared by all rows.</item>
/// <item><c>in float</c> / <c>in int</c>: one input value per row (an int, e.g. a label, may index <c>Rows.At</c> and be
/// compared with <c>==</c> / <c>!=</c> to another int).</item>
/// <item><c>out float</c> / <c>out int</c>: one output value per row.</item>
/// <item><c>ref double</c>: a total over all rows, accumulated with <c>+=</c> (in float64).</item>
/// </list>
/// <para>Statements: a <c>float</c> local bound to <see cref="Rows"/> <c>Max</c>, <c>Min</c>, <c>Sum</c>,
/// <c>MapSum</c> or <c>At</c>; an <c>int</c> local bound to <see cref="Rows.ArgMax(ReadOnlyRow, Func{float, float})"/>;
/// a <c>float</c> local bound to an expression; <see cref="Rows"/> <c>Map</c>; an assignment to an <c>out</c>
/// parameter; <c>total += expression</c> on a <c>ref double</c> parameter. Expressions use <c>float</c> literals,
/// parameters and locals, <c>+ - * /</c>, unary minus, comparisons and <c>&amp;&amp; || !</c> inside a
/// conditional <c>c ? a : b</c>, and <c>MathF.Exp/Log/Sqrt/Abs/Min/Max</c>. Anything else is reported as a
/// compile-time diagnostic (FCG0xx).</para>
/// <para>What is generated, in the nested class <c>&lt;Method&gt;Kernel</c>: <c>Host(options, operation, rows, cols, ...)</c>
/// runs the kernel over host spans on the backend of a <see cref="ComputeOptions"/> and returns the total (0 without
/// one); <c>Device(stream, operation, rows, cols, ...)</c> launches it over ILGPU views on a stream (the total view is
/// overwritten). Both take the kernel's parameters in order (spans or views; uniforms as values; no total on the
/// host), check every length against the shape, and report device failures as <see cref="DeviceException"/> naming
/// <c>operation</c> and the shape. The other members (<c>Cpu</c>, <c>Scalar</c>, <c>Simd</c>, <c>Gpu</c> and the ILGPU
/// entry points) are the building blocks those two use.</para>
/// <para>Names starting with <c>__</c> and the names in <see cref="ReservedNames"/> belong to the generated code and
/// cannot name parameters or locals (FCG007).</para>
/// </remarks>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
public sealed class RowKernelAttribute : Attribute
{
    /// <summary>The names generated entry points use for their own parameters and locals, comma-separated.</summary>
    public const string ReservedNames = "rows, cols, simd, vectorWidth, maxThreads, stream, accelerator, kernel, tile, options, operation";
}

/// <summary>
/// On a <see cref="ReadOnlyRow"/> parameter of a row kernel: row r of this input is not row r of its matrix but row
/// index[r], where <c>index</c> is the named <c>in int</c> parameter (e.g. the mixup partner of each sample).
/// The caller guarantees every index is a valid row.
/// </summary>
[AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
public sealed class RowFromAttribute : Attribute
{
    /// <summary>Names the <c>in int</c> parameter that holds each row's source row.</summary>
    public RowFromAttribute(string index) => Index = index;

    /// <summary>The <c>in int</c> parameter holding the row indices.</summary>
    public string Index { get; }
}
