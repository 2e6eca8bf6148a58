using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>fastcalib uncertainty: the archive and the printed means are the library's <see cref="EnsembleUncertainty"/> result.</summary>
public sealed class UncertaintyCliTests : ToolTest
{
    private const int Rows = 700, Cols = 7, Passes = 4;

    /// <summary>Pass logits: a shared base plus pass noise, so that passes mostly agree; labels drawn near the base's argmax.</summary>
    private static (float[][] Logits, int[] Labels) Data()
    {
        var random = new Random(5);
        var baseLogits = Enumerable.Range(0, Rows * Cols).Select(_ => (float)(2 * TestData.Normal(random))).ToArray();
        var logits = Enumerable.Range(0, Passes).Select(_ => baseLogits.Select(v => v + (float)TestData.Normal(random)).ToArray()).ToArray();
        var labels = Enumerable.Range(0, Rows).Select(r => random.NextDouble() < 0.7 ? Reference.ArgMax(baseLogits.AsSpan(r * Cols, Cols)) : random.Next(Cols)).ToArray();
        return (logits, labels);
    }

    private string Save(string name, string shape, float[] values)
    {
        File.WriteAllBytes(PathOf(name), CliTests.Npy("<f4", shape, CliTests.Floats(values)));
        return PathOf(name);
    }

