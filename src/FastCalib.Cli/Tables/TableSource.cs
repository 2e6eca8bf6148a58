using System.Numerics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace FastCalib.Cli.Tables;

/// <summary>
/// The chosen columns of a table file (Parquet, Arrow IPC) read as rows of values, one row group or record batch in
/// memory at a time. The columns are either one list column whose rows all hold the same number of values (nested
/// lists give more dimensions: a list of H lists of W values is an H x W image), or one or more scalar columns,
/// one value per column per row. Every value must be present (no nulls).
/// </summary>
internal abstract class TableSource : IDisposable
{
    private float[] _narrow = [];   // the current batch, row-major, when rows hold more than one value
    private double[] _wide = [];    // the same when rows hold one value: exact for integers and float64 labels
    private long _batchValues, _taken, _rowsLoaded;

    protected TableSource(string name) => Name = name;

    /// <summary>The file and columns, for messages (<c>preds.parquet:logits</c>).</summary>
    public string Name { get; protected set; }

    /// <summary>Rows in the file, from its metadata.</summary>
    public long Rows { get; protected set; }

    /// <summary>[rows, values per row] for scalar columns and flat lists; [rows, d1, d2, ...] for nested lists.</summary>
    public long[] Shape { get; protected set; } = [];

    /// <summary>Values per row (the product of the shape after the rows).</summary>
    public int Cols { get; protected set; } = 1;

    /// <summary>Whether every chosen column holds integers.</summary>
    public bool IsInteger { get; protected set; }

    /// <summary>Loads the next row group or record batch through <see cref="Begin"/> and <see cref="Put"/>; false at the end.</summary>
    protected abstract bool LoadNext();

    /// <summary>Starts a batch of <paramref name="rows"/> rows (called by <see cref="LoadNext"/>).</summary>
    protected void Begin(long rows)
    {
        long values = rows * Cols;
        if (values > Array.MaxLength)
            throw new InputException($"{Name}: a row group of {rows:N0} rows holds {values:N0} values, more than one array can; write the file with smaller row groups.");
        _rowsLoaded += rows;
        if (_rowsLoaded > Rows) throw new InputException($"{Name}: holds more rows than its metadata says ({Rows:N0}).");
        _batchValues = values;
        _taken = 0;
        if (Cols == 1 && _wide.Length < values) _wide = new double[values];
        if (Cols > 1 && _narrow.Length < values) _narrow = new float[values];
    }

    /// <summary>
    /// Stores <paramref name="values"/> as column <paramref name="column"/> of <paramref name="columns"/> (row-major),
    /// from value <paramref name="first"/> of the batch on; a list column is column 0 of 1.
    /// </summary>
    protected void Put<T>(ReadOnlySpan<T> values, long first, int column, int columns) where T : unmanaged, INumberBase<T>
    {
        if (Cols == 1)
        {
            var wide = _wide.AsSpan((int)first, values.Length);
            for (int i = 0; i < values.Length; i++) wide[i] = double.CreateTruncating(values[i]);
            return;
        }
        if (typeof(T) == typeof(float) && columns == 1)
        {
            MemoryMarshal.Cast<T, float>(values).CopyTo(_narrow.AsSpan((int)first));
            return;
        }
        var narrow = _narrow.AsSpan();
        for (int i = 0; i < values.Length; i++)
            narrow[(int)first + i * columns + column] = (float)double.CreateTruncating(values[i]);
    }

    /// <summary>Reads the next <paramref name="destination"/>.Length values as float32.</summary>
    public void ReadFloats(Span<float> destination)
    {
        while (destination.Length > 0)
        {
            int n = Available(destination.Length);
            if (Cols == 1)
                for (int i = 0; i < n; i++) destination[i] = (float)_wide[_taken + i];
            else _narrow.AsSpan((int)_taken, n).CopyTo(destination);
            _taken += n;
            destination = destination[n..];
        }
    }

