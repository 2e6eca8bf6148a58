using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

namespace FastCalib.Cli;

/// <summary>A malformed, truncated or unsupported input file: reported as one line and a non-zero exit code.</summary>
public sealed class InputException(string message) : Exception(message);

/// <summary>
/// A numeric array read sequentially, row after row, from a NumPy .npy file, an array inside a .npz archive
/// (<c>archive.npz:name</c>), columns of a Parquet or Arrow IPC file (<c>preds.parquet:logits</c>, see
/// <see cref="Tables.TableSource"/>), or a CSV file (one row per line, read into memory). Values convert to float32
/// or int as they are read, so files larger than memory stream through in chunks (a row group at a time for tables).
/// </summary>
public sealed class ArraySource : IDisposable
{
    private readonly Stream _stream;
    private readonly IDisposable? _owner;
    private readonly char _kind;      // 'f' float, 'i' signed, 'u' unsigned
    private readonly int _itemSize;
    private readonly bool _bigEndian;
    private readonly float[]? _csv;   // CSV values, row-major
    private readonly Tables.TableSource? _table;
    private long _position;           // values read so far
    private byte[] _buffer = [];

    private ArraySource(string name, Stream stream, IDisposable? owner, char kind, int itemSize, long rows, int cols, float[]? csv, long[] shape, bool bigEndian = false)
    {
        _bigEndian = bigEndian;
        Name = name;
        Shape = shape;
        _stream = stream;
        _owner = owner;
        _kind = kind;
        _itemSize = itemSize;
        Rows = rows;
        Cols = cols;
        _csv = csv;
    }

    private ArraySource(Tables.TableSource table)
    {
        _table = table;
        _stream = Stream.Null;
        _kind = table.IsInteger ? 'i' : 'f';
        Name = table.Name;
        Rows = table.Rows;
        Cols = table.Cols;
        Shape = table.Shape;
    }

    /// <summary>The file (and array) this came from, for messages.</summary>
    public string Name { get; }

    /// <summary>Rows (the first dimension).</summary>
    public long Rows { get; }

    /// <summary>Values per row (the product of the other dimensions; 1 for a vector).</summary>
    public int Cols { get; }

    /// <summary>The array's dimensions as stored (CSV: [rows, cols]).</summary>
    public long[] Shape { get; }

    /// <summary>Whether the values are integers.</summary>
    public bool IsInteger => _kind != 'f';

    /// <summary>Whether the values are 64-bit signed integers in a binary file (read exactly by <see cref="ReadLongs"/>).</summary>
    public bool IsInt64 => _csv is null && _table is null && _kind == 'i' && _itemSize == 8;

    /// <summary>Extensions of the table files read through <see cref="Tables.TableSource"/>.</summary>
    private static readonly string[] ParquetExtensions = [".parquet", ".pq"], ArrowExtensions = [".arrow", ".feather", ".arrows", ".ipc"];

