using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using FastCalib.Cli;
using FastCalib.Tests.Calibration;
using FastCalib.Tests.Calibrators;
using ParquetSharp;
using Xunit;
using ParquetNet = Parquet;

namespace FastCalib.Tests.Cli;

/// <summary>
/// Parquet and Arrow IPC inputs, on files written by the libraries teams use: Parquet by Arrow C++'s writer (through
/// ParquetSharp; the writer pyarrow and pandas use) and by Parquet.Net, Arrow IPC files and streams by Apache.Arrow.
/// Each command's output from a table equals its output from the same values in a .npy file, byte for byte; ragged
/// lists, nulls, other types and unnamed columns are one-line errors naming the file, the column or the row.
/// </summary>
public sealed class TableInputTests : ToolTest
{
    private const int Rows = 2_345, Classes = 7;
    private static readonly int[] Groups = [1_000, 1, 1_000, 344];   // uneven row groups / record batches

    private static IEnumerable<(int Start, int Count)> Parts()
    {
        int start = 0;
        foreach (int g in Groups)
        {
            yield return (start, g);
            start += g;
        }
    }

    private (float[] P, int[] Y) Npy(string name)
    {
        var (p, y) = CalibrationTests.ProbabilityData(Rows, Classes, 5);
        File.WriteAllBytes(PathOf($"{name}-p.npy"), CliTests.Npy("<f4", $"({Rows}, {Classes})", CliTests.Floats(p)));
        File.WriteAllBytes(PathOf($"{name}-y.npy"), CliTests.Npy("<i8", $"({Rows},)", CliTests.Int64s(y)));
        return (p, y);
    }

    private static float[] Row(float[] p, int r) => p.AsSpan(r * Classes, Classes).ToArray();

    // ---- writers ----

    /// <summary>list&lt;float&gt; "probs" and int64 "label" by Arrow C++'s Parquet writer, snappy, uneven row groups.</summary>
    private void ArrowCppParquetList(string path, float[] p, int[] y, Compression compression = Compression.Snappy)
    {
        var columns = new ParquetSharp.Column[] { new Column<float[]>("probs"), new Column<long>("label") };
        using var writer = new ParquetFileWriter(path, columns, compression);
        foreach (var (start, count) in Parts())
        {
            using var group = writer.AppendRowGroup();
            using (var w = group.NextColumn().LogicalWriter<float[]>())
                w.WriteBatch(Enumerable.Range(start, count).Select(r => Row(p, r)).ToArray());
            using (var w = group.NextColumn().LogicalWriter<long>())
                w.WriteBatch(y[start..(start + count)].Select(v => (long)v).ToArray());
        }
        writer.Close();
    }

    /// <summary>One float64 column per class ("p0".."p6", nullable as pandas writes them) and an int32 label.</summary>
    private void ArrowCppParquetFlat(string path, float[] p, int[] y)
    {
        var columns = Enumerable.Range(0, Classes).Select(c => (ParquetSharp.Column)new Column<double?>($"p{c}"))
            .Append(new Column<string>("id")).Append(new Column<int>("label")).ToArray();
        using var writer = new ParquetFileWriter(path, columns, Compression.Zstd);
        foreach (var (start, count) in Parts())
        {
            using var group = writer.AppendRowGroup();
            for (int c = 0; c < Classes; c++)
            {
                using var w = group.NextColumn().LogicalWriter<double?>();
                w.WriteBatch(Enumerable.Range(start, count).Select(r => (double?)p[r * Classes + c]).ToArray());
            }
            using (var w = group.NextColumn().LogicalWriter<string>())
                w.WriteBatch(Enumerable.Range(start, count).Select(r => $"row{r}").ToArray());
            using (var w = group.NextColumn().LogicalWriter<int>()) w.WriteBatch(y[start..(start + count)]);
        }
        writer.Close();
    }

