using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FastCalib.Cli;
using FastCalib.Tests.Calibration;
using Xunit;
using static FastCalib.Tests.Cli.CliTests;

namespace FastCalib.Tests.Cli;

/// <summary>
/// Seeded, bounded fuzzing of every command with mutated .npy and .npz files (headers: shape, dtype, order, length;
/// data: truncation, byte flips, NaN and infinities; archives: corrupt bytes). Every outcome must be exit 0 with
/// finite, readable output, or one line on stderr with exit 1 or 2 and no output file; never a stack trace, an abort
/// or a hang.
/// </summary>
public sealed class FuzzTests : ToolTest
{

    private static readonly string[] Dtypes = ["<f4", "<f8", "<i8", "<i4", "|u1", ">f4", "|O", "<c8", "<f2", "<U3", "f4", "<f", "<f16", "<i0"];

    private static readonly string[] Shapes =
        ["(64, 4)", "(4, 64)", "(256,)", "(0, 4)", "(64, 0)", "(2, 8, 8)", "(1, 2147483647)", "(9223372036854775807, 2)", "(-3, 4)", "(64, 4, 1)",
         "(3000000000,)", "()", "(64 4)", "(1099511627776, 1099511627776)", "(8, 8)", "(1, 1)"];

    /// <summary>A mutation of a valid file, chosen by the random source.</summary>
    private static byte[] Mutate(Random random, float[] values, string shape)
    {
        switch (random.Next(6))
        {
            case 0:   // another header over the same data
                return Npy(Dtypes[random.Next(Dtypes.Length)], Shapes[random.Next(Shapes.Length)], Floats(values), fortran: random.Next(8) == 0);
            case 1:   // truncated anywhere
            {
                var bytes = Npy("<f4", shape, Floats(values));
                return bytes.Take(random.Next(bytes.Length)).ToArray();
            }
            case 2:   // bytes flipped in the header
            {
                var bytes = Npy("<f4", shape, Floats(values));
                for (int k = 0; k < 1 + random.Next(6); k++) bytes[random.Next(Math.Min(bytes.Length, 128))] = (byte)random.Next(256);
                return bytes;
            }
            case 3:   // special values in the data
            {
                var v = values.ToArray();
                float[] specials = [float.NaN, float.PositiveInfinity, float.NegativeInfinity, -1f, 2f, 0f, 1f, 1e30f, -1e30f, float.Epsilon];
                for (int k = 0; k < 1 + random.Next(4); k++) v[random.Next(v.Length)] = specials[random.Next(specials.Length)];
                return Npy("<f4", shape, Floats(v));
            }
            case 4:   // bytes flipped anywhere, or appended
            {
                var bytes = Npy("<f4", shape, Floats(values)).ToList();
                if (random.Next(2) == 0) bytes.AddRange(Enumerable.Range(0, random.Next(1, 40)).Select(_ => (byte)random.Next(256)));
                else for (int k = 0; k < 1 + random.Next(8); k++) bytes[random.Next(bytes.Count)] = (byte)random.Next(256);
                return bytes.ToArray();
            }
            default:  // a header length that disagrees with the header
            {
                var bytes = Npy("<f4", shape, Floats(values));
                bytes[8] = (byte)random.Next(256);
                bytes[9] = (byte)random.Next(4);
                return bytes;
            }
        }
    }

    /// <summary>The file as an .npz archive (sometimes corrupted) or as it is.</summary>
    private string Store(Random random, byte[] npy, string name)
    {
        if (random.Next(4) != 0)
        {
            File.WriteAllBytes(PathOf(name + ".npy"), npy);
            return PathOf(name + ".npy");
        }
        string archive = PathOf(name + ".npz");
        File.Delete(archive);
        using (var zip = ZipFile.Open(archive, ZipArchiveMode.Create))
        using (var s = zip.CreateEntry("a.npy", random.Next(2) == 0 ? CompressionLevel.Optimal : CompressionLevel.NoCompression).Open())
            s.Write(npy);
        if (random.Next(3) == 0)
        {
            var bytes = File.ReadAllBytes(archive);
            for (int k = 0; k < 1 + random.Next(6); k++) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            File.WriteAllBytes(archive, bytes);
        }
        return archive + ":a";
    }

