using FastCalib.Tests.Calibration;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using ILGPU;
using ILGPU.Runtime;
using Xunit;

namespace FastCalib.Tests.Uncertainty;

/// <summary>Agreement of sampled answers against a float64 count of each row's answers written for clarity.</summary>
public class SampledAnswersTests
{
    /// <summary>Majority (most frequent id ≥ 0, smallest on ties, -1 if none), its share of all S answers, and the
    /// entropy of the answers' distribution with -1 as one outcome, by counting in a dictionary.</summary>
    private static (int Majority, double Confidence, double Entropy) Reference(ReadOnlySpan<int> row)
    {
        var counts = new SortedDictionary<int, int>();
        foreach (int v in row) counts[v] = counts.GetValueOrDefault(v) + 1;
        int majority = -1, best = 0;
        foreach (var (id, n) in counts)
            if (id >= 0 && n > best) (majority, best) = (id, n);
        double h = 0;
        foreach (int n in counts.Values) h -= (double)n / row.Length * Math.Log((double)n / row.Length);
        return (majority, (double)best / row.Length, h);
    }

    /// <summary>Rows of S answers drawn from few ids (so that ties and agreement are common), -1 included.</summary>
    public static Arbitrary<(int[] Answers, int Samples, int Threads)> Cases() => Arb.From(
        from samples in Gen.Choose(1, 12)
        from rows in Gen.Choose(0, 40)
        from ids in Gen.Choose(1, 6)
        from answers in Gen.Choose(-1, ids - 1).ArrayOf(rows * samples)
        from threads in Gen.Elements(1, 2)
        select (answers, samples, threads));

    [Property(Arbitrary = new[] { typeof(SampledAnswersTests) }, MaxTest = 40)]
    public void Majority_confidence_and_vote_entropy_match_the_float64_count((int[] Answers, int Samples, int Threads) c)
    {
        int rows = c.Answers.Length / c.Samples;
        var majority = Enumerable.Repeat(int.MinValue, rows).ToArray();
        var confidence = Enumerable.Repeat(float.NaN, rows).ToArray();
        var entropy = Enumerable.Repeat(float.NaN, rows).ToArray();
        SampledAnswers.Summarize(c.Answers, c.Samples, majority, confidence, entropy, new ComputeOptions { MaxThreads = c.Threads });
        for (int r = 0; r < rows; r++)
        {
            var (m, conf, h) = Reference(c.Answers.AsSpan(r * c.Samples, c.Samples));
            Assert.Equal(m, majority[r]);
            Tolerance.AssertClose(confidence[r], conf, 6e-8 * conf, $"confidence[{r}]");
            Tolerance.AssertClose(entropy[r], h, 2e-7 * (1 + h), $"vote entropy[{r}]");
            Assert.InRange(entropy[r], 0, Math.Log(c.Samples) + 1e-6);
        }
    }

    /// <summary>On device views (ILGPU's CPU accelerator here, CUDA where there is one): the float64 count of every row, every output written, bad answers refused by name.</summary>
    [Property(Arbitrary = new[] { typeof(SampledAnswersTests) }, MaxTest = 15)]
    public void Device_views_match_the_float64_count((int[] Answers, int Samples, int Threads) c)
    {
        foreach (var accelerator in new[] { Paths.CpuAccelerator.Value, Paths.Cuda.Value }.OfType<Accelerator>())
        {
            var stream = accelerator.DefaultStream;
            int rows = c.Answers.Length / c.Samples;
            using var answers = accelerator.Allocate1D(c.Answers.Length == 0 ? [0] : c.Answers);
            using var majority = accelerator.Allocate1D(Enumerable.Repeat(int.MinValue, Math.Max(1, rows)).ToArray());
            using var confidence = accelerator.Allocate1D(Enumerable.Repeat(float.NaN, Math.Max(1, rows)).ToArray());
            using var entropy = accelerator.Allocate1D(Enumerable.Repeat(float.NaN, Math.Max(1, rows)).ToArray());
            SampledAnswers.Summarize(stream, answers.View.SubView(0, c.Answers.Length), c.Samples, majority.View.SubView(0, rows), confidence.View.SubView(0, rows), entropy.View.SubView(0, rows));
            var (m, p, h) = (majority.GetAsArray1D(), confidence.GetAsArray1D(), entropy.GetAsArray1D());
            for (int r = 0; r < rows; r++)
            {
                var (rm, rc, rh) = Reference(c.Answers.AsSpan(r * c.Samples, c.Samples));
                Assert.Equal(rm, m[r]);
                Assert.Equal(rc, p[r], 1e-6);
                Assert.Equal(rh, h[r], 1e-5);
            }
            if (c.Answers.Length > 0)
            {
                var bad = c.Answers.ToArray();
                bad[^1] = -2;
                using var wrong = accelerator.Allocate1D(bad);
                var e = Assert.Throws<ArgumentOutOfRangeException>(() => SampledAnswers.Summarize(stream, wrong.View, c.Samples, majority.View.SubView(0, rows), confidence.View.SubView(0, rows), default));
                Assert.Equal("answers", e.ParamName);
                Assert.Contains($"answers[{rows - 1}, {c.Samples - 1}] is -2", e.Message);
            }
        }
    }

