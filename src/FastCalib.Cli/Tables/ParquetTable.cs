using System.Numerics;
using Parquet;
using Parquet.Schema;

namespace FastCalib.Cli.Tables;

/// <summary>
/// Columns of a Parquet file, one row group at a time, through Parquet.Net (fully managed: the tool ships no native
/// Parquet library). A column chunk is decoded whole, so a row group of the chosen columns must fit in memory.
/// Lists are read from their repetition and definition levels (the Dremel encoding): every entry must be present.
/// </summary>
internal sealed class ParquetTable : TableSource
{
    private readonly FileStream _stream;
    private readonly ParquetReader _reader;
    private readonly DataField[] _leaves;
    private int _nextGroup;
    private long _groupFirstRow, _nextGroupFirstRow;   // row numbers for messages
    private int[] _definitions = [], _repetitions = [];

    public ParquetTable(string path, string columnSpec) : base(path)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try
        {
            _reader = ParquetFooter.Open(_stream, ParquetFooter.Check(_stream, path), path);
            var fields = _reader.Schema.Fields;
            string Describe() => string.Join(", ", fields.Select(f => $"{f.Name} ({TypeName(f)})"));
            int[] chosen = Select(path, fields.Select(f => f.Name).ToList(), columnSpec, Describe);
            Name = columnSpec.Length == 0 ? path : $"{path}:{string.Join(",", chosen.Select(i => fields[i].Name))}";
            _leaves = chosen.Select(i => Leaf(fields[i])).ToArray();
            if (_leaves.Length > 1 && _leaves.Any(l => l.MaxRepetitionLevel > 0))
                throw new InputException($"{Name}: choose one list column or several scalar columns, not both.");
            IsInteger = _leaves.All(l => IsIntegerType(l.ClrType));
            Rows = _reader.Metadata?.NumRows ?? 0;
            if (_leaves[0].MaxRepetitionLevel == 0) SetShape(_leaves.Length == 1 ? [] : [_leaves.Length]);
            else if (Rows > 0) LoadNext();   // the first row group shows the lists' lengths
            else SetShape([1]);
        }
        catch (Exception e)
        {
            _reader?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _stream.Dispose();
            if (e is InputException) throw;
            throw new InputException($"{path}: not a readable Parquet file ({e.Message}).");
        }
    }

    private DataField Leaf(Field field)
    {
        var leaves = _reader.Schema.GetDataFields().Where(d => d.Path.FirstPart == field.Name).ToArray();
        if (field.SchemaType is SchemaType.Struct or SchemaType.Map || leaves.Length != 1)
            throw new InputException($"{Name}: column '{field.Name}' is a {TypeName(field)}; numeric columns and lists of numbers are read.");
        var leaf = leaves[0];
        if (!IsIntegerType(leaf.ClrType) && leaf.ClrType != typeof(float) && leaf.ClrType != typeof(double) && leaf.ClrType != typeof(Half))
            throw new InputException($"{Name}: column '{field.Name}' holds {TypeName(leaf)} values; numeric columns and lists of numbers are read.");
        return leaf;
    }

    private static string TypeName(Field f) => f switch
    {
        DataField d when d.ClrType == typeof(float) => "float32",
        DataField d when d.ClrType == typeof(double) => "float64",
        DataField d when d.ClrType == typeof(Half) => "float16",
        DataField d when IsIntegerType(d.ClrType) => (d.ClrType == typeof(byte) || d.ClrType.Name.StartsWith('U') ? "uint" : "int")
            + System.Runtime.InteropServices.Marshal.SizeOf(d.ClrType) * 8,
        DataField d when d.SchemaElement?.ConvertedType == Parquet.Meta.ConvertedType.UTF8 || d.SchemaElement?.LogicalType?.STRING is not null => "string",
        DataField d => d.ClrType.IsGenericType ? "binary" : d.ClrType.Name.ToLowerInvariant(),
        ListField l => $"list<{TypeName(l.Item)}>",
        _ => f.SchemaType.ToString().ToLowerInvariant(),
    };

    private static bool IsIntegerType(Type t) =>
        t == typeof(sbyte) || t == typeof(byte) || t == typeof(short) || t == typeof(ushort)
        || t == typeof(int) || t == typeof(uint) || t == typeof(long) || t == typeof(ulong);

    protected override bool LoadNext()
    {
        if (_nextGroup >= _reader.RowGroupCount) return false;
        using var group = _reader.OpenRowGroupReader(_nextGroup++);
        _groupFirstRow = _nextGroupFirstRow;
        _nextGroupFirstRow += group.RowCount;
        try
        {
            for (int c = 0; c < _leaves.Length; c++)
            {
                var leaf = _leaves[c];
                Type t = leaf.ClrType;
                if (t == typeof(float)) Read<float>(group, leaf, c);
                else if (t == typeof(double)) Read<double>(group, leaf, c);
                else if (t == typeof(Half)) Read<Half>(group, leaf, c);
                else if (t == typeof(long)) Read<long>(group, leaf, c);
                else if (t == typeof(int)) Read<int>(group, leaf, c);
                else if (t == typeof(short)) Read<short>(group, leaf, c);
                else if (t == typeof(sbyte)) Read<sbyte>(group, leaf, c);
                else if (t == typeof(ulong)) Read<ulong>(group, leaf, c);
                else if (t == typeof(uint)) Read<uint>(group, leaf, c);
                else if (t == typeof(ushort)) Read<ushort>(group, leaf, c);
                else Read<byte>(group, leaf, c);
            }
        }
        catch (Exception e) when (e is not InputException)
        {
            throw new InputException($"{Name}: row group {_nextGroup - 1} is not readable ({e.Message}).");
        }
        return true;
    }

    private void Read<T>(ParquetRowGroupReader group, DataField leaf, int column) where T : unmanaged, INumberBase<T>
    {
        long rows = group.RowCount;
        long entries = group.GetMetadata(leaf)?.MetaData?.NumValues ?? throw new InputException($"{Name}: row group {_nextGroup - 1} has no metadata for '{leaf.Name}'.");
        if (entries > Array.MaxLength)
            throw new InputException($"{Name}: a row group holds {entries:N0} values, more than one array can; write the file with smaller row groups.");
        int n = (int)entries;
        var values = new T[n];
        // the reader wants both level buffers whatever the column's levels; they are reused across row groups
        if (_definitions.Length < n) (_definitions, _repetitions) = (new int[n], new int[n]);
        group.ReadRawAsync<T>(leaf, values, _definitions.AsMemory(0, n), _repetitions.AsMemory(0, n)).GetAwaiter().GetResult();
        int[]? definitions = leaf.MaxDefinitionLevel > 0 ? _definitions : null;
        int[]? repetitions = leaf.MaxRepetitionLevel > 0 ? _repetitions : null;
        long firstRow = _groupFirstRow;
        if (definitions is not null)
        {
            int missing = definitions.AsSpan(0, n).IndexOfAnyExcept(leaf.MaxDefinitionLevel);
            if (missing >= 0)
                throw new InputException($"{Name}: row {firstRow + RowOf(repetitions, missing):N0} holds a null or an empty list; every value must be present.");
        }
        if (repetitions is null)
        {
            if (n != rows) throw new InputException($"{Name}: a row group of {rows:N0} rows holds {n:N0} values of '{leaf.Name}'.");
            if (column == 0) Begin(rows);
            Put<T>(values, 0, column, _leaves.Length);
            return;
        }
        SetShape(ListDimensions(repetitions.AsSpan(0, n), leaf.MaxRepetitionLevel, firstRow));
        if (n != rows * Cols) throw new InputException($"{Name}: a row group of {rows:N0} rows holds {n:N0} values; rows of {Cols} need {rows * Cols:N0}.");
        Begin(rows);
        Put<T>(values, 0, 0, 1);
    }

    private static long RowOf(int[]? repetitions, int entry)
    {
        if (repetitions is null) return entry;
        long row = -1;
        for (int i = 0; i <= entry; i++) if (repetitions[i] == 0) row++;
        return row;
    }

    /// <summary>
    /// The per-row dimensions of nested lists from repetition levels: level 0 starts a row and level j starts a new list
    /// at depth j. The first row gives the lengths; every entry must then carry the level a dense array of that shape
    /// implies (the outermost dimension whose index changes), or the lists are ragged and the row is named.
    /// </summary>
    private long[] ListDimensions(ReadOnlySpan<int> repetitions, int depth, long firstRow)
    {
        var counts = new long[depth + 1];   // counts[j]: entries of the first row with level <= j
        int end = 1;
        while (end < repetitions.Length && repetitions[end] != 0) end++;
        for (int i = 0; i < end; i++)
            for (int j = repetitions[i]; j <= depth; j++) counts[j]++;
        var dims = new long[depth];
        for (int j = 1; j <= depth; j++) dims[j - 1] = counts[j] / counts[j - 1];
        var strides = new long[depth + 1];  // strides[j]: entries per list at depth j
        strides[depth] = 1;
        for (int j = depth - 1; j >= 0; j--) strides[j] = strides[j + 1] * dims[j];
        // the levels a row of this shape carries (the outermost dimension whose index changes), then every row must match
        var pattern = new int[strides[0]];
        for (long k = 1; k < pattern.Length; k++)
        {
            int level = 1;
            while (k % strides[level] != 0) level++;
            pattern[k] = level;
        }
        for (long row = 0; row * pattern.Length < repetitions.Length; row++)
        {
            var levels = repetitions.Slice((int)(row * pattern.Length), (int)Math.Min(pattern.Length, repetitions.Length - row * pattern.Length));
            if (!levels.SequenceEqual(pattern))
                throw new InputException($"{Name}: row {firstRow + row:N0} holds lists of other lengths than row {firstRow:N0} ([{string.Join(", ", dims)}] values); every row needs the same.");
        }
        return dims;
    }

    public override void Dispose()
    {
        _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stream.Dispose();
    }
}