    /// <summary>Reads the next <paramref name="destination"/>.Length values as integers through <paramref name="toInt"/> (value, position).</summary>
    public void ReadInts(Span<int> destination, Func<double, long, int> toInt)
    {
        long position = _rowsLoaded * Cols - _batchValues + _taken;
        while (destination.Length > 0)
        {
            int n = Available(destination.Length);
            for (int i = 0; i < n; i++)
                destination[i] = toInt(Cols == 1 ? _wide[_taken + i] : _narrow[_taken + i], position + i);
            _taken += n;
            position += n;
            destination = destination[n..];
        }
    }

    private int Available(int wanted)
    {
        while (_taken == _batchValues)
        {
            if (!LoadNext())
                throw new InputException(_rowsLoaded < Rows
                    ? $"{Name}: ends after {_rowsLoaded:N0} rows; its metadata says {Rows:N0}."
                    : $"{Name}: asked for more values than the file holds.");
        }
        return (int)Math.Min(wanted, _batchValues - _taken);
    }

    /// <summary>
    /// The columns a spec names, in the file's order: <c>name</c>, <c>a,b,c</c>, or patterns with <c>*</c>
    /// (<c>p*</c>); none named: the only column. <paramref name="describe"/> lists the file's columns for messages.
    /// </summary>
    internal static int[] Select(string file, IReadOnlyList<string> columns, string spec, Func<string> describe)
    {
        if (spec.Length == 0)
        {
            if (columns.Count == 1) return [0];
            throw new InputException($"{file}: holds {columns.Count} columns ({describe()}); name the ones to read as {file}:COLUMN, {file}:A,B,C or {file}:PREFIX*.");
        }
        var chosen = new List<int>();
        foreach (string part in spec.Split(',', StringSplitOptions.TrimEntries))
        {
            var pattern = new Regex("^" + Regex.Escape(part).Replace(@"\*", ".*") + "$", RegexOptions.CultureInvariant);
            var matches = Enumerable.Range(0, columns.Count).Where(i => pattern.IsMatch(columns[i])).ToList();
            if (matches.Count == 0) throw new InputException($"{file}: no column '{part}' (it holds {describe()}).");
            foreach (int m in matches)
            {
                if (chosen.Contains(m)) throw new InputException($"{file}: column '{columns[m]}' is named twice in '{spec}'.");
                chosen.Add(m);
            }
        }
        return chosen.ToArray();
    }

    /// <summary>
    /// Records the length of a list at <paramref name="depth"/> (0: the row's outer list) in <paramref name="dims"/>
    /// (-1: not seen yet): every list at one depth must have one length; another is an error naming the row.
    /// </summary>
    protected void CheckDimensions(long[] dims, int depth, long length, long row)
    {
        if (length <= 0)
            throw new InputException(length == 0 ? $"{Name}: row {row:N0} holds an empty list." : $"{Name}: row {row:N0} has a list of negative length; the file is corrupt.");
        if (dims[depth] < 0) dims[depth] = length;
        else if (dims[depth] != length)
            throw new InputException(depth == 0
                ? $"{Name}: row {row:N0} holds {length} values where earlier rows hold {dims[0]}; every row needs the same number."
                : $"{Name}: row {row:N0} holds lists of {length} values at depth {depth + 1} where earlier rows hold {dims[depth]}.");
    }

    /// <summary>Fixes the shape once the first batch has shown the per-row dimensions (later batches must agree).</summary>
    protected void SetShape(long[] perRow)
    {
        if (Shape.Length > 0)
        {
            if (!Shape.AsSpan(1).SequenceEqual(perRow))
                throw new InputException($"{Name}: rows from row {_rowsLoaded:N0} on hold [{string.Join(", ", perRow)}] values where earlier rows hold [{string.Join(", ", Shape[1..])}].");
            return;
        }
        long cols = 1;
        foreach (long d in perRow) cols *= d;
        if (cols > ArraySource.MaxRowValues)
            throw new InputException($"{Name}: rows of {cols:N0} values; rows must hold at most {ArraySource.MaxRowValues:N0} (the tool reads whole rows).");
        Cols = (int)cols;
        Shape = [Rows, .. perRow];
    }

    public abstract void Dispose();
}
