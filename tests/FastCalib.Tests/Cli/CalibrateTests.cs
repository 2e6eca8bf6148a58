using System.Text.Json;
using FastCalib.Cli;
using Xunit;

namespace FastCalib.Tests.Cli;

/// <summary>'fastcalib fit' and 'apply': the saved calibrator is the library's fit, applying it gives the library's probabilities.</summary>
public sealed class CalibrateTests : ToolTest
{
    [Fact]
    public void Fit_saves_the_library_s_calibrator_and_apply_reproduces_its_outputs()
    {
        var random = new Random(4);
        var scores = Enumerable.Range(0, 3_000).Select(_ => (float)(0.01 + 0.98 * random.NextDouble())).ToArray();
        var labels = scores.Select(s => random.NextDouble() < s * s ? 1 : 0).ToArray();
        File.WriteAllBytes(PathOf("s.npy"), CliTests.Npy("<f4", $"({scores.Length},)", CliTests.Floats(scores)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({labels.Length},)", CliTests.Int64s(labels)));
        foreach (var (method, expected) in new (string, BinaryCalibrator)[]
        {
            ("platt", PlattCalibrator.Fit(scores, labels)),
            ("beta", BetaCalibrator.Fit(scores, labels)),
            ("isotonic", IsotonicCalibrator.Fit(scores, labels)),
            ("histogram", HistogramCalibrator.Fit(scores, labels, 7)),
        })
        {
            string[] bins = method == "histogram" ? ["--bins", "7"] : [];
            var fit = Run(["fit", "--method", method, "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), .. bins, "--out", PathOf($"{method}.json"), "--json"]);
            Assert.True(fit.Code == 0, fit.Error);
            Assert.Equal(expected.ToJson(), BinaryCalibrator.FromJson(File.ReadAllText(PathOf($"{method}.json"))).ToJson());
            using var json = JsonDocument.Parse(fit.Out);
            Assert.True(json.RootElement.GetProperty("nll_after").GetDouble() <= json.RootElement.GetProperty("nll_before").GetDouble() + 1e-12);
            var apply = Run("apply", "--calibrator", PathOf($"{method}.json"), "--scores", PathOf("s.npy"), "--out", PathOf($"{method}.npy"));
            Assert.True(apply.Code == 0, apply.Error);
            using var written = ArraySource.Open(PathOf($"{method}.npy"));
            var probabilities = new float[written.Rows];
            written.ReadFloats(probabilities);
            Assert.Equal(expected.Apply(scores), probabilities);
        }

        Assert.Equal(2, Run("fit", "--method", "magic", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
        Assert.False(File.Exists(PathOf("m.json")));
        Assert.Equal(2, Run("fit", "--method", "platt", "--bins", "7", "--scores", PathOf("s.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
        Assert.Equal(1, Run("apply", "--calibrator", PathOf("s.npy"), "--scores", PathOf("s.npy"), "--out", PathOf("x.npy")).Code);
        File.WriteAllBytes(PathOf("bad-y.npy"), CliTests.Npy("<i8", $"({labels.Length},)", CliTests.Int64s(labels.Select(v => v * 2).ToArray())));
        var bad = Run("fit", "--method", "beta", "--scores", PathOf("s.npy"), "--labels", PathOf("bad-y.npy"), "--out", PathOf("b.json"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("bad-y.npy", bad.Error);
        Assert.False(File.Exists(PathOf("b.json")));
    }

    [Fact]
    public void A_temperature_fitted_on_logits_saves_as_json_and_applies_as_the_librarys_softmax()
    {
        var random = new Random(6);
        const int rows = 2_000, classes = 5;
        var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        var logits = Enumerable.Range(0, rows * classes).Select(i => (float)(3 * ((i % classes == labels[i / classes] ? 1.5 : 0) + TestData.Normal(random)))).ToArray();
        File.WriteAllBytes(PathOf("z.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(logits)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels)));
        var expected = TemperatureScaling.Fit(logits, labels, classes);

        var fit = Run("fit", "--method", "temperature", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("t.json"), "--json");
        Assert.True(fit.Code == 0, fit.Error);
        var saved = MulticlassCalibrator.FromJson(File.ReadAllText(PathOf("t.json")));
        var temperature = Assert.IsType<TemperatureCalibrator>(saved).Temperature;
        Assert.Equal(expected.Temperature, temperature, 1e-5f);
        using (var json = JsonDocument.Parse(fit.Out))
        {
            Assert.Equal("temperature", json.RootElement.GetProperty("method").GetString());
            Assert.Equal(expected.NllAfter, json.RootElement.GetProperty("nll_after").GetDouble(), 5);
            Assert.True(json.RootElement.GetProperty("passes").GetInt32() > 0);
            Assert.Equal("temperature", json.RootElement.GetProperty("calibrator").GetProperty("kind").GetString());
        }

        var apply = Run("apply", "--calibrator", PathOf("t.json"), "--logits", PathOf("z.npy"), "--out", PathOf("p.npy"));
        Assert.True(apply.Code == 0, apply.Error);
        using (var written = ArraySource.Open(PathOf("p.npy")))
        {
            Assert.Equal(classes, written.Cols);
            var probabilities = new float[written.Rows * written.Cols];
            written.ReadFloats(probabilities);
            var reference = new float[logits.Length];
            FastCalib.Softmax.Forward(logits, reference, classes, temperature);
            Assert.Equal(reference, probabilities);
        }

        // the wrong input for the calibrator's kind, and a hand-edited temperature, are one-line errors
        var wrong = Run("apply", "--calibrator", PathOf("t.json"), "--scores", PathOf("y.npy"), "--out", PathOf("x.npy"));
        Assert.Equal(1, wrong.Code);
        Assert.Contains("applies to --logits", wrong.Error);
        File.WriteAllText(PathOf("bad.json"), "{\"kind\": \"temperature\", \"Temperature\": -2}");
        var bad = Run("apply", "--calibrator", PathOf("bad.json"), "--logits", PathOf("z.npy"), "--out", PathOf("x.npy"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("greater than 0", bad.Error);
        Assert.False(File.Exists(PathOf("x.npy")));
        Assert.Equal(2, Run("fit", "--method", "platt", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
    }

    [Fact]
    public void Every_multiclass_method_fits_as_the_library_does_and_applies_to_logits_or_probabilities()
    {
        var random = new Random(8);
        const int rows = 1_500, classes = 4;
        var labels = Enumerable.Range(0, rows).Select(_ => random.Next(classes)).ToArray();
        var logits = Enumerable.Range(0, rows * classes).Select(i => (float)(2 * ((i % classes == labels[i / classes] ? 1.5 : 0) + TestData.Normal(random)) + 0.5 * (i % classes))).ToArray();
        var probs = new float[logits.Length];
        FastCalib.Softmax.Forward(logits, probs, classes);
        File.WriteAllBytes(PathOf("z.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(logits)));
        File.WriteAllBytes(PathOf("p.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(probs)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels)));
        var penalty = new OdirPenalty(0.5, 0.25);
        foreach (var (method, expected) in new (string, MulticlassCalibrator)[]
        {
            ("vector", VectorScalingCalibrator.Fit(logits, labels, classes).Calibrator),
            ("matrix", MatrixScalingCalibrator.Fit(logits, labels, classes, penalty).Calibrator),
            ("dirichlet", DirichletCalibrator.Fit(logits, labels, classes, penalty).Calibrator),
            ("ets", EnsembleTemperatureCalibrator.Fit(logits, labels, classes).Calibrator),
        })
        {
            string[] extra = method is "matrix" or "dirichlet" ? ["--lambda", "0.5", "--mu", "0.25"] : [];
            var fit = Run(["fit", "--method", method, "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), .. extra, "--out", PathOf($"{method}.json"), "--json", "--device", "cpu"]);
            Assert.True(fit.Code == 0, fit.Error);
            Assert.Equal(expected.ToJson(), File.ReadAllText(PathOf($"{method}.json")));
            using (var json = JsonDocument.Parse(fit.Out))
            {
                Assert.Equal(method, json.RootElement.GetProperty("method").GetString());
                Assert.True(json.RootElement.GetProperty("nll_after").GetDouble() < json.RootElement.GetProperty("nll_before").GetDouble());
                Assert.True(json.RootElement.GetProperty("converged").GetBoolean());
                Assert.True(json.RootElement.GetProperty("passes").GetInt32() > 1);
                Assert.Equal(method, json.RootElement.GetProperty("calibrator").GetProperty("kind").GetString());
            }
            var reference = new float[logits.Length];
            expected.Apply(logits, reference, classes);
            foreach (string input in new[] { "--logits", "--probs" })
            {
                var apply = Run("apply", "--calibrator", PathOf($"{method}.json"), input, PathOf(input == "--logits" ? "z.npy" : "p.npy"), "--out", PathOf("out.npy"), "--device", "cpu");
                Assert.True(apply.Code == 0, apply.Error);
                using var written = ArraySource.Open(PathOf("out.npy"));
                var probabilities = new float[written.Rows * written.Cols];
                written.ReadFloats(probabilities);
                // ln p = ln softmax(z) differs from z by a per-row constant, which Dirichlet calibration and ETS do not see
                if (input == "--logits") Assert.Equal(reference, probabilities);
                else if (method is "dirichlet" or "ets")
                    Assert.All(probabilities.Zip(reference), pair => Assert.True(Math.Abs(pair.First - pair.Second) <= 2e-5, $"{method} from probabilities: {pair.First} vs {pair.Second}"));
            }
        }

        // bad options and inputs are one-line errors, and no file is written
        Assert.Equal(2, Run("fit", "--method", "vector", "--logits", PathOf("z.npy"), "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
        Assert.Equal(2, Run("fit", "--method", "vector", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--lambda", "1", "--out", PathOf("m.json")).Code);
        Assert.Equal(2, Run("fit", "--method", "matrix", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--lambda", "-1", "--out", PathOf("m.json")).Code);
        Assert.Equal(2, Run("fit", "--method", "vector", "--scores", PathOf("y.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json")).Code);
        File.WriteAllBytes(PathOf("bad-y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels.Select(v => v + 1).ToArray())));
        var bad = Run("fit", "--method", "matrix", "--logits", PathOf("z.npy"), "--labels", PathOf("bad-y.npy"), "--out", PathOf("m.json"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("bad-y.npy", bad.Error);
        var unnormalised = probs.Select(v => v * 2).ToArray();
        File.WriteAllBytes(PathOf("q.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(unnormalised)));
        var notProbabilities = Run("fit", "--method", "dirichlet", "--probs", PathOf("q.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("m.json"));
        Assert.Equal(1, notProbabilities.Code);
        Assert.Contains("q.npy", notProbabilities.Error);
        Assert.False(File.Exists(PathOf("m.json")));
        File.WriteAllBytes(PathOf("z3.npy"), CliTests.Npy("<f4", $"({rows}, 3)", CliTests.Floats(logits.Take(rows * 3).ToArray())));
        var narrow = Run("apply", "--calibrator", PathOf("matrix.json"), "--logits", PathOf("z3.npy"), "--out", PathOf("x.npy"));
        Assert.Equal(1, narrow.Code);
        Assert.Contains("4 classes", narrow.Error);
        Assert.False(File.Exists(PathOf("x.npy")));
    }

    [Fact]
    public void Compare_reports_each_method_on_held_out_data_as_the_library_evaluates_it()
    {
        var random = new Random(12);
        const int rows = 2_000, classes = 3;
        var labels = Enumerable.Range(0, 2 * rows).Select(_ => random.Next(classes)).ToArray();
        var logits = Enumerable.Range(0, 2 * rows * classes).Select(i => (float)(3 * ((i % classes == labels[i / classes] ? 1.2 : 0) + TestData.Normal(random)))).ToArray();
        File.WriteAllBytes(PathOf("fz.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(logits[..(rows * classes)])));
        File.WriteAllBytes(PathOf("fy.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels[..rows])));
        File.WriteAllBytes(PathOf("ez.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(logits[(rows * classes)..])));
        File.WriteAllBytes(PathOf("ey.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels[rows..])));
        var result = Run("compare", "--methods", "temperature,vector,dirichlet", "--fit-logits", PathOf("fz.npy"), "--fit-labels", PathOf("fy.npy"),
            "--eval-logits", PathOf("ez.npy"), "--eval-labels", PathOf("ey.npy"), "--json", "--device", "cpu");
        Assert.True(result.Code == 0, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        var entries = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["uncalibrated", "temperature", "vector", "dirichlet"], entries.Select(e => e.GetProperty("method").GetString()));
        var fitZ = logits[..(rows * classes)];
        var evalZ = logits[(rows * classes)..];
        MulticlassCalibrator[] expected =
        [
            TemperatureCalibrator.Fit(fitZ, labels[..rows], classes),
            VectorScalingCalibrator.Fit(fitZ, labels[..rows], classes).Calibrator,
            DirichletCalibrator.Fit(fitZ, labels[..rows], classes).Calibrator,
        ];
        for (int k = 0; k < expected.Length; k++)
        {
            var after = CalibrationEvaluation.Multiclass(expected[k], evalZ, labels[rows..], classes).After;
            Assert.Equal(after.Ece, entries[k + 1].GetProperty("ece").GetDouble(), 12);
            Assert.Equal(after.NegativeLogLikelihood, entries[k + 1].GetProperty("nll").GetDouble(), 12);
            Assert.Equal(after.Brier, entries[k + 1].GetProperty("brier").GetDouble(), 12);
        }
        var before = CalibrationEvaluation.Multiclass(expected[0], evalZ, labels[rows..], classes).Before!;
        Assert.Equal(before.Ece, entries[0].GetProperty("ece").GetDouble(), 12);
        Assert.Equal(JsonValueKind.Null, entries[0].GetProperty("passes").ValueKind);

        Assert.Equal(2, Run("compare", "--methods", "temperature,platt", "--fit-logits", PathOf("fz.npy"), "--fit-labels", PathOf("fy.npy"), "--eval-logits", PathOf("ez.npy"), "--eval-labels", PathOf("ey.npy")).Code);
        Assert.Equal(2, Run("compare", "--fit-logits", PathOf("fz.npy"), "--fit-labels", PathOf("fy.npy"), "--eval-labels", PathOf("ey.npy")).Code);
        File.WriteAllBytes(PathOf("bad.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(labels[rows..].Select(v => v + 1).ToArray())));
        var bad = Run("compare", "--methods", "vector", "--fit-logits", PathOf("fz.npy"), "--fit-labels", PathOf("fy.npy"), "--eval-logits", PathOf("ez.npy"), "--eval-labels", PathOf("bad.npy"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("bad.npy", bad.Error);
    }

    [Fact]
    public void Compare_takes_binary_scores_and_their_calibrators()
    {
        var random = new Random(14);
        var scores = Enumerable.Range(0, 4_000).Select(_ => (float)(0.01 + 0.98 * random.NextDouble())).ToArray();
        var labels = scores.Select(s => random.NextDouble() < s * s ? 1 : 0).ToArray();
        File.WriteAllBytes(PathOf("fs.npy"), CliTests.Npy("<f4", "(2000,)", CliTests.Floats(scores[..2000])));
        File.WriteAllBytes(PathOf("fl.npy"), CliTests.Npy("<i8", "(2000,)", CliTests.Int64s(labels[..2000])));
        File.WriteAllBytes(PathOf("es.npy"), CliTests.Npy("<f4", "(2000,)", CliTests.Floats(scores[2000..])));
        File.WriteAllBytes(PathOf("el.npy"), CliTests.Npy("<i8", "(2000,)", CliTests.Int64s(labels[2000..])));
        var result = Run("compare", "--fit-scores", PathOf("fs.npy"), "--fit-labels", PathOf("fl.npy"), "--eval-scores", PathOf("es.npy"), "--eval-labels", PathOf("el.npy"), "--json");
        Assert.True(result.Code == 0, result.Error);
        using var json = JsonDocument.Parse(result.Out);
        var entries = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["uncalibrated", "platt", "beta", "isotonic", "histogram"], entries.Select(e => e.GetProperty("method").GetString()));
        var platt = PlattCalibrator.Fit(scores[..2000], labels[..2000]);
        var expected = CalibrationEvaluation.Binary(platt, scores[2000..], labels[2000..]);
        Assert.Equal(expected.After.Ece, entries[1].GetProperty("ece").GetDouble(), 12);
        Assert.Equal(expected.Before!.Ece, entries[0].GetProperty("ece").GetDouble(), 12);
        Assert.Equal(2, Run("compare", "--methods", "vector", "--fit-scores", PathOf("fs.npy"), "--fit-labels", PathOf("fl.npy"), "--eval-scores", PathOf("es.npy"), "--eval-labels", PathOf("el.npy")).Code);
        Assert.Equal(2, Run("compare", "--fit-scores", PathOf("fs.npy"), "--fit-labels", PathOf("fl.npy"), "--eval-logits", PathOf("es.npy"), "--eval-labels", PathOf("el.npy")).Code);
    }

    /// <summary>
    /// --binning picks the rule for confidences on an edge: scores of 0.25, 0.4, 0.5 and 0.75 in 4 bins fall into
    /// other bins under torchmetrics' rule ([lo, hi)) than under scikit-learn's ((lo, hi]), and compare's numbers are the
    /// library's under each rule.
    /// </summary>
    [Fact]
    public void Compare_bins_edge_values_by_the_rule_binning_names()
    {
        var random = new Random(15);
        float[] levels = [0.25f, 0.4f, 0.5f, 0.75f];
        var scores = Enumerable.Range(0, 4_000).Select(_ => levels[random.Next(levels.Length)]).ToArray();
        // deviations of alternating sign, so that grouping the levels differently changes the ECE
        double[] positives = [0.5, 0.1, 0.6, 0.75];
        var labels = scores.Select(s => random.NextDouble() < positives[Array.IndexOf(levels, s)] ? 1 : 0).ToArray();
        File.WriteAllBytes(PathOf("fs.npy"), CliTests.Npy("<f4", "(2000,)", CliTests.Floats(scores[..2000])));
        File.WriteAllBytes(PathOf("fl.npy"), CliTests.Npy("<i8", "(2000,)", CliTests.Int64s(labels[..2000])));
        File.WriteAllBytes(PathOf("es.npy"), CliTests.Npy("<f4", "(2000,)", CliTests.Floats(scores[2000..])));
        File.WriteAllBytes(PathOf("el.npy"), CliTests.Npy("<i8", "(2000,)", CliTests.Int64s(labels[2000..])));
        var platt = PlattCalibrator.Fit(scores[..2000], labels[..2000]);
        var raw = new Dictionary<string, double>();
        foreach (var (name, rule) in new[] { ("torchmetrics", BinningRule.TorchMetrics), ("sklearn", BinningRule.RightClosed), ("guo", BinningRule.GuoReference) })
        {
            var result = Run("compare", "--methods", "platt", "--fit-scores", PathOf("fs.npy"), "--fit-labels", PathOf("fl.npy"), "--eval-scores", PathOf("es.npy"),
                "--eval-labels", PathOf("el.npy"), "--bins", "4", "--binning", name, "--json");
            Assert.True(result.Code == 0, result.Error);
            using var json = JsonDocument.Parse(result.Out);
            Assert.Equal(name, json.RootElement.GetProperty("binning").GetString());
            var entries = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
            var expected = CalibrationEvaluation.Binary(platt, scores[2000..], labels[2000..], 4, rule);
            Assert.Equal(expected.Before!.Ece, entries[0].GetProperty("ece").GetDouble(), 12);
            Assert.Equal(expected.After.Ece, entries[1].GetProperty("ece").GetDouble(), 12);
            raw[name] = entries[0].GetProperty("ece").GetDouble();
        }
        Assert.True(Math.Abs(raw["torchmetrics"] - raw["sklearn"]) > 0.01, $"ECE {raw["torchmetrics"]} under torchmetrics' rule, {raw["sklearn"]} under scikit-learn's");
        var text = Run("compare", "--methods", "platt", "--fit-scores", PathOf("fs.npy"), "--fit-labels", PathOf("fl.npy"), "--eval-scores", PathOf("es.npy"),
            "--eval-labels", PathOf("el.npy"), "--binning", "sklearn");
        Assert.Contains("--binning sklearn", text.Out);
        Assert.Equal(2, Run("compare", "--methods", "platt", "--fit-scores", PathOf("fs.npy"), "--fit-labels", PathOf("fl.npy"), "--eval-scores", PathOf("es.npy"),
            "--eval-labels", PathOf("el.npy"), "--binning", "nearest").Code);
    }

    /// <summary>
    /// Files streamed in blocks of 100 rows (the block size lowered for the test): fit --method temperature on --probs
    /// and fit --method ets give the in-memory library's fit within the rounding of sums taken in another order, and
    /// compare's held-out numbers are, to the last digit, the library's evaluation of the calibrators it prints.
    /// </summary>
    [Fact]
    public void Streamed_fits_and_evaluation_match_the_in_memory_library()
    {
        var random = new Random(21);
        const int rows = 1_000, classes = 4;
        var labels = Enumerable.Range(0, 2 * rows).Select(_ => random.Next(classes)).ToArray();
        var logits = Enumerable.Range(0, 2 * rows * classes).Select(i => (float)(2 * ((i % classes == labels[i / classes] ? 1.5 : 0) + TestData.Normal(random)))).ToArray();
        var probs = new float[logits.Length];
        FastCalib.Softmax.Forward(logits, probs, classes);
        var (fitZ, fitP, fitY) = (logits[..(rows * classes)], probs[..(rows * classes)], labels[..rows]);
        var (evalZ, evalY) = (logits[(rows * classes)..], labels[rows..]);
        File.WriteAllBytes(PathOf("z.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(fitZ)));
        File.WriteAllBytes(PathOf("p.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(fitP)));
        File.WriteAllBytes(PathOf("y.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(fitY)));
        File.WriteAllBytes(PathOf("ez.npy"), CliTests.Npy("<f4", $"({rows}, {classes})", CliTests.Floats(evalZ)));
        File.WriteAllBytes(PathOf("ey.npy"), CliTests.Npy("<i8", $"({rows},)", CliTests.Int64s(evalY)));
        var lnP = fitP.Select(v => MathF.Log(MathF.Max(v, 1e-30f))).ToArray();
        var temperature = TemperatureScaling.Fit(lnP, fitY, classes);
        var ets = EnsembleTemperatureCalibrator.Fit(fitZ, fitY, classes).Calibrator;
        using (TensorRows.LimitBlocks(100 * classes))
        {
            var fit = Run("fit", "--method", "temperature", "--probs", PathOf("p.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("t.json"), "--json", "--device", "cpu");
            Assert.True(fit.Code == 0, fit.Error);
            var streamed = (TemperatureCalibrator)MulticlassCalibrator.FromJson(File.ReadAllText(PathOf("t.json")));
            Assert.Equal(temperature.Temperature, streamed.Temperature, 1e-6f * temperature.Temperature);
            using (var json = JsonDocument.Parse(fit.Out)) Assert.Equal(temperature.NllAfter, json.RootElement.GetProperty("nll_after").GetDouble(), 1e-9);

            fit = Run("fit", "--method", "ets", "--logits", PathOf("z.npy"), "--labels", PathOf("y.npy"), "--out", PathOf("e.json"), "--device", "cpu");
            Assert.True(fit.Code == 0, fit.Error);
            var streamedEts = (EnsembleTemperatureCalibrator)MulticlassCalibrator.FromJson(File.ReadAllText(PathOf("e.json")));
            Assert.Equal(ets.Temperature, streamedEts.Temperature, 1e-6f * ets.Temperature);
            for (int k = 0; k < 3; k++) Assert.Equal(ets.Weights[k], streamedEts.Weights[k], 1e-5f);

            var compare = Run("compare", "--methods", "temperature,ets,vector", "--fit-probs", PathOf("p.npy"), "--fit-labels", PathOf("y.npy"),
                "--eval-logits", PathOf("ez.npy"), "--eval-labels", PathOf("ey.npy"), "--json", "--device", "cpu");
            Assert.True(compare.Code == 0, compare.Error);
            using var report = JsonDocument.Parse(compare.Out);
            var entries = report.RootElement.GetProperty("results").EnumerateArray().ToArray();
            var before = CalibrationEvaluation.Multiclass(new TemperatureCalibrator(1f), evalZ, evalY, classes).Before!;
            Assert.Equal(before.Ece, entries[0].GetProperty("ece").GetDouble(), 12);
            Assert.Equal(before.NegativeLogLikelihood, entries[0].GetProperty("nll").GetDouble(), 12);
            foreach (var entry in entries[1..])
            {
                var calibrator = MulticlassCalibrator.FromJson(entry.GetProperty("calibrator").GetRawText());
                var after = CalibrationEvaluation.Multiclass(calibrator, evalZ, evalY, classes).After;
                Assert.Equal(after.Ece, entry.GetProperty("ece").GetDouble(), 12);
                Assert.Equal(after.NegativeLogLikelihood, entry.GetProperty("nll").GetDouble(), 12);
                Assert.Equal(after.Brier, entry.GetProperty("brier").GetDouble(), 12);
            }
            var fitted = (TemperatureCalibrator)MulticlassCalibrator.FromJson(entries[1].GetProperty("calibrator").GetRawText());
            Assert.Equal(temperature.Temperature, fitted.Temperature, 1e-6f * temperature.Temperature);
        }
    }
}
