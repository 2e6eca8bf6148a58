using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FastCalib.Cli;
using FastCalib.Tests.Calibration;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>
/// End-to-end runs of the fastcalib tool on files the tests write byte for byte per the NumPy format specification
/// (magic, version 1.0, little-endian header length, a Python-literal header dict padded to 64 bytes, raw data).
/// </summary>
public sealed class CliTests : ToolTest
{

    /// <summary>A .npy file: <paramref name="descr"/> such as "&lt;f4", raw little-endian data.</summary>
    internal static byte[] Npy(string descr, string shape, byte[] data, bool fortran = false)
    {
        string header = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";
        int padding = (64 - (10 + header.Length + 1) % 64) % 64;
        header += new string(' ', padding) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange(new byte[] { 1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8) });
        bytes.AddRange(Encoding.Latin1.GetBytes(header));
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    internal static byte[] Floats(float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    private static byte[] Doubles(float[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }

    internal static byte[] Int64s(int[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }

    private static byte[] Int32s(int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    private (string Probs, string Labels, float[] P, int[] Y) WriteProbabilities(int rows = 3000, int cols = 10)
    {
        var (p, y) = CalibrationTests.ProbabilityData(rows, cols, 21);
        File.WriteAllBytes(PathOf("p.npy"), Npy("<f4", $"({rows}, {cols})", Floats(p)));
        File.WriteAllBytes(PathOf("y.npy"), Npy("<i8", $"({rows},)", Int64s(y)));
        return (PathOf("p.npy"), PathOf("y.npy"), p, y);
    }

    [Fact]
    public void Report_json_matches_the_library_and_the_reference()
    {
        var (probs, labels, p, y) = WriteProbabilities();
        var (code, output, error) = Run("report", "--probs", probs, "--labels", labels, "--json", "--adaptive");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        var accumulator = new CalibrationAccumulator(15);
        accumulator.AddProbabilities(p, y, 10);
        var expected = accumulator.Report();
        var (confidence, correct, nll, _) = CalibrationReference.FromProbabilities(p, y, 10);
        var reference = CalibrationReference.Compute(confidence, correct, 15, BinningRule.TorchMetrics);
        Assert.Equal(3000, root.GetProperty("n").GetInt64());
        Assert.Equal(expected.Ece, root.GetProperty("ece").GetDouble(), 12);
        Assert.Equal(reference.Ece, root.GetProperty("ece").GetDouble(), 10);
        Assert.Equal(reference.Mce, root.GetProperty("mce").GetDouble(), 10);
        Assert.Equal(reference.AccuracyAll, root.GetProperty("accuracy").GetDouble(), 10);
        Assert.Equal(nll, root.GetProperty("nll").GetDouble(), 5);
        foreach (var field in new[] { "rmsce", "brier", "mean_confidence", "adaptive_ece" }) Assert.True(root.TryGetProperty(field, out _), field);
        var bins = root.GetProperty("bins").EnumerateArray().ToList();
        Assert.Equal(reference.Counts, bins.Select(b => b.GetProperty("count").GetInt64()).ToArray());
        Assert.True(bins.First(b => b.GetProperty("count").GetInt64() > 0).TryGetProperty("accuracy", out _));
    }

    [Fact]
    public void Float64_npz_and_csv_inputs_give_the_same_report()
    {
        var (probs, labels, p, y) = WriteProbabilities(500, 4);
        string Ece(params string[] args)
        {
            var (code, output, error) = Run(args);
            Assert.True(code == 0, error);
            return JsonDocument.Parse(output).RootElement.GetProperty("ece").GetRawText();
        }
        string expected = Ece("report", "--probs", probs, "--labels", labels, "--json");
        File.WriteAllBytes(PathOf("p64.npy"), Npy("<f8", "(500, 4)", Doubles(p)));
        File.WriteAllBytes(PathOf("y32.npy"), Npy("<i4", "(500,)", Int32s(y)));
        Assert.Equal(expected, Ece("report", "--probs", PathOf("p64.npy"), "--labels", PathOf("y32.npy"), "--json"));
        using (var zip = ZipFile.Open(PathOf("data.npz"), ZipArchiveMode.Create))
        {
            using (var s = zip.CreateEntry("probs.npy", CompressionLevel.Optimal).Open()) s.Write(File.ReadAllBytes(probs));
            using (var s = zip.CreateEntry("labels.npy").Open()) s.Write(File.ReadAllBytes(labels));
        }
        Assert.Equal(expected, Ece("report", "--probs", PathOf("data.npz") + ":probs", "--labels", PathOf("data.npz") + ":labels", "--json"));
        File.WriteAllLines(PathOf("p.csv"), new[] { "a,b,c,d" }.Concat(Enumerable.Range(0, 500).Select(r => string.Join(",", p.Skip(r * 4).Take(4).Select(v => v.ToString("R", System.Globalization.CultureInfo.InvariantCulture))))));
        File.WriteAllLines(PathOf("y.csv"), y.Select(v => v.ToString()));
        Assert.Equal(expected, Ece("report", "--probs", PathOf("p.csv"), "--labels", PathOf("y.csv"), "--json"));
    }

    /// <summary>float16 (mixed-precision models' logits) and big-endian files are read, converted on the way in, as NumPy reads them.</summary>
    [Fact]
    public void Float16_and_big_endian_files_give_the_same_report()
    {
        // values exact in float16, so every encoding holds the same numbers
        var (p0, y) = CalibrationTests.ProbabilityData(300, 4, 8);
        var p = p0.Select(v => (float)(Half)v).ToArray();
        for (int r = 0; r < 300; r++)
        {
            // renormalise in float16 steps: put the rounding error on the last column
            float rest = 1 - p[r * 4] - p[r * 4 + 1] - p[r * 4 + 2];
            p[r * 4 + 3] = (float)(Half)rest;
        }
        string Report(string file)
        {
            var (code, output, error) = Run("report", "--probs", PathOf(file), "--labels", PathOf("y.npy"), "--json", "--unnormalized");
            Assert.True(code == 0, error);
            return JsonDocument.Parse(output).RootElement.GetProperty("ece").GetRawText();
        }
        File.WriteAllBytes(PathOf("y.npy"), Npy(">i8", "(300,)", Int64s(y).Chunk(8).SelectMany(b => b.Reverse()).ToArray()));
        File.WriteAllBytes(PathOf("f4.npy"), Npy("<f4", "(300, 4)", Floats(p)));
        File.WriteAllBytes(PathOf("f4be.npy"), Npy(">f4", "(300, 4)", Floats(p).Chunk(4).SelectMany(b => b.Reverse()).ToArray()));
        var half = new byte[p.Length * 2];
        for (int i = 0; i < p.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(half.AsSpan(i * 2), (Half)p[i]);
        File.WriteAllBytes(PathOf("f2.npy"), Npy("<f2", "(300, 4)", half));
        File.WriteAllBytes(PathOf("f2be.npy"), Npy(">f2", "(300, 4)", half.Chunk(2).SelectMany(b => b.Reverse()).ToArray()));
        File.WriteAllBytes(PathOf("f8be.npy"), Npy(">f8", "(300, 4)", Doubles(p).Chunk(8).SelectMany(b => b.Reverse()).ToArray()));
        string expected = Report("f4.npy");
        foreach (var file in new[] { "f4be.npy", "f2.npy", "f2be.npy", "f8be.npy" }) Assert.Equal(expected, Report(file));
    }

    [Fact]
    public void Fit_temperature_json_matches_the_library()
    {
        var (z, y) = Calibrators.TemperatureScalingTests.Synthetic(4000, 10, 2.0, 5);
        File.WriteAllBytes(PathOf("z.npy"), Npy("<f4", "(4000, 10)", Floats(z)));
        File.WriteAllBytes(PathOf("y.npy"), Npy("<i8", "(4000,)", Int64s(y)));
        var (code, output, error) = Run("fit-temperature", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--json");
        Assert.True(code == 0, error);
        var root = JsonDocument.Parse(output).RootElement;
        var fit = TemperatureScaling.Fit(z, y, 10);
        Assert.Equal(fit.Temperature, root.GetProperty("temperature").GetSingle(), 1e-6);
        Assert.Equal(fit.NllBefore, root.GetProperty("nll_before").GetDouble(), 6);
        Assert.Equal(fit.NllAfter, root.GetProperty("nll_after").GetDouble(), 6);
        Assert.True(root.GetProperty("ece_after").GetDouble() < root.GetProperty("ece_before").GetDouble());

        // the streamed Newton passes on the GPU backend (ILGPU's CPU accelerator without CUDA) find the same T*
        (code, output, error) = Run("fit-temperature", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--json", "--device", "gpu");
        Assert.True(code == 0, error);
        Assert.Equal(fit.Temperature, JsonDocument.Parse(output).RootElement.GetProperty("temperature").GetSingle(), 1e-5);
    }

    [Theory]
    [InlineData("diagram.png", 640, 480)]
    [InlineData("diagram.svg", 800, 700)]
    public void Plot_writes_a_valid_image_of_the_requested_size(string name, int width, int height)
    {
        var (probs, labels, _, _) = WriteProbabilities(2000, 5);
        var (code, _, error) = Run("plot", "--probs", probs, "--labels", labels, "--out", PathOf(name), "--width", width.ToString(), "--height", height.ToString());
        Assert.True(code == 0, error);
        var bytes = File.ReadAllBytes(PathOf(name));
        if (name.EndsWith(".png"))
        {
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes.Take(8).ToArray());
            Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));    // IHDR width
            Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));   // IHDR height
        }
        else
        {
            string svg = Encoding.UTF8.GetString(bytes);
            Assert.Contains("<svg", svg);
            Assert.Contains($"width=\"{width}\"", svg);
            Assert.Contains($"height=\"{height}\"", svg);
        }
    }

    [Fact]
    public void Softmax_log_softmax_and_entropy_write_npy_files_the_library_agrees_with()
    {
        // --device cpu: compared exactly with the library on the same (default CPU) path
        var c = new SoftmaxCase(300, 7, 3, 1f, 2, false);
        var z = c.Logits();
        File.WriteAllBytes(PathOf("z.npy"), Npy("<f4", "(300, 7)", Floats(z)));
        Assert.Equal(0, Run("softmax", "--logits", PathOf("z.npy"), "--temperature", "1.5", "--out", PathOf("p.npy"), "--device", "cpu").Code);
        var expected = new float[z.Length];
        FastCalib.Softmax.Forward(z, expected, 7, 1.5f);
        using (var written = ArraySource.Open(PathOf("p.npy")))
        {
            Assert.Equal((300L, 7), (written.Rows, written.Cols));
            var values = new float[z.Length];
            written.ReadFloats(values);
            Assert.Equal(expected, values);
        }
        Assert.Equal(0, Run("log-softmax", "--logits", PathOf("z.npy"), "--temperature", "1.5", "--out", PathOf("logp.npy"), "--device", "cpu").Code);
        var expectedLog = new float[z.Length];
        FastCalib.Softmax.LogForward(z, expectedLog, 7, 1.5f);
        using (var written = ArraySource.Open(PathOf("logp.npy")))
        {
            var values = new float[z.Length];
            written.ReadFloats(values);
            Assert.Equal(expectedLog, values);
        }
        Assert.Equal(0, Run("entropy", "--probs", PathOf("p.npy"), "--out", PathOf("h.npy"), "--float64", "--device", "cpu").Code);
        var h = new float[300];
        FastCalib.Entropy.FromProbabilities(expected, h, 7);
        using var entropy = ArraySource.Open(PathOf("h.npy"));
        var read = new float[300];
        entropy.ReadFloats(read);
        Assert.Equal(h, read);
    }

    [Fact]
    public void Fft_magnitude_writes_features_of_each_image_with_the_requested_options()
    {
        // [N = 2, C = 3, H = 9, W = 12] float64 in; features of the 6 images against the float64 DFT
        var c = new FastCalib.Tests.Fourier.ImageCase(6, 9, 12, 1, true, 4);
        var images = c.Images();
        File.WriteAllBytes(PathOf("x.npy"), Npy("<f8", "(2, 3, 9, 12)", Doubles(images)));
        var (code, output, error) = Run("fft-magnitude", "--images", PathOf("x.npy"), "--shift", "--log1p", "--out", PathOf("m.npy"));
        Assert.True(code == 0, error);
        Assert.Contains("[2 x 3 x 9 x 12]", output);
        using (var written = ArraySource.Open(PathOf("m.npy")))
        {
            Assert.Equal(new long[] { 2, 3, 9, 12 }, written.Shape);
            var values = new float[images.Length];
            written.ReadFloats(values);
            for (int n = 0; n < 6; n++)
            {
                var expected = FastCalib.Tests.Fourier.DftReference.Shift(
                    FastCalib.Tests.Fourier.DftReference.Magnitude(images, n * 108, 9, 12).Select(m => Math.Log(1 + m)).ToArray(), 9, 12);
                for (int i = 0; i < 108; i++)
                    Assert.True(Math.Abs(values[n * 108 + i] - expected[i]) <= 1e-5 * (1 + expected[i]), $"image {n} element {i}: {values[n * 108 + i]} vs {expected[i]}");
            }
        }

        // one image [H, W], half spectrum, standardised and clipped, float64 out: what the library computes
        File.WriteAllBytes(PathOf("one.npy"), Npy("<f4", "(9, 12)", Floats(images.Take(108).ToArray())));
        Assert.Equal(0, Run("fft-magnitude", "--images", PathOf("one.npy"), "--half", "--standardize", "--clip", "1.5", "--float64", "--out", PathOf("h.npy"), "--device", "cpu").Code);
        var library = new float[9 * 7];
        FourierFeatures.Magnitude(images.AsSpan(0, 108), library, 9, 12, new FourierFeatureOptions { HalfSpectrum = true, Standardize = true, Clip = 1.5f });
        using var half = ArraySource.Open(PathOf("h.npy"));
        Assert.Equal(new long[] { 9, 7 }, half.Shape);
        var read = new float[9 * 7];
        half.ReadFloats(read);
        Assert.Equal(library, read);
        Assert.All(read, v => Assert.InRange(v, -1.5f, 1.5f));

        // not images, integers, a bad clip
        File.WriteAllBytes(PathOf("v.npy"), Npy("<f4", "(5,)", Floats(new float[5])));
        Assert.Contains("is not images", Run("fft-magnitude", "--images", PathOf("v.npy"), "--out", PathOf("o.npy")).Error);
        File.WriteAllBytes(PathOf("i.npy"), Npy("<i4", "(2, 2)", Int32s(new int[4])));
        Assert.Equal(1, Run("fft-magnitude", "--images", PathOf("i.npy"), "--out", PathOf("o.npy")).Code);
        Assert.Equal(2, Run("fft-magnitude", "--images", PathOf("one.npy"), "--clip", "-1", "--out", PathOf("o.npy")).Code);
    }

    [Fact]
    public void Bad_files_give_one_line_and_exit_code_1()
    {
        var (probs, labels, p, y) = WriteProbabilities(100, 4);
        var valid = File.ReadAllBytes(probs);
        var cases = new Dictionary<string, (byte[] Bytes, string Message)>
        {
            ["magic.npy"] = (Encoding.ASCII.GetBytes("not a numpy file at all"), "bad magic"),
            ["truncated.npy"] = (valid.Take(valid.Length - 7).ToArray(), "truncated"),
            ["header.npy"] = (valid.Take(20).ToArray(), "truncated"),
            ["fortran.npy"] = (Npy("<f4", "(100, 4)", Floats(p), fortran: true), "Fortran order"),
            ["complex.npy"] = (Npy("<c8", "(100, 4)", Floats(p)), "not supported"),
            ["nan.npy"] = (Npy("<f4", "(100, 4)", Floats(p.Select((v, i) => i == 17 ? float.NaN : v).ToArray())), "row 4"),
        };
        foreach (var (name, (bytes, message)) in cases)
        {
            File.WriteAllBytes(PathOf(name), bytes);
            var (code, output, error) = Run("report", "--probs", PathOf(name), "--labels", labels);
            Assert.True(code == 1, $"{name}: exit {code}, {error}");
            Assert.Contains(message, error);
            Assert.Single(error.TrimEnd('\n').Split('\n'));
            Assert.StartsWith("fastcalib: ", error);
        }
        File.WriteAllBytes(PathOf("short-labels.npy"), Npy("<i8", "(99,)", Int64s(y.Take(99).ToArray())));
        Assert.Contains("99 labels for 100 rows", Run("report", "--probs", probs, "--labels", PathOf("short-labels.npy")).Error);
        File.WriteAllBytes(PathOf("big-label.npy"), Npy("<i8", "(100,)", Int64s(y.Select((v, i) => i == 3 ? 4 : v).ToArray())));
        Assert.Contains("labels[3] is 4", Run("report", "--probs", probs, "--labels", PathOf("big-label.npy")).Error);
        File.WriteAllBytes(PathOf("float-labels.npy"), Npy("<f4", "(100,)", Floats(y.Select(v => v + 0.5f).ToArray())));
        Assert.Contains("not a label", Run("report", "--probs", probs, "--labels", PathOf("float-labels.npy")).Error);
        Assert.Contains("no such file", Run("report", "--probs", PathOf("missing.npy"), "--labels", labels).Error);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("report", "--labels", "y.npy")]
    [InlineData("report", "--probs", "p.npy", "--logits", "z.npy", "--labels", "y.npy")]
    [InlineData("report", "--probs", "p.npy", "--labels", "y.npy", "--bins", "0")]
    [InlineData("plot", "--probs", "p.npy", "--labels", "y.npy", "--out", "x.gif")]
    [InlineData("softmax", "--logits", "z.npy", "--out", "p.npy", "--device", "tpu")]
    public void Usage_mistakes_exit_with_2(params string[] args)
    {
        WriteProbabilities(50, 3);
        var resolved = args.Select(a => a.EndsWith(".npy") || a.EndsWith(".gif") ? PathOf(a) : a).ToArray();
        var (code, _, error) = Run(resolved);
        Assert.Equal(2, code);
        Assert.StartsWith("fastcalib: ", error);
    }

    /// <summary>Random corruptions of a valid .npy file: every run ends in a report (0) or one error line (1), never a crash.</summary>
    [Fact]
    public void Parser_survives_fuzzed_files()
    {
        var (probs, labels, _, _) = WriteProbabilities(64, 4);
        var valid = File.ReadAllBytes(probs);
        var random = new Random(1234);
        for (int round = 0; round < 300; round++)
        {
            var bytes = valid.ToList();
            switch (round % 4)
            {
                case 0:
                {
                    int start = random.Next(bytes.Count);
                    bytes.RemoveRange(start, Math.Min(bytes.Count - start, random.Next(1, 200)));
                    break;
                }
                case 1: for (int k = 0; k < 1 + random.Next(8); k++) bytes[random.Next(Math.Min(bytes.Count, 128))] = (byte)random.Next(256); break;
                case 2: for (int k = 0; k < 1 + random.Next(8); k++) bytes[random.Next(bytes.Count)] = (byte)random.Next(256); break;
                default: bytes.AddRange(Enumerable.Range(0, random.Next(1, 50)).Select(_ => (byte)random.Next(256))); break;
            }
            File.WriteAllBytes(PathOf("fuzz.npy"), bytes.ToArray());
            var (code, _, error) = Run("report", "--probs", PathOf("fuzz.npy"), "--labels", labels);
            Assert.True(code is 0 or 1, $"round {round}: exit {code}: {error}");
            if (code == 1) Assert.Single(error.TrimEnd('\n').Split('\n'));
        }
    }

    [Fact]
    public void Demos_run_on_their_embedded_inputs()
    {
        var (code, output, error) = Run("demo", "--rows", "3000", "--out-dir", Folder);
        Assert.True(code == 0, error);
        Assert.Contains("fitted temperature", output);
        Assert.True(File.Exists(PathOf("reliability-before.png")) && File.Exists(PathOf("reliability-after.png")));
        (code, output, error) = Run("demo", "--train", "--epochs", "1");
        Assert.True(code == 0, error);
        Assert.Contains("post-hoc temperature", output);
    }
}