    /// <summary>Opens <c>file.npy</c>, <c>file.npz:name</c>, <c>file.parquet[:columns]</c>, <c>file.arrow[:columns]</c> or <c>file.csv</c>.</summary>
    public static ArraySource Open(string spec)
    {
        foreach (string extension in ParquetExtensions.Concat(ArrowExtensions))
        {
            int at = spec.IndexOf(extension + ":", StringComparison.OrdinalIgnoreCase);
            if (at < 0 && !spec.EndsWith(extension, StringComparison.OrdinalIgnoreCase)) continue;
            string file = at < 0 ? spec : spec[..(at + extension.Length)];
            string columns = at < 0 ? "" : spec[(at + extension.Length + 1)..];
            if (!File.Exists(file)) throw new InputException($"{file}: no such file.");
            return new ArraySource(ParquetExtensions.Contains(extension)
                ? new Tables.ParquetTable(file, columns)
                : new Tables.ArrowTable(file, columns));
        }
        string path = spec, member = "";
        int colon = spec.LastIndexOf(':');
        if (colon > 1 && spec.Substring(0, colon).EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
        {
            path = spec.Substring(0, colon);
            member = spec.Substring(colon + 1);
        }
        if (!File.Exists(path)) throw new InputException($"{path}: no such file.");
        try
        {
            if (path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)) return OpenNpz(path, member, spec);
            if (path.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return OpenCsv(path);
            var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            return FromNpy(spec, stream, null, stream.Length);
        }
        catch (InvalidDataException e)
        {
            throw new InputException($"{spec}: not a readable archive ({e.Message}).");
        }
    }

    private static ArraySource OpenNpz(string path, string member, string spec)
    {
        var zip = ZipFile.OpenRead(path);
        var names = zip.Entries.Select(e => e.FullName.EndsWith(".npy") ? e.FullName[..^4] : e.FullName).ToList();
        if (member.Length == 0)
        {
            if (names.Count != 1)
            {
                zip.Dispose();
                throw new InputException($"{path}: the archive holds {names.Count} arrays ({string.Join(", ", names)}); name one as {path}:NAME.");
            }
            member = names[0];
        }
        var entry = zip.GetEntry(member + ".npy") ?? zip.GetEntry(member);
        if (entry is null)
        {
            zip.Dispose();
            throw new InputException($"{path}: no array named '{member}' (it holds {string.Join(", ", names)}).");
        }
        return FromNpy(spec, entry.Open(), zip, entry.Length);
    }

    /// <summary>Most values a row may hold: the tool reads whole rows into memory (256 MB of float32).</summary>
    public const int MaxRowValues = 1 << 26;

    /// <summary>
    /// Parses the .npy header (format versions 1, 2 and 3) and leaves the stream at the data. With
    /// <paramref name="totalBytes"/> (the file's or the archive entry's size) the data the header promises must be
    /// there, so that a short file with a huge shape is an error before anything is allocated.
    /// </summary>
    internal static ArraySource FromNpy(string name, Stream stream, IDisposable? owner, long? totalBytes = null)
    {
        try
        {
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(stream, prefix, name, "the .npy magic");
            if (prefix[0] != 0x93 || !prefix.Slice(1, 5).SequenceEqual("NUMPY"u8))
                throw new InputException($"{name}: not a NumPy .npy file (bad magic).");
            int major = prefix[6];
            int headerLength;
            if (major == 1)
            {
                Span<byte> length = stackalloc byte[2];
                ReadExactly(stream, length, name, "the header length");
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(length);
            }
            else if (major is 2 or 3)
            {
                Span<byte> length = stackalloc byte[4];
                ReadExactly(stream, length, name, "the header length");
                uint value = BinaryPrimitives.ReadUInt32LittleEndian(length);
                if (value > 1 << 20) throw new InputException($"{name}: header length {value} is implausible.");
                headerLength = (int)value;
            }
            else throw new InputException($"{name}: .npy format version {major} is not supported (1, 2 and 3 are).");
            var header = new byte[headerLength];
            ReadExactly(stream, header, name, "the header");
            string text = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(header);
            string descr = Field(text, "descr", name);
            string order = Field(text, "fortran_order", name);
            string shape = Field(text, "shape", name);
            if (order != "False")
                throw new InputException($"{name}: the array is in Fortran order; write it in C order (numpy.ascontiguousarray).");
            descr = descr.Trim('\'', '"');
            if (descr.Contains('O'))
                throw new InputException($"{name}: dtype '{descr}' holds Python objects; save a numeric array (float32, float64 or an integer type).");
            // byte order: '<' little-endian, '>' big-endian (byte-swapped on the way in, as NumPy does), '|' or '=' not applicable / native
            if (descr.Length < 3 || descr[0] is not ('<' or '>' or '|' or '='))
                throw new InputException($"{name}: dtype '{descr}' is not readable; float16, float32, float64 and integer arrays are.");
            bool bigEndian = descr[0] == '>';
            char kind = descr[1];
            if (!int.TryParse(descr.AsSpan(2), NumberStyles.None, CultureInfo.InvariantCulture, out int size)
                || !(kind == 'f' && size is 2 or 4 or 8 || kind is 'i' or 'u' && size is 1 or 2 or 4 or 8))
                throw new InputException($"{name}: dtype '{descr}' is not supported; use float16, float32, float64 or an integer type.");
            var dims = shape.Trim('(', ')').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(d => long.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out long v) ? v : throw new InputException($"{name}: shape {shape} is not readable."))
                .ToArray();
            long rows = dims.Length == 0 ? 1 : dims[0];
            long cols = 1, values;
            try
            {
                foreach (long d in dims.Skip(1)) cols = checked(cols * d);
                values = checked(checked(rows * cols) * size);
            }
            catch (OverflowException)
            {
                throw new InputException($"{name}: shape {shape} holds more values than 64-bit sizes can count.");
            }
            if (cols > MaxRowValues || cols < 1 && rows > 0)
                throw new InputException($"{name}: shape {shape} has rows of {cols} values; rows must hold between 1 and {MaxRowValues:N0} (the tool reads whole rows).");
            if (totalBytes is long total)
            {
                long headerBytes = 6 + 2 + (major == 1 ? 2 : 4) + headerLength;
                if (total - headerBytes < values)
                    throw new InputException($"{name}: the header promises shape {shape} ({values:N0} bytes of data) but the file holds {Math.Max(0, total - headerBytes):N0}; it is truncated or the header is wrong.");
            }
            return new ArraySource(name, stream, owner, kind, size, rows, (int)Math.Max(cols, 1), null, dims, bigEndian);
        }
        catch
        {
            stream.Dispose();
            owner?.Dispose();
            throw;
        }
    }

