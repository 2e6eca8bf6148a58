using System.ComponentModel;

namespace FastCalib.Kernels;

/// <summary>One row of an input matrix inside a <see cref="RowKernelAttribute"/> definition.</summary>
public readonly ref struct ReadOnlyRow
{
    private readonly ReadOnlySpan<float> _values;

    /// <summary>Wraps the values of one row.</summary>
    public ReadOnlyRow(ReadOnlySpan<float> values) => _values = values;

    /// <summary>Number of columns.</summary>
    public int Length => _values.Length;

    /// <summary>The value in column <paramref name="index"/>.</summary>
    public float this[int index] => _values[index];
}

/// <summary>One row of an output matrix inside a <see cref="RowKernelAttribute"/> definition.</summary>
public readonly ref struct Row
{
    private readonly Span<float> _values;

    /// <summary>Wraps the values of one row.</summary>
    public Row(Span<float> values) => _values = values;

    /// <summary>Number of columns.</summary>
    public int Length => _values.Length;

    /// <summary>The value in column <paramref name="index"/>.</summary>
    public ref float this[int index] => ref _values[index];

    /// <summary>An output row can be read by later stages.</summary>
    public static implicit operator ReadOnlyRow(Row row) => new(row._values);
}

/// <summary>
/// The row patterns a <see cref="RowKernelAttribute"/> definition is made of: reductions (Max, Min, Sum, ArgMax),
/// maps (Map) and map-reductions (MapSum), each applying an element function to one to three rows column by column.
/// These implementations define the meaning; the generator emits the fast equivalents.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public static class Rows
{
    /// <summary>Maximum of <paramref name="f"/> over the row; NaN if any value is NaN (as <see cref="MathF.Max(float, float)"/>).</summary>
    public static float Max(ReadOnlyRow a, Func<float, float> f)
    {
        float m = float.NegativeInfinity;
        for (int j = 0; j < a.Length; j++) m = MathF.Max(m, f(a[j]));
        return m;
    }

    /// <summary>Minimum of <paramref name="f"/> over the row; NaN if any value is NaN.</summary>
    public static float Min(ReadOnlyRow a, Func<float, float> f)
    {
        float m = float.PositiveInfinity;
        for (int j = 0; j < a.Length; j++) m = MathF.Min(m, f(a[j]));
        return m;
    }

    /// <summary>Sum of <paramref name="f"/> over the row.</summary>
    public static float Sum(ReadOnlyRow a, Func<float, float> f)
    {
        float s = 0;
        for (int j = 0; j < a.Length; j++) s += f(a[j]);
        return s;
    }

    /// <summary>Sum of <paramref name="f"/> over two rows column by column.</summary>
    public static float Sum(ReadOnlyRow a, ReadOnlyRow b, Func<float, float, float> f)
    {
        float s = 0;
        for (int j = 0; j < a.Length; j++) s += f(a[j], b[j]);
        return s;
    }

    /// <summary>Sum of <paramref name="f"/> over three rows column by column.</summary>
    public static float Sum(ReadOnlyRow a, ReadOnlyRow b, ReadOnlyRow c, Func<float, float, float, float> f)
    {
        float s = 0;
        for (int j = 0; j < a.Length; j++) s += f(a[j], b[j], c[j]);
        return s;
    }

    /// <summary>
    /// Index of the first maximum of <paramref name="f"/> over the row, NaN counting as greater than every number
    /// (the NumPy and PyTorch convention). Returns 0 for a row of -infinity.
    /// </summary>
    public static int ArgMax(ReadOnlyRow a, Func<float, float> f)
    {
        int best = 0;
        float bestValue = a.Length > 0 ? f(a[0]) : float.NegativeInfinity;
        for (int j = 1; j < a.Length; j++)
        {
            float v = f(a[j]);
            if (v > bestValue || (float.IsNaN(v) && !float.IsNaN(bestValue)))
            {
                best = j;
                bestValue = v;
            }
        }
        return best;
    }

    /// <summary>The value of a row at a column index produced by <see cref="ArgMax"/>.</summary>
    public static float At(ReadOnlyRow a, int index) => a[index];

    /// <summary>Writes <paramref name="f"/> of each column into <paramref name="into"/>.</summary>
    public static void Map(Row into, ReadOnlyRow a, Func<float, float> f)
    {
        for (int j = 0; j < a.Length; j++) into[j] = f(a[j]);
    }

    /// <summary>Writes <paramref name="f"/> of two rows, column by column, into <paramref name="into"/>.</summary>
    public static void Map(Row into, ReadOnlyRow a, ReadOnlyRow b, Func<float, float, float> f)
    {
        for (int j = 0; j < a.Length; j++) into[j] = f(a[j], b[j]);
    }

    /// <summary>Writes <paramref name="f"/> of three rows, column by column, into <paramref name="into"/>.</summary>
    public static void Map(Row into, ReadOnlyRow a, ReadOnlyRow b, ReadOnlyRow c, Func<float, float, float, float> f)
    {
        for (int j = 0; j < a.Length; j++) into[j] = f(a[j], b[j], c[j]);
    }

    /// <summary>Writes <paramref name="f"/> of each column into <paramref name="into"/> and returns the sum of what was written.</summary>
    public static float MapSum(Row into, ReadOnlyRow a, Func<float, float> f)
    {
        float s = 0;
        for (int j = 0; j < a.Length; j++) s += into[j] = f(a[j]);
        return s;
    }

    /// <summary>Two-row <see cref="MapSum(Row, ReadOnlyRow, Func{float, float})"/>.</summary>
    public static float MapSum(Row into, ReadOnlyRow a, ReadOnlyRow b, Func<float, float, float> f)
    {
        float s = 0;
        for (int j = 0; j < a.Length; j++) s += into[j] = f(a[j], b[j]);
        return s;
    }
}
