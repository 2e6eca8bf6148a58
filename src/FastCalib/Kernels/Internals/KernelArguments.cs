using System.ComponentModel;

namespace FastCalib.Kernels.Internals;

/// <summary>
/// The checks generated entry points make before any kernel runs, so that a call with inconsistent spans or views
/// is an <see cref="ArgumentException"/> naming the operation and the argument instead of a read out of bounds.
/// </summary>
/// <remarks>Generator runtime: called by generated kernel code and by the library itself. Not part of the supported API;
/// it may change between versions without notice.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class KernelArguments
{
    /// <summary>rows ≥ 0 and cols ≥ 1.</summary>
    public static void Shape(string operation, long rows, int cols)
    {
        if (cols < 1)
            throw new ArgumentOutOfRangeException("cols", cols, $"{operation}: cols must be at least 1, got {cols}.");
        if (rows < 0)
            throw new ArgumentOutOfRangeException("rows", rows, $"{operation}: rows must be at least 0, got {rows}.");
    }

    /// <summary>A row-major [rows, cols] matrix.</summary>
    public static void Matrix(string operation, string argument, long length, long rows, int cols)
    {
        if (length != rows * cols)
            throw new ArgumentException($"{operation}: {argument} has {length} elements; a [{rows} x {cols}] matrix has {rows * cols}.", argument);
    }

    /// <summary>One value per row.</summary>
    public static void PerRow(string operation, string argument, long length, long rows)
    {
        if (length != rows)
            throw new ArgumentException($"{operation}: {argument} has {length} elements but there are {rows} rows; it needs one per row.", argument);
    }

    /// <summary>A matrix whose rows are gathered by <paramref name="index"/>: whole rows, and every index one of them.</summary>
    public static void Gathered(string operation, string argument, long length, int cols, ReadOnlySpan<int> index, string indexArgument)
    {
        if (length % cols != 0)
            throw new ArgumentException($"{operation}: {argument} has {length} elements, which is not a whole number of rows of {cols} columns.", argument);
        long available = length / cols;
        for (int i = 0; i < index.Length; i++)
            if ((ulong)(uint)index[i] >= (ulong)available)
                throw new ArgumentOutOfRangeException(indexArgument, index[i], $"{operation}: {indexArgument}[{i}] is {index[i]}, but {argument} has {available} rows.");
    }

    /// <summary>A one-element total on the device.</summary>
    public static void Total(string operation, string argument, long length)
    {
        if (length != 1)
            throw new ArgumentException($"{operation}: {argument} must have exactly 1 element, got {length}.", argument);
    }
}