    [Fact]
    public void Hand_made_rows_give_the_stated_majority_share_and_entropy()
    {
        // rows of 4: two-two tie (smaller id wins), outside answers lower the share, none inside, all agree, all differ
        int[] answers = [3, 1, 3, 1, -1, -1, 7, -1, -1, -1, -1, -1, 5, 5, 5, 5, 0, 1, 2, 3];
        var majority = new int[5];
        var confidence = new float[5];
        var entropy = new float[5];
        SampledAnswers.Summarize(answers, 4, majority, confidence, entropy);
        Assert.Equal([1, 7, -1, 5, 0], majority);
        Assert.Equal([0.5f, 0.25f, 0f, 1f, 0.25f], confidence);
        Assert.Equal((float)Math.Log(2), entropy[0]);
        Assert.Equal((float)-(0.75 * Math.Log(0.75) + 0.25 * Math.Log(0.25)), entropy[1]);
        Assert.Equal(0f, entropy[2]);
        Assert.Equal(0f, entropy[3]);
        Assert.Equal((float)Math.Log(4), entropy[4]);
    }

    [Fact]
    public void Votes_feed_the_accumulator_as_their_confidences_and_correctness_would()
    {
        var random = new Random(11);
        const int samples = 7, rows = 150_000;   // more than one block of the accumulator's loop
        var answers = Enumerable.Range(0, rows * samples).Select(_ => random.Next(10) == 0 ? -1 : random.Next(3)).ToArray();
        var labels = Enumerable.Range(0, rows).Select(_ => random.Next(3)).ToArray();
        var votes = new CalibrationAccumulator(15);
        votes.AddVotes(answers, labels, samples);
        var pairs = new CalibrationAccumulator(15);
        var confidence = new float[rows];
        var correct = new bool[rows];
        for (int r = 0; r < rows; r++)
        {
            var (m, conf, _) = Reference(answers.AsSpan(r * samples, samples));
            confidence[r] = (float)conf;
            correct[r] = m == labels[r];
        }
        pairs.AddConfidences(confidence, correct);
        CalibrationPropertyTests.AssertIdentical(pairs.Report(), votes.Report());
        Assert.True(double.IsNaN(votes.Report().NegativeLogLikelihood));

        // split into two calls: the same, bit for bit
        var split = new CalibrationAccumulator(15);
        split.AddVotes(answers.AsSpan(0, 1000 * samples), labels.AsSpan(0, 1000), samples);
        split.AddVotes(answers.AsSpan(1000 * samples), labels.AsSpan(1000), samples, new ComputeOptions { MaxThreads = 1 });
        CalibrationPropertyTests.AssertIdentical(votes.Report(), split.Report());

        // the tool's observer sees every block's pairs, in order (here three blocks)
        var seenConfidence = new List<float>();
        var seenCorrect = new List<bool>();
        new CalibrationAccumulator(15).AddVotes(answers, labels, samples, default, (c, ok) =>
        {
            foreach (float v in c) seenConfidence.Add(v);
            foreach (bool v in ok) seenCorrect.Add(v);
        });
        Assert.Equal(confidence, seenConfidence);
        Assert.Equal(correct, seenCorrect);
    }

    [Fact]
    public void Bad_answers_and_labels_are_refused_by_name_and_add_nothing()
    {
        var a = new CalibrationAccumulator(10);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => a.AddVotes([0, 1, 2, -2, 1, 1], [0, 1], 3));
        Assert.Equal("answers", e.ParamName);
        Assert.Contains("answers[1, 0] is -2", e.Message);
        var l = Assert.Throws<ArgumentOutOfRangeException>(() => a.AddVotes([0, 1, 2, 1, 1, 1], [0, -1], 3));
        Assert.Equal("labels", l.ParamName);
        Assert.Contains("labels[1] is -1", l.Message);
        Assert.Throws<ArgumentException>(() => a.AddVotes([0, 1, 2, 1], [0, 1], 3));       // not whole rows
        Assert.Throws<ArgumentException>(() => a.AddVotes([0, 1, 2, 1, 1, 1], [0], 3));    // a label per row
        Assert.Throws<ArgumentOutOfRangeException>(() => a.AddVotes([0, 1], [0, 1], 0));
        Assert.Equal(0, a.Report().Count);
        a.AddVotes([], [], 5);
        Assert.Equal(0, a.Report().Count);
        Assert.Throws<ArgumentException>(() => SampledAnswers.Summarize([1, 2, 3, 4], 2, new int[1], new float[2], []));
    }
}
