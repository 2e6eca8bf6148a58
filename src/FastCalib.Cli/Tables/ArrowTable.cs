using System.Numerics;
using Apache.Arrow;
using Apache.Arrow.Compression;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;

namespace FastCalib.Cli.Tables;

/// <summary>
/// Columns of an Arrow IPC file (the file format, .arrow / .feather version 2) or stream (as Hugging Face datasets
/// cache them), one record batch at a time, through Apache.Arrow; LZ4 and Zstandard compressed buffers are read.
/// Rows are counted up front from the messages' headers (<see cref="ArrowMessages"/>). Lists may be variable-size,
/// large or fixed-size lists, nested for more dimensions.
/// </summary>
internal sealed class ArrowTable : TableSource
{
    private readonly FileStream _stream;
    private readonly ArrowStreamReader _reader;
    private readonly int[] _columns;
    private readonly bool _list;
    private long _firstRow, _nextFirstRow;

    public ArrowTable(string path, string columnSpec) : base(path)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        try
        {
            Rows = ArrowMessages.Rows(_stream, path);
            var codecs = new CompressionCodecFactory();
            _reader = ArrowMessages.IsFileFormat(_stream)
                ? new ArrowFileReader(_stream, codecs)
                : new ArrowStreamReader(_stream, codecs);
            var fields = _reader.Schema.FieldsList;
            string Describe() => string.Join(", ", fields.Select(f => $"{f.Name} ({f.DataType.Name})"));
            _columns = Select(path, fields.Select(f => f.Name).ToList(), columnSpec, Describe);
            Name = columnSpec.Length == 0 ? path : $"{path}:{string.Join(",", _columns.Select(i => fields[i].Name))}";
            var leaves = _columns.Select(i => Leaf(fields[i])).ToArray();
            _list = leaves.Any(l => l.Depth > 0);
            if (_list && _columns.Length > 1) throw new InputException($"{Name}: choose one list column or several scalar columns, not both.");
            IsInteger = leaves.All(l => IsIntegerType(l.Type.TypeId));
            if (!_list) SetShape(_columns.Length == 1 ? [] : [_columns.Length]);
            else if (Rows > 0) LoadNext();   // the first batch shows the lists' lengths
            else SetShape([1]);
        }
        catch (Exception e)
        {
            _reader?.Dispose();
            _stream.Dispose();
            if (e is InputException) throw;
            throw new InputException($"{path}: not a readable Arrow IPC file ({e.Message}).");
        }
    }

    private (IArrowType Type, int Depth) Leaf(Field field)
    {
        IArrowType type = field.DataType;
        int depth = 0;
        while (type is NestedType nested && type.TypeId is ArrowTypeId.List or ArrowTypeId.LargeList or ArrowTypeId.FixedSizeList)
        {
            type = nested.Fields[0].DataType;
            depth++;
        }
        if (!IsIntegerType(type.TypeId) && type.TypeId is not (ArrowTypeId.Float or ArrowTypeId.Double or ArrowTypeId.HalfFloat))
            throw new InputException($"{Name}: column '{field.Name}' is {field.DataType.Name}{(depth > 0 ? $" of {type.Name}" : "")}; numeric columns and lists of numbers are read.");
        return (type, depth);
    }

    private static bool IsIntegerType(ArrowTypeId id) => id is ArrowTypeId.Int8 or ArrowTypeId.UInt8 or ArrowTypeId.Int16
        or ArrowTypeId.UInt16 or ArrowTypeId.Int32 or ArrowTypeId.UInt32 or ArrowTypeId.Int64 or ArrowTypeId.UInt64;

    protected override bool LoadNext()
    {
        try
        {
            using var batch = _reader.ReadNextRecordBatch();
            if (batch is null) return false;
            _firstRow = _nextFirstRow;
            _nextFirstRow += batch.Length;
            if (!_list)
            {
                Begin(batch.Length);
                for (int c = 0; c < _columns.Length; c++)
                    PutValues(NoNulls(batch.Column(_columns[c]), 0, batch.Length), 0, batch.Length, 0, c, _columns.Length);
                return true;
            }
            var column = batch.Column(_columns[0]);
            var dims = Enumerable.Repeat(-1L, Depth(column)).ToArray();
            var (leaf, start, count) = Flatten(column, 0, batch.Length, 0, dims);
            SetShape(dims);
            Begin(batch.Length);
            PutValues(leaf, start, count, 0, 0, 1);
            return true;
        }
        catch (Exception e) when (e is not InputException)
        {
            // Apache.Arrow trusts a batch's buffers; what they point past is caught here or by the checks below
            throw new InputException($"{Name}: the record batch after row {_firstRow:N0} is not readable ({e.Message}).");
        }
    }

    private static int Depth(IArrowArray array) => array switch
    {
        ListArray l => 1 + Depth(l.Values),
        LargeListArray l => 1 + Depth(l.Values),
        FixedSizeListArray l => 1 + Depth(l.Values),
        _ => 0,
    };

    /// <summary>
    /// The leaf array and the range of its values that elements [start, start + count) of a (nested) list array
    /// hold, checking that every list at one depth has one length (recorded in <paramref name="dims"/>).
    /// </summary>
    private (IArrowArray Leaf, long Start, long Count) Flatten(IArrowArray array, long start, long count, int depth, long[] dims)
    {
        NoNulls(array, start, count);
        long childStart, childCount;
        IArrowArray child;
        switch (array)
        {
            case ListArray list:
                child = list.Values;
                (childStart, childCount) = Lists(list.ValueOffsets, child, start, count, depth, dims);
                break;
            case LargeListArray list:
                child = list.Values;
                (childStart, childCount) = Lists(list.ValueOffsets, child, start, count, depth, dims);
                break;
            case FixedSizeListArray list:
                {
                    long size = ((FixedSizeListType)list.Data.DataType).ListSize;
                    CheckOffsets(count + 1, 0, count, (list.Offset + start) * size, (list.Offset + start + count) * size, list.Values.Length);
                    if (count > 0) CheckDimensions(dims, depth, size, Row(start, depth, dims));
                    (child, childStart, childCount) = (list.Values, (list.Offset + start) * size, count * size);
                    break;
                }
            default:
                if (start < 0 || start + count > array.Length) throw Corrupt();
                return (array, start, count);
        }
        return Flatten(child, childStart, childCount, depth + 1, dims);
    }

    /// <summary>Offsets of elements [start, start + count) must exist and point inside the child array.</summary>
    private void CheckOffsets(long offsets, long start, long count, long first, long end, long childLength)
    {
        if (offsets < start + count + 1 || first < 0 || end < first || end > childLength) throw Corrupt();
    }

    private InputException Corrupt() => new($"{Name}: the record batch from row {_firstRow:N0} has list offsets outside its values; the file is corrupt.");

    /// <summary>
    /// The range of child values that lists [start, start + count) hold (32- or 64-bit offsets), after checking that
    /// the offsets stay inside the child and every list has the length of the first (and of earlier batches).
    /// </summary>
    private (long Start, long Count) Lists<T>(ReadOnlySpan<T> offsets, IArrowArray values, long start, long count, int depth, long[] dims)
        where T : IBinaryInteger<T>
    {
        long first = long.CreateTruncating(offsets[(int)start]), end = long.CreateTruncating(offsets[(int)(start + count)]);
        CheckOffsets(offsets.Length, start, count, first, end, values.Length);
        if (count == 0) return (first, 0);
        T length = offsets[(int)start + 1] - offsets[(int)start];
        CheckDimensions(dims, depth, long.CreateTruncating(length), Row(start, depth, dims));
        for (long i = start + 1; i < start + count; i++)
            if (offsets[(int)i + 1] - offsets[(int)i] != length)
                CheckDimensions(dims, depth, long.CreateTruncating(offsets[(int)i + 1] - offsets[(int)i]), Row(i, depth, dims));   // throws
        return (first, end - first);
    }

    /// <summary>The file's row number of element <paramref name="i"/> at <paramref name="depth"/>, for messages.</summary>
    private long Row(long i, int depth, long[] dims)
    {
        for (int d = 0; d < depth; d++) i /= Math.Max(1, dims[d]);
        return _firstRow + i;
    }

    private IArrowArray NoNulls(IArrowArray array, long start, long count)
    {
        if (array.NullCount > 0)
            for (long i = start; i < start + count; i++)
                if (array.IsNull((int)i)) throw new InputException($"{Name}: holds a null (in the record batch from row {_firstRow:N0}); every value must be present.");
        return array;
    }

    private void PutValues(IArrowArray leaf, long start, long count, long first, int column, int columns)
    {
        switch (leaf)
        {
            case FloatArray a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case DoubleArray a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case HalfFloatArray a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case Int64Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case Int32Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case Int16Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case Int8Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case UInt64Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case UInt32Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case UInt16Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            case UInt8Array a: Put(a.Values.Slice((int)start, (int)count), first, column, columns); break;
            default: throw new InputException($"{Name}: holds {leaf.Data.DataType.Name} values; numeric columns and lists of numbers are read.");
        }
    }

    public override void Dispose()
    {
        _reader.Dispose();
        _stream.Dispose();
    }
}