    /// <summary>list&lt;double&gt; "logits" (nullable elements) and a nullable int64 label by Parquet.Net.</summary>
    private static async Task ParquetNetList(string path, float[] values, int[] y)
    {
        var item = new ParquetNet.Schema.DataField<double?>("element");
        var list = new ParquetNet.Schema.ListField("logits", item);
        var label = new ParquetNet.Schema.DataField<long?>("label");
        await using var stream = File.Create(path);
        await using var writer = await ParquetNet.ParquetWriter.CreateAsync(new ParquetNet.Schema.ParquetSchema(list, label), stream,
            new ParquetNet.ParquetOptions { CompressionMethod = ParquetNet.CompressionMethod.Gzip });
        foreach (var (start, count) in Parts())
        {
            using var group = writer.CreateRowGroup();
            var flat = values.AsMemory(start * Classes, count * Classes).ToArray().Select(v => (double?)v).ToArray();
            var repetitions = Enumerable.Range(0, flat.Length).Select(i => i % Classes == 0 ? 0 : 1).ToArray();
            await group.WriteAsync<double>(item, flat, repetitions);
            await group.WriteAsync<long>(label, y[start..(start + count)].Select(v => (long?)v).ToArray());
        }
    }

    private static RecordBatch Batch(Schema schema, IArrowArray values, int[] y, int start, int count) =>
        new(schema, [values, new Int64Array.Builder().AppendRange(y[start..(start + count)].Select(v => (long)v)).Build()], count);

    private static ListArray List(float[] p, int start, int count, int size)
    {
        var offsets = new ArrowBuffer.Builder<int>();
        for (int r = 0; r <= count; r++) offsets.Append(r * size);
        var values = new FloatArray.Builder().AppendRange(p.AsSpan(start * size, count * size).ToArray()).Build();
        return new ListArray(new ListType(FloatType.Default), count, offsets.Build(), values, ArrowBuffer.Empty, 0, 0);
    }

    private static FixedSizeListArray FixedList(float[] p, int start, int count, int size)
    {
        var values = new FloatArray.Builder().AppendRange(p.AsSpan(start * size, count * size).ToArray()).Build();
        return new FixedSizeListArray(new FixedSizeListType(FloatType.Default, size), count, values, ArrowBuffer.Empty, 0, 0);
    }

    /// <summary>An Arrow IPC file (or stream) of "probs" (list or fixed-size list) and int64 "label", uneven batches.</summary>
    private static void ArrowIpc(string path, float[] p, int[] y, bool stream, bool fixedSize, CompressionCodecType? codec = null)
    {
        IArrowType type = fixedSize ? new FixedSizeListType(FloatType.Default, Classes) : new ListType(FloatType.Default);
        var schema = new Schema.Builder().Field(f => f.Name("probs").DataType(type).Nullable(false))
            .Field(f => f.Name("label").DataType(Int64Type.Default).Nullable(false)).Build();
        var options = codec is { } c ? new IpcOptions { CompressionCodec = c, CompressionCodecFactory = new Apache.Arrow.Compression.CompressionCodecFactory() } : new IpcOptions();
        using var file = File.Create(path);
        using ArrowStreamWriter writer = stream ? new ArrowStreamWriter(file, schema, leaveOpen: false, options) : new ArrowFileWriter(file, schema, leaveOpen: false, options);
        foreach (var (start, count) in Parts())
            writer.WriteRecordBatch(Batch(schema, fixedSize ? FixedList(p, start, count, Classes) : List(p, start, count, Classes), y, start, count));
        writer.WriteEnd();
    }

    // ---- the same report from every layout ----

    [Fact]
    public async Task Report_from_every_table_layout_equals_the_report_from_npy()
    {
        var (p, y) = Npy("ref");
        var expected = Run("report", "--probs", PathOf("ref-p.npy"), "--labels", PathOf("ref-y.npy"), "--json", "--bins", "12");
        Assert.True(expected.Code == 0, expected.Error);

        ArrowCppParquetList(PathOf("list.parquet"), p, y);
        ArrowCppParquetList(PathOf("list-uncompressed.parquet"), p, y, Compression.Uncompressed);
        ArrowCppParquetFlat(PathOf("flat.parquet"), p, y);
        await ParquetNetList(PathOf("net.parquet"), p, y);
        ArrowIpc(PathOf("list.arrow"), p, y, stream: false, fixedSize: false);
        ArrowIpc(PathOf("fixed.arrows"), p, y, stream: true, fixedSize: true);
        ArrowIpc(PathOf("zstd.arrow"), p, y, stream: false, fixedSize: false, CompressionCodecType.Zstd);
        ArrowIpc(PathOf("lz4.arrows"), p, y, stream: true, fixedSize: true, CompressionCodecType.Lz4Frame);

        foreach (var (probs, labels) in new[]
        {
            ("list.parquet:probs", "list.parquet:label"),
            ("list-uncompressed.parquet:probs", "list-uncompressed.parquet:label"),
            ("flat.parquet:p*", "flat.parquet:label"),
            ("flat.parquet:p0,p1,p2,p3,p4,p5,p6", "flat.parquet:label"),
            ("net.parquet:logits", "net.parquet:label"),
            ("list.arrow:probs", "list.arrow:label"),
            ("fixed.arrows:probs", "fixed.arrows:label"),
            ("zstd.arrow:probs", "zstd.arrow:label"),
            ("lz4.arrows:probs", "lz4.arrows:label"),
            ("list.parquet:probs", "ref-y.npy"),   // tables and arrays mix
        })
        {
            var actual = Run("report", "--probs", PathOf(probs), "--labels", PathOf(labels), "--json", "--bins", "12");
            Assert.True(actual.Code == 0, $"{probs}: {actual.Error}");
            Assert.Equal(expected.Out, actual.Out);
        }
    }