    private static string Field(string header, string key, string name)
    {
        var match = Regex.Match(header, $@"['""]{key}['""]\s*:\s*('[^']*'|""[^""]*""|\([^)]*\)|True|False)");
        if (!match.Success) throw new InputException($"{name}: the header has no '{key}'.");
        return match.Groups[1].Value;
    }

    private static ArraySource OpenCsv(string path)
    {
        var values = new List<float>();
        int cols = -1;
        long rows = 0;
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0) continue;
            var cells = line.Split(',');
            var parsed = new float[cells.Length];
            bool numeric = true;
            for (int i = 0; i < cells.Length; i++)
                numeric &= float.TryParse(cells[i].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out parsed[i]);
            if (!numeric)
            {
                if (rows == 0 && cols < 0) continue;   // a header line
                throw new InputException($"{path}:{lineNumber}: '{Short(line)}' is not a row of numbers.");
            }
            if (cols < 0) cols = cells.Length;
            else if (cells.Length != cols)
                throw new InputException($"{path}:{lineNumber}: {cells.Length} values where earlier rows have {cols}.");
            values.AddRange(parsed);
            rows++;
        }
        if (cols < 0) throw new InputException($"{path}: no rows of numbers.");
        return new ArraySource(path, Stream.Null, null, 'f', 4, rows, cols, values.ToArray(), [rows, cols]);
    }

    private static string Short(string s) => s.Length <= 40 ? s : s.Substring(0, 37) + "...";

    /// <summary>Reads the next <paramref name="destination"/>.Length values as float32.</summary>
    public void ReadFloats(Span<float> destination)
    {
        if (_table is not null)
        {
            Take(destination.Length);
            _table.ReadFloats(destination);
            return;
        }
        if (_csv is not null)
        {
            Take(destination.Length);
            _csv.AsSpan((int)(_position - destination.Length), destination.Length).CopyTo(destination);
            return;
        }
        var bytes = Fill(destination.Length);
        for (int i = 0; i < destination.Length; i++) destination[i] = (float)Value(bytes, i);
    }

    /// <summary>Reads the next <paramref name="destination"/>.Length values as integers; non-integral values are an error.</summary>
    public void ReadInts(Span<int> destination)
    {
        if (_table is not null)
        {
            Take(destination.Length);
            _table.ReadInts(destination, ToInt);
            return;
        }
        if (_csv is not null)
        {
            Take(destination.Length);
            var values = _csv.AsSpan((int)(_position - destination.Length), destination.Length);
            for (int i = 0; i < values.Length; i++) destination[i] = ToInt(values[i], _position - destination.Length + i);
            return;
        }
        var bytes = Fill(destination.Length);
        for (int i = 0; i < destination.Length; i++) destination[i] = ToInt(Value(bytes, i), _position - destination.Length + i);
    }

    /// <summary>Reads the next <paramref name="destination"/>.Length values of an int64 file exactly (<see cref="IsInt64"/>).</summary>
    public void ReadLongs(Span<long> destination)
    {
        if (!IsInt64) throw new InvalidOperationException("ReadLongs reads int64 files only.");
        var bytes = Fill(destination.Length);
        for (int i = 0; i < destination.Length; i++)
            destination[i] = _bigEndian ? BinaryPrimitives.ReadInt64BigEndian(bytes[(i * 8)..]) : BinaryPrimitives.ReadInt64LittleEndian(bytes[(i * 8)..]);
    }

    private int ToInt(double value, long index)
    {
        if (value != Math.Floor(value))
            throw new InputException($"{Name}: value {value} at position {index} is not a label (an integer).");
        if (value < int.MinValue || value > int.MaxValue)
            throw new InputException($"{Name}: value {value:R} at position {index} is not a label: labels are class indices, from 0 to the number of classes - 1.");
        return (int)value;
    }

    private void Take(int count)
    {
        if (_position + count > Rows * (long)Cols)
            throw new InputException($"{Name}: asked for more values than the file holds.");
        _position += count;
    }

    private ReadOnlySpan<byte> Fill(int count)
    {
        Take(count);
        int bytes = checked(count * _itemSize);
        if (_buffer.Length < bytes) _buffer = new byte[bytes];
        var span = _buffer.AsSpan(0, bytes);
        ReadExactly(_stream, span, Name, "the data");
        return span;
    }

    private double Value(ReadOnlySpan<byte> bytes, int i)
    {
        var b = bytes.Slice(i * _itemSize, _itemSize);
        if (_bigEndian)
        {
            return (_kind, _itemSize) switch
            {
                ('f', 2) => (double)BinaryPrimitives.ReadHalfBigEndian(b),
                ('f', 4) => BinaryPrimitives.ReadSingleBigEndian(b),
                ('f', _) => BinaryPrimitives.ReadDoubleBigEndian(b),
                ('i', 1) => (sbyte)b[0],
                ('i', 2) => BinaryPrimitives.ReadInt16BigEndian(b),
                ('i', 4) => BinaryPrimitives.ReadInt32BigEndian(b),
                ('i', _) => BinaryPrimitives.ReadInt64BigEndian(b),
                ('u', 1) => b[0],
                ('u', 2) => BinaryPrimitives.ReadUInt16BigEndian(b),
                ('u', 4) => BinaryPrimitives.ReadUInt32BigEndian(b),
                _ => BinaryPrimitives.ReadUInt64BigEndian(b),
            };
        }
        return (_kind, _itemSize) switch
        {
            ('f', 2) => (double)BinaryPrimitives.ReadHalfLittleEndian(b),
            ('f', 4) => BinaryPrimitives.ReadSingleLittleEndian(b),
            ('f', _) => BinaryPrimitives.ReadDoubleLittleEndian(b),
            ('i', 1) => (sbyte)b[0],
            ('i', 2) => BinaryPrimitives.ReadInt16LittleEndian(b),
            ('i', 4) => BinaryPrimitives.ReadInt32LittleEndian(b),
            ('i', _) => BinaryPrimitives.ReadInt64LittleEndian(b),
            ('u', 1) => b[0],
            ('u', 2) => BinaryPrimitives.ReadUInt16LittleEndian(b),
            ('u', 4) => BinaryPrimitives.ReadUInt32LittleEndian(b),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(b),
        };
    }

    private static void ReadExactly(Stream stream, Span<byte> destination, string name, string what)
    {
        int read = 0;
        while (read < destination.Length)
        {
            int n = stream.Read(destination.Slice(read));
            if (n == 0) throw new InputException($"{name}: the file is truncated (it ends inside {what}).");
            read += n;
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _owner?.Dispose();
        _table?.Dispose();
    }
}

