using System.Buffers.Binary;

namespace FastCalib.Cli.Tables;

/// <summary>
/// Counts the rows of an Arrow IPC stream or file without reading the data: each encapsulated message is a
/// 0xFFFFFFFF continuation marker (absent in streams older than format 0.15), a 32-bit metadata length, a
/// flatbuffer <c>Message</c> and a body of <c>bodyLength</c> bytes that is skipped; a <c>RecordBatch</c> header
/// carries the batch's <c>length</c>. The file format is the stream format between the 8-byte "ARROW1" header
/// and the footer. Layout facts from the Arrow columnar format specification (Message.fbs, Schema.fbs).
/// </summary>
internal static class ArrowMessages
{
    private const byte RecordBatchHeader = 3;   // MessageHeader union: Schema 1, DictionaryBatch 2, RecordBatch 3

    /// <summary>Whether the file starts with the Arrow file format's magic ("ARROW1" and two bytes of padding).</summary>
    public static bool IsFileFormat(Stream stream)
    {
        Span<byte> magic = stackalloc byte[6];
        stream.Position = 0;
        bool file = stream.Length >= 6 && stream.ReadAtLeast(magic, 6, throwOnEndOfStream: false) == 6 && magic.SequenceEqual("ARROW1"u8);
        stream.Position = 0;
        return file;
    }

    /// <summary>The sum of the record batches' lengths; the stream is left at its start.</summary>
    public static long Rows(Stream stream, string name)
    {
        bool file = IsFileFormat(stream);
        long end = stream.Length;
        if (file)
        {
            // trailer: footer, int32 footer length, "ARROW1"
            if (end < 8 + 10) throw Bad(name, "too short for the Arrow file format");
            Span<byte> trailer = stackalloc byte[10];
            stream.Position = end - 10;
            stream.ReadExactly(trailer);
            if (!trailer[4..].SequenceEqual("ARROW1"u8)) throw Bad(name, "no Arrow footer at the end of the file");
            long footer = BinaryPrimitives.ReadInt32LittleEndian(trailer);
            if (footer < 0 || footer > end - 18) throw Bad(name, "the footer length is implausible");
            end -= 10 + footer;
        }
        long rows = 0;
        stream.Position = file ? 8 : 0;
        Span<byte> word = stackalloc byte[4];
        byte[] metadata = [];
        while (stream.Position + 4 <= end)
        {
            stream.ReadExactly(word);
            int length = BinaryPrimitives.ReadInt32LittleEndian(word);
            if (length == -1)   // continuation marker, then the length
            {
                if (stream.Position + 4 > end) break;
                stream.ReadExactly(word);
                length = BinaryPrimitives.ReadInt32LittleEndian(word);
            }
            if (length == 0) break;   // end of stream
            if (length < 0 || length > end - stream.Position) throw Bad(name, "a message length runs past the end of the file");
            if (metadata.Length < length) metadata = new byte[length];
            stream.ReadExactly(metadata, 0, length);
            var (batchRows, body) = Message(metadata.AsSpan(0, length), name);
            if (body < 0 || body > end - stream.Position) throw Bad(name, "a message body runs past the end of the file");
            rows = checked(rows + batchRows);
            stream.Position += body;
        }
        stream.Position = 0;
        return rows;
    }

    /// <summary>(rows if a record batch, else 0; body length) of one flatbuffer Message.</summary>
    private static (long Rows, long Body) Message(ReadOnlySpan<byte> buffer, string name)
    {
        int message = Offset(buffer, 0, name);
        byte header = (byte)Scalar(buffer, message, slot: 1, size: 1, name);   // the union's type (header_type)
        long body = Scalar(buffer, message, slot: 3, size: 8, name);
        if (header != RecordBatchHeader) return (0, body);
        int field = Field(buffer, message, slot: 2, name);
        if (field == 0) throw Bad(name, "a record batch message without its header");
        int batch = Offset(buffer, field, name);
        return (Scalar(buffer, batch, slot: 0, size: 8, name), body);
    }

    // flatbuffers: a table starts with a signed offset back to its vtable (uint16 vtable size, uint16 table size,
    // then one uint16 offset per field, 0 when the field is absent and takes its default)
    private static int Field(ReadOnlySpan<byte> buffer, int table, int slot, string name)
    {
        int vtable = table - Read32(buffer, table, name);
        int vtableSize = Read16(buffer, vtable, name);
        int entry = 4 + 2 * slot;
        if (entry + 2 > vtableSize) return 0;
        int offset = Read16(buffer, vtable + entry, name);
        return offset == 0 ? 0 : table + offset;
    }

    private static long Scalar(ReadOnlySpan<byte> buffer, int table, int slot, int size, string name)
    {
        int at = Field(buffer, table, slot, name);
        if (at == 0) return 0;
        Check(buffer, at, size, name);
        return size == 1 ? buffer[at] : BinaryPrimitives.ReadInt64LittleEndian(buffer[at..]);
    }

    private static int Offset(ReadOnlySpan<byte> buffer, int at, string name) => at + Read32(buffer, at, name);

    private static int Read32(ReadOnlySpan<byte> buffer, int at, string name)
    {
        Check(buffer, at, 4, name);
        return BinaryPrimitives.ReadInt32LittleEndian(buffer[at..]);
    }

    private static int Read16(ReadOnlySpan<byte> buffer, int at, string name)
    {
        Check(buffer, at, 2, name);
        return BinaryPrimitives.ReadUInt16LittleEndian(buffer[at..]);
    }

    private static void Check(ReadOnlySpan<byte> buffer, int at, int size, string name)
    {
        if (at < 0 || at > buffer.Length - size) throw Bad(name, "a message's metadata points outside itself");
    }

    private static InputException Bad(string name, string why) => new($"{name}: not a readable Arrow IPC file ({why}).");
}