    [Fact]
    public void Row_counts_of_arrow_streams_and_files_come_from_the_message_headers()
    {
        var (p, y) = Npy("ref");
        foreach (bool stream in new[] { false, true })
        {
            string path = PathOf(stream ? "rows.arrows" : "rows.arrow");
            ArrowIpc(path, p, y, stream, fixedSize: false);
            using var source = ArraySource.Open(path + ":probs");
            Assert.Equal(Rows, source.Rows);
            Assert.Equal(Classes, source.Cols);
            Assert.Equal(new long[] { Rows, Classes }, source.Shape);
            Assert.False(source.IsInteger);
            var values = new float[Rows * Classes];
            source.ReadFloats(values);
            Assert.Equal(p, values);
            using var labels = ArraySource.Open(path + ":label");
            Assert.True(labels.IsInteger);
            Assert.Equal(new long[] { Rows }, labels.Shape);
            var read = new int[Rows];
            labels.ReadInts(read);
            Assert.Equal(y, read);
        }
    }

    // ---- every command ----

    [Fact]
    public void Every_command_reads_tables_as_it_reads_npy()
    {
        var (z, y) = TemperatureScalingTests.Synthetic(Rows, Classes, 1.8, 3);
        File.WriteAllBytes(PathOf("z.npy"), CliTests.Npy("<f4", $"({Rows}, {Classes})", CliTests.Floats(z)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({Rows},)", CliTests.Int64s(y)));
        ArrowCppParquetList(PathOf("z.parquet"), z, y);
        ArrowIpc(PathOf("z.arrow"), z, y, stream: false, fixedSize: false);

        foreach (string table in new[] { "z.parquet", "z.arrow" })
        {
            string logits = PathOf(table + ":probs"), labels = PathOf(table + ":label");
            foreach (var command in new[]
            {
                new[] { "report", "--logits", "{z}", "--labels", "{y}", "--temperature", "1.3", "--json" },
                new[] { "fit-temperature", "--logits", "{z}", "--labels", "{y}", "--json" },
            })
            {
                var fromNpy = Run(command.Select(a => a.Replace("{z}", PathOf("z.npy")).Replace("{y}", PathOf("y.npy"))).ToArray());
                var fromTable = Run(command.Select(a => a.Replace("{z}", logits).Replace("{y}", labels)).ToArray());
                Assert.True(fromNpy.Code == 0 && fromTable.Code == 0, fromNpy.Error + fromTable.Error);
                Assert.Equal(fromNpy.Out, fromTable.Out);
            }
            string a = PathOf("softmax-npy.npy"), b = PathOf($"softmax-{table}.npy");
            var softmaxNpy = Run("softmax", "--logits", PathOf("z.npy"), "--out", a, "--temperature", "0.7");
            var softmaxTable = Run("softmax", "--logits", logits, "--out", b, "--temperature", "0.7");
            Assert.True(softmaxNpy.Code == 0 && softmaxTable.Code == 0, softmaxNpy.Error + softmaxTable.Error);
            Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
            // entropy of the probabilities softmax wrote, as a table
            using (var softmax = ArraySource.Open(a))
            {
                var p = new float[Rows * Classes];
                softmax.ReadFloats(p);
                string probabilities = PathOf($"p-{table}");
                if (table.EndsWith(".parquet")) ArrowCppParquetList(probabilities, p, y);
                else ArrowIpc(probabilities, p, y, stream: true, fixedSize: true);
                var entropyNpy = Run("entropy", "--probs", a, "--out", PathOf("h-npy.npy"));
                var entropyTable = Run("entropy", "--probs", probabilities + ":probs", "--out", PathOf($"h-{table}.npy"));
                Assert.True(entropyNpy.Code == 0 && entropyTable.Code == 0, entropyNpy.Error + entropyTable.Error);
                Assert.Equal(File.ReadAllBytes(PathOf("h-npy.npy")), File.ReadAllBytes(PathOf($"h-{table}.npy")));
            }
            var plot = Run("plot", "--logits", logits, "--labels", labels, "--out", PathOf($"{table}.svg"));
            Assert.True(plot.Code == 0 || plot.Error.Contains("not drawn"), plot.Error);
        }
    }

    [Fact]
    public void Nested_lists_are_images_for_fft_magnitude()
    {
        const int images = 5, height = 6, width = 9;
        var rng = new Random(8);
        var x = Enumerable.Range(0, images * height * width).Select(_ => (float)rng.NextDouble()).ToArray();
        File.WriteAllBytes(PathOf("x.npy"), CliTests.Npy("<f4", $"({images}, {height}, {width})", CliTests.Floats(x)));

        // Parquet list<list<float>> through Arrow C++, and an Arrow list of fixed-size lists
        using (var writer = new ParquetFileWriter(PathOf("x.parquet"), new ParquetSharp.Column[] { new Column<float[][]>("image") }))
        {
            using var group = writer.AppendRowGroup();
            using var w = group.NextColumn().LogicalWriter<float[][]>();
            w.WriteBatch(Enumerable.Range(0, images).Select(i =>
                Enumerable.Range(0, height).Select(h => x.AsSpan((i * height + h) * width, width).ToArray()).ToArray()).ToArray());
            writer.Close();
        }
        var inner = FixedList(x, 0, images * height, width);
        var offsets = new ArrowBuffer.Builder<int>();
        for (int i = 0; i <= images; i++) offsets.Append(i * height);
        var outer = new ListArray(new ListType(inner.Data.DataType), images, offsets.Build(), inner, ArrowBuffer.Empty, 0, 0);
        var schema = new Schema.Builder().Field(f => f.Name("image").DataType(outer.Data.DataType)).Build();
        using (var file = File.Create(PathOf("x.arrow")))
        using (var writer = new ArrowFileWriter(file, schema))
        {
            writer.WriteRecordBatch(new RecordBatch(schema, [outer], images));
            writer.WriteEnd();
        }

        var expected = Run("fft-magnitude", "--images", PathOf("x.npy"), "--out", PathOf("fx.npy"));
        Assert.True(expected.Code == 0, expected.Error);
        foreach (string table in new[] { "x.parquet", "x.arrow" })
        {
            using (var source = ArraySource.Open(PathOf(table)))
                Assert.Equal(new long[] { images, height, width }, source.Shape);
            var actual = Run("fft-magnitude", "--images", PathOf(table), "--out", PathOf($"f{table}.npy"));
            Assert.True(actual.Code == 0, actual.Error);
            Assert.Equal(File.ReadAllBytes(PathOf("fx.npy")), File.ReadAllBytes(PathOf($"f{table}.npy")));
        }
    }

    // ---- what is refused ----

    private void AssertError(string expectedInMessage, params string[] args)
    {
        var (code, output, error) = Run(args);
        Assert.True(code == 1, $"exit {code}: {output}{error}");
        Assert.True(error.Contains(expectedInMessage), $"'{expectedInMessage}' not in: {error}");
        Assert.Single(error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("   at ", error);
    }

    [Fact]
    public void Ragged_lists_nulls_and_unnamed_columns_are_errors_naming_what_is_wrong()
    {
        var (p, y) = Npy("ref");
        ArrowCppParquetList(PathOf("ok.parquet"), p, y);
        ArrowCppParquetFlat(PathOf("flat.parquet"), p, y);

        // several columns and none named: the columns are listed
        AssertError("holds 2 columns (probs (list<float32>), label (int64)); name the ones to read", "report", "--probs", PathOf("ok.parquet"), "--labels", PathOf("ok.parquet:label"));
        AssertError("no column 'prob'", "report", "--probs", PathOf("ok.parquet:prob"), "--labels", PathOf("ok.parquet:label"));
        AssertError("column 'id' holds string values", "report", "--probs", PathOf("flat.parquet:id"), "--labels", PathOf("flat.parquet:label"));
        AssertError("holds integers", "report", "--probs", PathOf("ok.parquet:label"), "--labels", PathOf("ok.parquet:label"));
        AssertError("choose one list column or several scalar columns", "report", "--probs", PathOf("ok.parquet:probs,label"), "--labels", PathOf("ok.parquet:label"));

        // a ragged row (row 1,200 one value short), in the second Parquet row group of two and in an Arrow batch
        var rows = Enumerable.Range(0, Rows).Select(r => r == 1_200 ? Row(p, r)[..^1] : Row(p, r)).ToArray();
        using (var writer = new ParquetFileWriter(PathOf("ragged.parquet"), new ParquetSharp.Column[] { new Column<float[]>("probs") }))
        {
            foreach (var (start, count) in new[] { (0, 1_000), (1_000, Rows - 1_000) })
            {
                using var group = writer.AppendRowGroup();
                using var w = group.NextColumn().LogicalWriter<float[]>();
                w.WriteBatch(rows[start..(start + count)]);
            }
            writer.Close();
        }
        AssertError("row 1,200 holds lists of other lengths than row 1,000", "report", "--probs", PathOf("ragged.parquet"), "--labels", PathOf("ref-y.npy"));
        var offsets = new ArrowBuffer.Builder<int>();
        int total = 0;
        foreach (var row in rows) { offsets.Append(total); total += row.Length; }
        offsets.Append(total);
        var ragged = new ListArray(new ListType(FloatType.Default), Rows, offsets.Build(),
            new FloatArray.Builder().AppendRange(rows.SelectMany(r => r)).Build(), ArrowBuffer.Empty, 0, 0);
        var schema = new Schema.Builder().Field(f => f.Name("probs").DataType(new ListType(FloatType.Default))).Build();
        using (var file = File.Create(PathOf("ragged.arrow")))
        using (var writer = new ArrowFileWriter(file, schema))
        {
            writer.WriteRecordBatch(new RecordBatch(schema, [ragged], Rows));
            writer.WriteEnd();
        }
        AssertError("row 1,200 holds 6 values where earlier rows hold 7", "report", "--probs", PathOf("ragged.arrow"), "--labels", PathOf("ref-y.npy"));

        // a null label (row 77) and a null in a list (row 5)
        using (var writer = new ParquetFileWriter(PathOf("nulls.parquet"), new ParquetSharp.Column[] { new Column<long?>("label") }))
        {
            using var group = writer.AppendRowGroup();
            using var w = group.NextColumn().LogicalWriter<long?>();
            w.WriteBatch(Enumerable.Range(0, Rows).Select(r => r == 77 ? null : (long?)y[r]).ToArray());
            writer.Close();
        }
        AssertError("nulls.parquet: row 77 holds a null", "report", "--probs", PathOf("ref-p.npy"), "--labels", PathOf("nulls.parquet"));
        using (var writer = new ParquetFileWriter(PathOf("null-item.parquet"), new ParquetSharp.Column[] { new Column<float?[]>("probs") }))
        {
            using var group = writer.AppendRowGroup();
            using var w = group.NextColumn().LogicalWriter<float?[]>();
            w.WriteBatch(Enumerable.Range(0, Rows).Select(r => Row(p, r).Select((v, c) => r == 5 && c == 3 ? null : (float?)v).ToArray()).ToArray());
            writer.Close();
        }
        AssertError("row 5 holds a null", "report", "--probs", PathOf("null-item.parquet"), "--labels", PathOf("ref-y.npy"));

        // labels beyond the classes, read from an int64 column, name the labels file
        var bad = y.ToArray();
        bad[9] = 1_000;
        ArrowIpc(PathOf("bad-label.arrow"), p, bad, stream: false, fixedSize: false);
        AssertError("bad-label.arrow:label", "report", "--probs", PathOf("bad-label.arrow:probs"), "--labels", PathOf("bad-label.arrow:label"));

        // fewer labels than rows; a file that is not what its name says; a truncated file
        File.WriteAllBytes(PathOf("short-y.npy"), CliTests.Npy("<i8", "(10,)", CliTests.Int64s(y[..10])));
        AssertError("10 labels for 2345 rows", "report", "--probs", PathOf("ok.parquet:probs"), "--labels", PathOf("short-y.npy"));
        File.Copy(PathOf("ref-p.npy"), PathOf("fake.parquet"));
        AssertError("fake.parquet: not a readable Parquet file", "report", "--probs", PathOf("fake.parquet"), "--labels", PathOf("ref-y.npy"));
        File.Copy(PathOf("ref-p.npy"), PathOf("fake.arrow"));
        AssertError("fake.arrow: not a readable Arrow IPC file", "report", "--probs", PathOf("fake.arrow"), "--labels", PathOf("ref-y.npy"));
        var whole = File.ReadAllBytes(PathOf("ok.parquet"));
        File.WriteAllBytes(PathOf("cut.parquet"), whole[..(whole.Length / 2)]);
        AssertError("cut.parquet", "report", "--probs", PathOf("cut.parquet:probs"), "--labels", PathOf("ref-y.npy"));
        ArrowIpc(PathOf("cut.arrows"), p, y, stream: true, fixedSize: false);
        var stream = File.ReadAllBytes(PathOf("cut.arrows"));
        File.WriteAllBytes(PathOf("cut.arrows"), stream[..(stream.Length * 2 / 3)]);
        AssertError("cut.arrows", "report", "--probs", PathOf("cut.arrows:probs"), "--labels", PathOf("ref-y.npy"));
    }

    [Fact]
    public async Task Mutated_table_files_give_a_report_or_one_line_never_a_crash()
    {
        var (p, y) = Npy("ref");
        ArrowCppParquetList(PathOf("seed.parquet"), p, y);
        ArrowIpc(PathOf("seed.arrow"), p, y, stream: false, fixedSize: false);
        ArrowIpc(PathOf("seed.arrows"), p, y, stream: true, fixedSize: true, CompressionCodecType.Zstd);
        var random = new Random(2026);
        int reports = 0, errors = 0;
        for (int round = 0; round < 600; round++)
        {
            string seed = new[] { "seed.parquet", "seed.arrow", "seed.arrows" }[round % 3];
            var bytes = File.ReadAllBytes(PathOf(seed));
            // the metadata lives at the end of a Parquet file and at the start (and end) of an Arrow file: aim there
            switch (random.Next(4))
            {
                case 0: bytes = bytes[..random.Next(bytes.Length)]; break;
                case 1:
                    for (int k = random.Next(1, 4); k > 0; k--) bytes[bytes.Length - 1 - random.Next(Math.Min(bytes.Length, 4096))] ^= (byte)(1 << random.Next(8));
                    break;
                case 2:
                    for (int k = random.Next(1, 4); k > 0; k--) bytes[random.Next(Math.Min(bytes.Length, 1024))] = (byte)random.Next(256);
                    break;
                default:
                    for (int k = random.Next(1, 16); k > 0; k--) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    break;
            }
            string path = PathOf("mutant" + Path.GetExtension(seed));
            File.WriteAllBytes(path, bytes);
            var run = Task.Run(() => Run("report", "--probs", path + ":probs", "--labels", path + ":label", "--json", "--unnormalized"));
            if (await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30))) != run)
            {
                File.Copy(path, Path.Combine(Path.GetTempPath(), $"fastcalib-hang-{round}{Path.GetExtension(seed)}"), overwrite: true);
                Assert.Fail($"round {round} ({seed}) did not finish in 30 s; the file is kept in the temporary folder");
            }
            var (code, output, error) = await run;
            if (code == 0)
            {
                using var json = System.Text.Json.JsonDocument.Parse(output);
                reports++;
            }
            else
            {
                Assert.True(code == 1, $"round {round} ({seed}): exit {code}: {error}");
                Assert.Single(error.TrimEnd('\n').Split('\n'));
                Assert.DoesNotContain("   at ", error);
                errors++;
            }
        }
        Assert.True(reports > 0 && errors > 0, $"{reports} reports, {errors} errors");
    }
}