    [Fact]
    public async Task Every_command_survives_mutated_files()
    {
        var random = new Random(20261201);
        var (p, y) = CalibrationTests.ProbabilityData(64, 4, 5);
        var z = p.Select(v => MathF.Log(v) * 2).ToArray();
        var images = Enumerable.Range(0, 128).Select(i => MathF.Sin(i * 0.37f)).ToArray();
        File.WriteAllBytes(PathOf("y.npy"), Npy("<i8", "(64,)", Int64s(y)));
        // sampled answers (-1 outside the classes), binary scores and their 0/1 labels
        var answers = Enumerable.Range(0, 64 * 5).Select(i => (float)((i * 7 + i / 5) % 5 - 1)).ToArray();
        var scores = Enumerable.Range(0, 64).Select(r => p[r * 4]).ToArray();
        File.WriteAllBytes(PathOf("yb.npy"), Npy("<i8", "(64,)", Int64s(y.Select(v => v % 2).ToArray())));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        int runs = 0, succeeded = 0;
        for (int round = 0; round < 400 && watch.Elapsed < TimeSpan.FromSeconds(20); round++)
        {
            int command = round % 11;
            var (values, shape) = command switch
            {
                1 or 3 or 10 => (z, "(64, 4)"), 5 => (images, "(2, 8, 8)"), 6 => (answers, "(64, 5)"), 7 or 8 or 9 => (scores, "(64,)"), _ => (p, "(64, 4)"),
            };
            string input = Store(random, Mutate(random, values, shape), $"in{round}");
            bool binary = command is 7 or 8 or 9;
            string labels = random.Next(5) == 0
                ? Store(random, Mutate(random, y.Select(v => (float)(binary ? v % 2 : v)).ToArray(), "(64,)"), $"labels{round}")
                : PathOf(binary ? "yb.npy" : "y.npy");
            string output = PathOf(command is 2 or 9 ? $"out{round}.svg" : command == 10 ? $"out{round}.json" : $"out{round}.npy");
            string[] args = command switch
            {
                0 => ["report", "--probs", input, "--labels", labels, "--json"],
                1 => ["fit-temperature", "--logits", input, "--labels", labels, "--json"],
                2 => ["plot", "--probs", input, "--labels", labels, "--out", output, "--width", "300", "--height", "300"],
                3 => ["softmax", "--logits", input, "--out", output],
                4 => ["entropy", "--probs", input, "--out", output],
                5 => ["fft-magnitude", "--images", input, "--out", output],
                6 => ["report", "--votes", input, "--labels", labels, "--json"],
                7 => ["thresholds", "--scores", input, "--labels", labels, "--target-precision", "0.7", "--json"],
                8 => ["report", "--binary", "--scores", input, "--labels", labels, "--json"],
                9 => ["plot", "--roc", "--pr", "--scores", input, "--labels", labels, "--out", output, "--width", "300", "--height", "300"],
                _ => ["fit", "--method", new[] { "temperature", "vector", "matrix", "dirichlet", "ets" }[round / 11 % 5], "--logits", input, "--labels", labels, "--out", output, "--json", "--device", "cpu"],
            };
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code;
            try
            {
                code = await Task.Run(() => Program.Run(args, stdout, stderr)).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (TimeoutException)
            {
                Assert.Fail($"round {round} ({string.Join(' ', args)}) did not finish in 30 s");
                return;
            }
            string what = $"round {round} ({args[0]}): exit {code}: {stderr}";
            Assert.True(code is 0 or 1 or 2, what);
            Assert.DoesNotContain("   at ", stderr.ToString());
            if (code != 0)
            {
                Assert.Single(stderr.ToString().TrimEnd('\n').Split('\n'));
                Assert.StartsWith("fastcalib: ", stderr.ToString());
                Assert.False(File.Exists(output), $"{what}: a failed command left {output}");
            }
            else
            {
                succeeded++;
                AssertValidOutput(command, stdout.ToString(), output, what);
            }
            Assert.Empty(Directory.GetFiles(Folder, "*.tmp"));
            runs++;
        }
        Assert.True(runs >= 60, $"only {runs} runs in the time allowed");
        // the mutations reach both outcomes, so both halves of the contract are exercised
        Assert.True(succeeded >= runs / 10 && runs - succeeded >= runs / 10, $"{succeeded} of {runs} runs succeeded");
    }

    /// <summary>A successful run's output: strict JSON (no NaN or Infinity), an SVG, or a .npy of finite values.</summary>
    private static void AssertValidOutput(int command, string stdout, string output, string what)
    {
        if (command is 0 or 1 or 6 or 7 or 8 or 10)
        {
            using var json = JsonDocument.Parse(stdout);
            if (command == 10) Assert.NotNull(MulticlassCalibrator.FromJson(File.ReadAllText(output)));
        }
        else if (command is 2 or 9)
        {
            Assert.StartsWith("<?xml", File.ReadAllText(output, Encoding.UTF8));
        }
        else
        {
            using var written = ArraySource.Open(output);
            var read = new float[written.Rows * written.Cols];
            written.ReadFloats(read);
            Assert.True(read.All(float.IsFinite), $"{what}: exit 0 with non-finite output");
        }
    }
}