/// <summary>
/// Writes a float32 or float64 .npy file (format version 1) row block by row block, through an
/// <see cref="OutputFile"/>: the file appears only when <see cref="Commit"/> is called after the last block.
/// </summary>
public sealed class NpyWriter : IDisposable
{
    private readonly OutputFile _file;
    private readonly string _descr;

    public NpyWriter(string path, long rows, int cols, bool float64)
        : this(path, cols == 1 ? [rows] : [rows, cols], float64 ? "<f8" : "<f4")
    {
    }

    /// <summary>A file of any shape (C order) and dtype '&lt;f4', '&lt;f8' or '&lt;i8'; <paramref name="option"/> names it in errors.</summary>
    public NpyWriter(string path, long[] dims, string descr, string option = "--out")
    {
        _file = new OutputFile(path, option);
        _descr = descr;
        _file.Guard(() => WriteHeader(_file.Stream, dims, descr));
    }

    /// <summary>The .npy header (magic, version 1.0, the shape and dtype, padded to 64 bytes) for C-order data.</summary>
    public static void WriteHeader(Stream stream, long[] dims, string descr)
    {
        string shape = dims.Length == 1 ? $"({dims[0]},)" : "(" + string.Join(", ", dims) + ")";
        string header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}";
        int total = 10 + header.Length + 1;
        int padding = (64 - total % 64) % 64;
        header = header + new string(' ', padding) + "\n";
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        var length = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)header.Length);
        stream.Write(length);
        stream.Write(Encoding.Latin1.GetBytes(header));
    }

    public void Write(ReadOnlySpan<float> values)
    {
        bool wide = _descr == "<f8";
        var bytes = new byte[values.Length * (wide ? 8 : 4)];
        for (int i = 0; i < values.Length; i++)
        {
            if (wide) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
            else BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }
        _file.Guard(() => _file.Stream.Write(bytes));
    }

    public void Write(ReadOnlySpan<long> values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        _file.Guard(() => _file.Stream.Write(bytes));
    }

    /// <summary>All rows were written: the file takes its place.</summary>
    public void Commit() => _file.Commit();

    public void Dispose() => _file.Dispose();
}