    /// <summary>The float32 arrays of an .npz archive by name.</summary>
    private static Dictionary<string, float[]> ReadArchive(string path)
    {
        using var zip = ZipFile.OpenRead(path);
        var arrays = new Dictionary<string, float[]>();
        foreach (var entry in zip.Entries)
        {
            using var stream = entry.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            int header = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
            Assert.Contains("'descr': '<f4'", Encoding.Latin1.GetString(bytes, 10, header));
            var values = new float[(bytes.Length - 10 - header) / 4];
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(10 + header + 4 * i));
            arrays[Path.GetFileNameWithoutExtension(entry.Name)] = values;
        }
        return arrays;
    }

    [Fact]
    public void Pass_files_and_the_stack_give_the_library_result()
    {
        var (logits, labels) = Data();
        var probs = logits.Select(z => { var p = new float[z.Length]; FastCalib.Softmax.Forward(z, p, Cols, 1.5f); return p; }).ToArray();
        var files = probs.Select((p, s) => Save($"p{s}.npy", $"({Rows}, {Cols})", p)).ToArray();
        string stack = Save("z.npy", $"({Passes}, {Rows}, {Cols})", logits.SelectMany(z => z).ToArray());
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({Rows},)", CliTests.Int64s(labels)));

        var fromProbs = new EnsembleUncertainty(Rows, Cols);
        foreach (var p in probs) fromProbs.AddProbabilities(p);
        var expected = fromProbs.Result();
        var (code, output, error) = Run(["uncertainty", "--probs", .. files, "--labels", PathOf("y.npy"), "--out", PathOf("u.npz"), "--json"]);
        Assert.True(code == 0, error);
        var archive = ReadArchive(PathOf("u.npz"));
        Assert.Equal(expected.MeanProbabilities, archive["mean_probs"]);
        Assert.Equal(expected.PredictiveEntropy, archive["predictive_entropy"]);
        Assert.Equal(expected.ExpectedEntropy, archive["expected_entropy"]);
        Assert.Equal(expected.MutualInformation, archive["mutual_information"]);
        Assert.Equal(expected.TopVariance, archive["top_variance"]);
        Assert.Equal(expected.Agreement, archive["agreement"]);
        var json = JsonDocument.Parse(output[..(output.LastIndexOf('}') + 1)]).RootElement;
        Assert.Equal(Passes, json.GetProperty("passes").GetInt32());
        Assert.Equal(expected.MeanMutualInformation, json.GetProperty("mutual_information").GetDouble(), 12);
        Assert.Equal(expected.MeanAgreement, json.GetProperty("agreement").GetDouble(), 12);
        var calibration = new CalibrationAccumulator(15);
        calibration.AddProbabilities(expected.MeanProbabilities, labels, Cols);
        Assert.Equal(calibration.Report().Ece, json.GetProperty("report").GetProperty("ece").GetDouble(), 12);

        // the stack of logits at T = 1.5 against the library fed the same logits
        var fromLogits = new EnsembleUncertainty(Rows, Cols);
        foreach (var z in logits) fromLogits.AddLogits(z, 1.5f);
        (code, _, error) = Run("uncertainty", "--logit-stack", stack, "--temperature", "1.5", "--out", PathOf("s.npz"));
        Assert.True(code == 0, error);
        Assert.Equal(fromLogits.Result().MutualInformation, ReadArchive(PathOf("s.npz"))["mutual_information"]);
        // the stack of probabilities against the pass files above
        string probStack = Save("p.npy", $"({Passes}, {Rows}, {Cols})", probs.SelectMany(p => p).ToArray());
        (code, _, error) = Run("uncertainty", "--stack", probStack, "--out", PathOf("ps.npz"));
        Assert.True(code == 0, error);
        var fromStack = ReadArchive(PathOf("ps.npz"));
        Assert.Equal(expected.MeanProbabilities, fromStack["mean_probs"]);
        Assert.Equal(expected.Agreement, fromStack["agreement"]);
        Assert.Equal(expected.ExpectedEntropy, fromStack["expected_entropy"]);
    }

    [Fact]
    public void Bad_inputs_are_one_line_errors_and_leave_no_archive()
    {
        var (logits, _) = Data();
        string a = Save("a.npy", $"({Rows}, {Cols})", logits[0]);
        string b = Save("b.npy", $"({Rows - 1}, {Cols})", logits[1][..((Rows - 1) * Cols)]);
        var nan = logits[2].ToArray();
        nan[3 * Cols + 2] = float.NaN;
        string c = Save("c.npy", $"({Rows}, {Cols})", nan);

        var (code, _, error) = Run("uncertainty", "--logits", a, b, "--out", PathOf("u.npz"));
        Assert.Equal(1, code);
        Assert.Contains("pass 1 is [699 x 7]", error);
        (code, _, error) = Run("uncertainty", "--logits", a, c, "--out", PathOf("u.npz"));
        Assert.Equal(1, code);
        Assert.Contains("c.npy: row 3 of pass 1", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(PathOf("u.npz")));
        (code, _, error) = Run("uncertainty", "--probs", a, "--out", PathOf("u.npz"));
        Assert.Equal(1, code);                                   // logits are not probability rows
        Assert.Contains("not a probability distribution", error);
        Assert.Equal(2, Run("uncertainty", "--logits", a, "--out", PathOf("u.npy")).Code);
        Assert.Equal(2, Run("uncertainty", "--logits", a).Code);                                   // neither --out nor --json
        Assert.Equal(2, Run("uncertainty", "--logits", a, "--stack", a, "--json").Code);
        Assert.Equal(2, Run("uncertainty", "--probs", a, "--temperature", "2", "--json").Code);
        (code, _, error) = Run("uncertainty", "--stack", a, "--json");
        Assert.Equal(1, code);
        Assert.Contains("[S, N, C]", error);
        // a stack, read whole: the first bad row of the first pass with one, named by the file
        string badStack = Save("bad.npy", $"(3, {Rows}, {Cols})", logits[0].Concat(logits[1]).Concat(nan).ToArray());
        (code, _, error) = Run("uncertainty", "--logit-stack", badStack, "--out", PathOf("u.npz"));
        Assert.Equal(1, code);
        Assert.Contains("bad.npy: row 3 of pass 2 has a NaN or infinite logit", error);
        Assert.Single(error.Trim().Split('\n'));
        Assert.False(File.Exists(PathOf("u.npz")));
    }
}
