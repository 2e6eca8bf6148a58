using System.Buffers.Binary;

namespace FastCalib.Cli.Tables;

/// <summary>
/// Checks that a Parquet file's footer is a well-formed Thrift compact-protocol struct before Parquet.Net parses it:
/// that parser reads a buffer's end as endless 0xFF bytes, so a corrupt varint or list length there spins instead of
/// failing. The walk is bounded: every read stays inside the footer, a list or map claims no more elements than there
/// are bytes left, and structs nest at most <see cref="MaxDepth"/> deep. Layout: "PAR1", data, the footer, its
/// 32-bit length, "PAR1" (Parquet format specification); compact types per the Thrift compact protocol specification.
/// </summary>
internal static class ParquetFooter
{
    private const int MaxDepth = 64;

    /// <summary>Checks the footer; returns its length in bytes.</summary>
    public static int Check(Stream stream, string name)
    {
        long length = stream.Length;
        if (length < 12) throw Bad(name, "too short for a Parquet file");
        Span<byte> tail = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(tail[..4]);
        if (!tail[..4].SequenceEqual("PAR1"u8)) throw Bad(name, "no PAR1 magic at its start");
        stream.Position = length - 8;
        stream.ReadExactly(tail);
        if (!tail[4..].SequenceEqual("PAR1"u8)) throw Bad(name, "no PAR1 magic at its end; it is truncated or not Parquet");
        int footerLength = BinaryPrimitives.ReadInt32LittleEndian(tail);
        if (footerLength <= 0 || footerLength > length - 12) throw Bad(name, $"a footer length of {footerLength} bytes in a file of {length}");
        var footer = new byte[footerLength];
        stream.Position = length - 8 - footerLength;
        stream.ReadExactly(footer);
        stream.Position = 0;
        int at = 0;
        if (!Struct(footer, ref at, 0)) throw Bad(name, "its footer is not well-formed metadata");
        return footerLength;
    }

    /// <summary>
    /// Opens the reader on a thread of its own and waits a bounded time (5 s plus 1 s per 5 MB of footer; a sound
    /// footer parses at well over 50 MB/s): a well-formed footer whose fields Parquet.Net misreads can still send
    /// its parser past the end, and a thread cannot be stopped, so it is left behind (the tool exits right after).
    /// </summary>
    public static Parquet.ParquetReader Open(Stream stream, int footerLength, string name)
    {
        Parquet.ParquetReader? reader = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try { reader = Parquet.ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult(); }
            catch (Exception e) { failure = e; }
        }) { IsBackground = true, Name = "parquet metadata" };
        thread.Start();
        if (!thread.Join(TimeSpan.FromSeconds(5 + footerLength / 5e6)))
            throw Bad(name, "its metadata does not parse; the footer is corrupt");
        if (failure is not null) throw Bad(name, failure.Message);
        return reader!;
    }

    private static bool Struct(ReadOnlySpan<byte> b, ref int at, int depth)
    {
        if (depth > MaxDepth) return false;
        while (true)
        {
            if (at >= b.Length) return false;
            byte header = b[at++];
            if (header == 0) return true;                                  // stop
            if (header >> 4 == 0 && !VarInt(b, ref at, 3)) return false;   // a field id of its own (zigzag i16)
            if (!Value(b, ref at, header & 0x0F, depth, inList: false)) return false;
        }
    }

    private static bool Value(ReadOnlySpan<byte> b, ref int at, int type, int depth, bool inList)
    {
        if (depth > MaxDepth) return false;
        switch (type)
        {
            case 1 or 2: return !inList || Skip(b, ref at, 1);   // booleans: in the header, one byte as list elements
            case 3: return Skip(b, ref at, 1);
            case 4 or 5: return VarInt(b, ref at, 5);
            case 6: return VarInt(b, ref at, 10);
            case 7: return Skip(b, ref at, 8);
            case 8:
                return Length(b, ref at, out long bytes) && Skip(b, ref at, bytes);
            case 9 or 10:   // list, set: size (4 bits, 15 = a varint follows) and element type
                {
                    if (at >= b.Length) return false;
                    byte sizeAndType = b[at++];
                    long size = sizeAndType >> 4;
                    if (size == 15 && !Length(b, ref at, out size)) return false;
                    if (size > b.Length - at) return false;
                    for (long i = 0; i < size; i++)
                        if (!Value(b, ref at, sizeAndType & 0x0F, depth + 1, inList: true)) return false;
                    return true;
                }
            case 11:   // map: size, then key and value types when not empty
                {
                    if (!Length(b, ref at, out long size)) return false;
                    if (size == 0) return true;
                    if (at >= b.Length || size > b.Length - at) return false;
                    byte types = b[at++];
                    for (long i = 0; i < size; i++)
                        if (!Value(b, ref at, types >> 4, depth + 1, inList: true) || !Value(b, ref at, types & 0x0F, depth + 1, inList: true)) return false;
                    return true;
                }
            case 12: return Struct(b, ref at, depth + 1);
            case 13: return Skip(b, ref at, 16);   // uuid
            default: return false;
        }
    }

    private static bool Skip(ReadOnlySpan<byte> b, ref int at, long bytes)
    {
        if (bytes < 0 || bytes > b.Length - at) return false;
        at += (int)bytes;
        return true;
    }

    /// <summary>A varint of at most <paramref name="maxBytes"/> bytes.</summary>
    private static bool VarInt(ReadOnlySpan<byte> b, ref int at, int maxBytes) => Length(b, ref at, out _, maxBytes);

    private static bool Length(ReadOnlySpan<byte> b, ref int at, out long value, int maxBytes = 5)
    {
        value = 0;
        for (int i = 0; i < maxBytes; i++)
        {
            if (at >= b.Length) return false;
            byte next = b[at++];
            if (i < 9) value |= (long)(next & 0x7F) << (7 * i);
            if ((next & 0x80) == 0) return value >= 0 && value <= int.MaxValue || maxBytes > 5;
        }
        return false;
    }

    private static InputException Bad(string name, string why) => new($"{name}: not a readable Parquet file ({why}).");
}
