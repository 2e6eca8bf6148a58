using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FastCalib;

/// <summary>Argument validation shared by the public kernels; messages name the argument, what was expected and what was seen.</summary>
internal static class Check
{
    /// <summary>
    /// The number of rows of a row-major matrix of <paramref name="length"/> elements with <paramref name="count"/>
    /// values a row (the argument <paramref name="countName"/>: classes, features, vocabulary).
    /// </summary>
    public static long Rows(string operation, string argument, long length, int count, string countName = "classes")
    {
        if (count <= 0)
            throw new ArgumentOutOfRangeException(countName, count, $"{operation}: {countName} must be at least 1, got {count}.");
        if (length % count != 0)
            throw new ArgumentException($"{operation}: {argument} has {length} elements, which is not a whole number of rows of {count} {countName}.", argument);
        return length / count;
    }

    /// <summary>
    /// The first value outside [<paramref name="low"/>, <paramref name="high"/>] (NaN is outside), or −1: a vector minimum
    /// and maximum first (NaN propagates through both), the element scan (scalar for float) only to name a bad value.
    /// </summary>
    public static int FirstOutside(ReadOnlySpan<float> values, float low, float high)
    {
        if (values.IsEmpty) return -1;
        float min = System.Numerics.Tensors.TensorPrimitives.Min(values), max = System.Numerics.Tensors.TensorPrimitives.Max(values);
        return min >= low && max <= high ? -1 : values.IndexOfAnyExceptInRange(low, high);
    }

    /// <summary>The first value that is not finite, or −1 (see <see cref="FirstOutside"/>).</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values) => FirstOutside(values, float.MinValue, float.MaxValue);

    /// <summary>The reciprocal of a temperature that must be finite and greater than 0.</summary>
    public static float InverseTemperature(string operation, float temperature)
    {
        if (!float.IsFinite(temperature) || temperature <= 0)
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"{operation}: temperature must be finite and greater than 0, got {temperature}.");
        float inverse = 1f / temperature;
        if (!float.IsFinite(inverse))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, $"{operation}: temperature {temperature} is so small that 1/temperature overflows float.");
        return inverse;
    }

    /// <summary>An array of the same shape as the input.</summary>
    public static void SameLength(string operation, string argument, long length, string reference, long expected)
    {
        if (length != expected)
            throw new ArgumentException($"{operation}: {argument} has {length} elements but {reference} has {expected}; they must have the same shape.", argument);
    }

    /// <summary>One value per row.</summary>
    public static void PerRow(string operation, string argument, long length, long rows)
    {
        if (length != rows)
            throw new ArgumentException($"{operation}: {argument} has {length} elements but there are {rows} rows; it needs one per row.", argument);
    }

    /// <summary>An array of exactly <paramref name="expected"/> elements.</summary>
    public static void Length(string operation, string argument, long length, long expected)
    {
        if (length != expected)
            throw new ArgumentException($"{operation}: {argument} must have exactly {expected} element(s), got {length}.", argument);
    }

    /// <summary>
    /// Two spans must not share memory, except that <paramref name="output"/> may be exactly <paramref name="input"/>
    /// when <paramref name="inPlaceAllowed"/> (the kernel reads each element before writing the same element).
    /// </summary>
    public static void NoOverlap<TIn, TOut>(string operation, string outputName, ReadOnlySpan<TOut> output, string inputName, ReadOnlySpan<TIn> input, bool inPlaceAllowed)
        where TIn : unmanaged
        where TOut : unmanaged
    {
        // byte ranges compared as 64-bit offsets: a span of 2^31 − 1 floats spans more bytes than an int counts
        if (output.IsEmpty || input.IsEmpty) return;
        ref byte outStart = ref Unsafe.As<TOut, byte>(ref MemoryMarshal.GetReference(output));
        ref byte inStart = ref Unsafe.As<TIn, byte>(ref MemoryMarshal.GetReference(input));
        long outBytes = (long)output.Length * Unsafe.SizeOf<TOut>(), inBytes = (long)input.Length * Unsafe.SizeOf<TIn>();
        long offset = Unsafe.ByteOffset(ref inStart, ref outStart);   // where output starts, relative to input
        if (offset >= inBytes || -offset >= outBytes) return;
        if (inPlaceAllowed && offset == 0 && outBytes == inBytes) return;
        throw new ArgumentException(inPlaceAllowed
            ? $"{operation}: {outputName} overlaps {inputName}; it may be the same span (in place) but must not partly overlap it."
            : $"{operation}: {outputName} overlaps {inputName}; they must be separate memory.", outputName);
    }
}
