using System.Buffers.Binary;
using FastCalib.Tests.Calibration;
using FastCalib.Tests.Packaging;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>
/// A prediction set sharded over processes: each part scored by its own fastcalib process with --save-state, the
/// states merged by 'fastcalib merge' (or summed elementwise, as an all-reduce would, and read as one file), against
/// one report over the whole file, bit for bit. States of another shape, and files that are not states, are refused.
/// </summary>
public sealed class MergeTests : ToolTest
{
    private const int Rows = 10_003, Classes = 7;
    private static readonly int[] Cuts = [0, 1, 5_001, 5_003, Rows];   // parts of 1, 5,000, 2 and 5,000 rows
    private readonly string _tool = typeof(FastCalib.Cli.Program).Assembly.Location;

    /// <summary>Runs the tool in a process of its own.</summary>
    private (int Code, string Output) Tool(string arguments) => Packages.Exec("dotnet", $"\"{_tool}\" {arguments}", Folder);

    private void WritePart(string name, float[] p, int[] y, int from, int to)
    {
        File.WriteAllBytes(PathOf($"{name}-p.npy"), CliTests.Npy("<f4", $"({to - from}, {Classes})", CliTests.Floats(p[(from * Classes)..(to * Classes)])));
        File.WriteAllBytes(PathOf($"{name}-y.npy"), CliTests.Npy("<i8", $"({to - from},)", CliTests.Int64s(y[from..to])));
    }

    [Fact]
    public void Four_processes_merged_equal_the_whole_bit_for_bit()
    {
        var (p, y) = CalibrationTests.ProbabilityData(Rows, Classes, 31);
        WritePart("whole", p, y, 0, Rows);
        for (int k = 0; k < 4; k++) WritePart($"part{k}", p, y, Cuts[k], Cuts[k + 1]);

        var parts = Enumerable.Range(0, 4).Select(k => Task.Run(() =>
            Tool($"report --probs part{k}-p.npy --labels part{k}-y.npy --binning sklearn --bins 20 --save-state part{k}.fcstate --json"))).ToArray();
        var whole = Tool("report --probs whole-p.npy --labels whole-y.npy --binning sklearn --bins 20 --json");
        var wholeText = Tool("report --probs whole-p.npy --labels whole-y.npy --binning sklearn --bins 20");
        Task.WaitAll(parts);
        foreach (var part in parts) Assert.True(part.Result.Code == 0, part.Result.Output);
        Assert.Equal(0, whole.Code);

        // JSON numbers are written to round-trip, so equal text is equal bits
        var merged = Tool("merge part0.fcstate part1.fcstate part2.fcstate part3.fcstate --json --save-state all.fcstate");
        Assert.True(merged.Code == 0, merged.Output);
        Assert.Equal(whole.Output, merged.Output);
        Assert.Contains("\"n\": 10003", merged.Output);
        var mergedText = Tool("merge part3.fcstate part1.fcstate part0.fcstate part2.fcstate");
        Assert.Equal(wholeText.Output, mergedText.Output);
        Assert.Equal(whole.Output, Tool("merge all.fcstate --json").Output);

        // an all-reduce's way: the four vectors summed elementwise into one file
        var sum = Enumerable.Range(0, 4).Select(k => ReadState($"part{k}.fcstate")).Aggregate((a, b) => a.Zip(b, (u, v) => u + v).ToArray());
        WriteState("summed.npy", sum);
        Assert.Equal(whole.Output, Tool("merge summed.npy --json").Output);
    }

    [Fact]
    public void States_of_another_shape_and_files_that_are_not_states_are_refused()
    {
        var (p, y) = CalibrationTests.ProbabilityData(500, Classes, 32);
        WritePart("a", p, y, 0, 250);
        WritePart("b", p, y, 250, 500);
        Assert.Equal(0, Tool("report --probs a-p.npy --labels a-y.npy --save-state a.fcstate").Code);
        Assert.Equal(0, Tool("report --probs b-p.npy --labels b-y.npy --bins 10 --save-state b.fcstate").Code);

        var (code, output) = Tool("merge a.fcstate b.fcstate");
        Assert.Equal(1, code);
        string line = Assert.Single(output.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("b.fcstate: a state of 10 bins, --binning torchmetrics", line);
        Assert.Contains("a.fcstate has 15 bins", line);

        // summed elementwise they cannot be read either (different lengths are caught by any engine; here the
        // same length: 16 torchmetrics slots and 16 closed-last bins)
        Assert.Equal(0, Tool("report --probs b-p.npy --labels b-y.npy --bins 16 --binning closed-last --save-state c.fcstate").Code);
        WriteState("mixed.npy", ReadState("a.fcstate").Zip(ReadState("c.fcstate"), (u, v) => u + v).ToArray());
        (code, output) = Tool("merge mixed.npy");
        Assert.Equal(1, code);
        Assert.Contains("mixed.npy: the state is a sum of 2 states of different shapes", output);

        (code, output) = Tool("merge a-p.npy");
        Assert.Equal(1, code);
        Assert.Contains("a-p.npy: not an accumulator state", output);
        var cut = ReadState("a.fcstate")[..^3];
        WriteState("cut.npy", cut);
        (code, output) = Tool("merge cut.npy");
        Assert.Equal(1, code);
        Assert.Contains("cut.npy: a state of 15 bins", output);
        Assert.DoesNotContain("   at ", output);
    }

    /// <summary>States with random values changed, cut or extended: every merge is a report or one line naming the file.</summary>
    [Fact]
    public void Mutated_states_give_a_report_or_one_clear_line()
    {
        var (p, y) = CalibrationTests.ProbabilityData(300, Classes, 33);
        WritePart("m", p, y, 0, 300);
        Assert.Equal(0, Tool("report --probs m-p.npy --labels m-y.npy --save-state m.fcstate").Code);
        var state = ReadState("m.fcstate");
        var random = new Random(20261201);
        int reports = 0;
        for (int round = 0; round < 300; round++)
        {
            var mutated = (long[])state.Clone();
            for (int k = random.Next(1, 4); k > 0; k--)
            {
                int i = random.Next(mutated.Length);
                mutated[i] = random.Next(6) switch
                {
                    0 => long.MaxValue,
                    1 => long.MinValue,
                    2 => -mutated[i],
                    3 => mutated[i] * 2,
                    _ => mutated[i] + random.Next(-3, 4),
                };
            }
            if (random.Next(10) == 0) mutated = mutated[..random.Next(mutated.Length)];
            WriteState($"mut{round}.npy", mutated);
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            int code = FastCalib.Cli.Program.Run(["merge", PathOf($"mut{round}.npy"), "--json"], stdout, stderr);
            Assert.True(code is 0 or 1, $"round {round}: exit {code}: {stderr}");
            if (code == 1)
            {
                Assert.Single(stderr.ToString().TrimEnd('\n').Split('\n'));
                Assert.Contains($"mut{round}.npy", stderr.ToString());
                Assert.DoesNotContain("   at ", stderr.ToString());
            }
            else
            {
                reports++;
                using var json = System.Text.Json.JsonDocument.Parse(stdout.ToString());   // valid JSON, numbers finite or null
                Assert.True(json.RootElement.GetProperty("n").GetInt64() >= 0);
            }
        }
        Assert.InRange(reports, 1, 299);   // some mutations (a sum's last bits) still describe a possible accumulator
    }

    private long[] ReadState(string name)
    {
        var bytes = File.ReadAllBytes(PathOf(name));
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8));
        var state = new long[(bytes.Length - 10 - headerLength) / 8];
        for (int i = 0; i < state.Length; i++) state[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(10 + headerLength + i * 8));
        return state;
    }

    private void WriteState(string name, long[] state)
    {
        var data = new byte[state.Length * 8];
        for (int i = 0; i < state.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(i * 8), state[i]);
        File.WriteAllBytes(PathOf(name), CliTests.Npy("<i8", $"({state.Length},)", data));
    }
}
