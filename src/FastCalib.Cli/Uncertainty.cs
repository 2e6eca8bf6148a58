using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// <c>fastcalib uncertainty</c>: S stochastic passes (ensemble members or MC-dropout samples) of the same rows, one
/// file per pass (--probs or --logits, repeated) or one [S, N, C] stack (--stack, --logit-stack), through <see cref="EnsembleUncertainty"/>;
/// per-row arrays into an .npz archive, their means printed, and with labels the calibration report of the mean.
/// Pass files are read one at a time (one pass in memory besides the accumulator's sums); a stack that fits one array
/// is read whole and computed in one read of it (<see cref="EnsembleUncertainty.FromStack"/>).
/// </summary>
public static class Uncertainty
{
    /// <summary>The per-row measures: their name in the archive and the JSON, their label in the text, the values and their mean.</summary>
    private static (string Name, string Label, float[] PerRow, double Mean)[] Measures(EnsembleUncertaintyResult r) =>
    [
        ("predictive_entropy", "predictive entropy", r.PredictiveEntropy, r.MeanPredictiveEntropy),
        ("expected_entropy", "expected entropy", r.ExpectedEntropy, r.MeanExpectedEntropy),
        ("mutual_information", "mutual information", r.MutualInformation, r.MeanMutualInformation),
        ("top_variance", "top-class variance", r.TopVariance, r.MeanTopVariance),
        ("agreement", "agreement", r.Agreement, r.MeanAgreement),
    ];

    public static int Run(Arguments a, TextWriter output, TextWriter error)
    {
        string[] probs = a.GetAll("--probs"), logits = a.GetAll("--logits");
        string? stack = a.Get("--stack"), logitStack = a.Get("--logit-stack");
        int given = (probs.Length > 0 ? 1 : 0) + (logits.Length > 0 ? 1 : 0) + (stack is null ? 0 : 1) + (logitStack is null ? 0 : 1);
        if (given != 1) throw new UsageException("give the passes as one of --probs FILE..., --logits FILE..., --stack FILE or --logit-stack FILE.");
        if ((probs.Length > 0 || stack is not null) && a.Has("--temperature")) throw new UsageException("--temperature applies to --logits and --logit-stack.");
        if (!a.Has("--out") && !a.Has("--json")) throw new UsageException("give --out U.npz, --json, or both.");
        if (!a.Has("--labels") && (a.Has("--bins") || a.Has("--binning"))) throw new UsageException("--bins and --binning apply to the report of --labels.");
        string? outPath = a.Get("--out");
        if (outPath is not null && !outPath.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--out must name an .npz archive, got '{outPath}'.");
        float temperature = a.Temperature();
        var options = a.Device();

        EnsembleUncertainty? ensemble = null;
        EnsembleUncertaintyResult? stacked = null;
        void Add(ArraySource source, int rows, int cols, bool fromLogits, int pass)
        {
            ensemble ??= new EnsembleUncertainty(rows, cols);
            if (rows != ensemble.Rows || cols != ensemble.Classes)
                throw new InputException($"{source.Name}: pass {pass} is [{rows} x {cols}]; the first pass was [{ensemble.Rows} x {ensemble.Classes}].");
            var values = new float[(long)rows * cols];
            source.ReadFloats(values);
            try
            {
                if (fromLogits) ensemble.AddLogits(values, temperature, options);
                else ensemble.AddProbabilities(values, options);
            }
            catch (ArgumentException e)
            {
                // the tool stops here, so the library's word on the accumulator's state (after "; ") is left out
                string message = Commands.Strip(e.Message);
                int state = message.IndexOf("; ", StringComparison.Ordinal);
                throw new InputException($"{source.Name}: {(state > 0 ? message[..state] + "." : message)}");
            }
        }
        if ((stack ?? logitStack) is { } stackPath)
        {
            using var source = ArraySource.Open(stackPath);
            if (source.IsInteger) throw new InputException($"{source.Name}: holds integers; passes must be floating point.");
            if (source.Shape.Length != 3)
                throw new InputException($"{source.Name}: shape ({string.Join(", ", source.Shape)}) is not a stack of passes; give [S, N, C].");
            // a pass (N x C) is one of the source's rows, whose length is an int
            var (passes, rows, cols) = (source.Shape[0], source.Shape[1], (int)source.Shape[2]);
            if (passes == 0) throw new InputException($"{source.Name}: holds no pass.");
            CheckPassSize(source, rows, cols);
            if (passes * rows * cols <= Array.MaxLength)
            {
                // the whole stack in memory: one read of it, the sums kept in cache (the library's FromStack)
                var values = new float[passes * rows * cols];
                source.ReadFloats(values);
                try
                {
                    stacked = logitStack is not null
                        ? EnsembleUncertainty.FromLogitStack(values, (int)passes, cols, temperature, options)
                        : EnsembleUncertainty.FromStack(values, (int)passes, cols, options);
                }
                catch (ArgumentException e)
                {
                    throw new InputException($"{source.Name}: {Commands.Strip(e.Message)}");
                }
            }
            else
            {
                for (int s = 0; s < passes; s++) Add(source, (int)rows, cols, logitStack is not null, s);
            }
        }
        else
        {
            var files = probs.Length > 0 ? probs : logits;
            for (int s = 0; s < files.Length; s++)
            {
                using var source = ArraySource.Open(files[s]);
                if (source.IsInteger) throw new InputException($"{source.Name}: holds integers; passes must be floating point.");
                CheckPassSize(source, source.Rows, source.Cols);
                Add(source, (int)source.Rows, source.Cols, logits.Length > 0, s);
            }
        }
        var result = stacked ?? ensemble!.Result(options);

        CalibrationReport? report = null;
        if (a.Get("--labels") is { } labelsPath)
        {
            using var labels = ArraySource.Open(labelsPath);
            if (labels.Cols != 1) throw new InputException($"{labels.Name}: labels must be one value per row, got rows of {labels.Cols}.");
            if (labels.Rows != result.Rows) throw new InputException($"{labels.Name}: {labels.Rows} labels for {result.Rows} rows in each pass.");
            var y = new int[result.Rows];
            labels.ReadInts(y);
            var calibration = new CalibrationAccumulator(a.Bins(), a.Binning());
            try
            {
                // the mean of probability rows sums to 1 up to the float rounding of S additions
                calibration.AddProbabilities(result.MeanProbabilities, y, result.Classes, options);
            }
            catch (ArgumentException e)
            {
                throw new InputException($"{(e.ParamName == "labels" ? labels.Name : "the mean probabilities")}: {Commands.Strip(e.Message)}");
            }
            report = calibration.Report();
        }

        if (outPath is not null) WriteArchive(outPath, result);
        if (a.Has("--json"))
        {
            var json = new Dictionary<string, object?> { ["passes"] = result.Passes, ["rows"] = result.Rows, ["classes"] = result.Classes };
            foreach (var m in Measures(result)) json[m.Name] = double.IsFinite(m.Mean) ? m.Mean : null;
            if (report is not null) json["report"] = Commands.ToJson(report, null);
            output.WriteLine(JsonSerializer.Serialize(json, Commands.Json));
        }
        else
        {
            output.WriteLine($"passes {result.Passes} of [{result.Rows} x {result.Classes}]; means over rows (nats):");
            foreach (var m in Measures(result)) output.WriteLine($"  {m.Label,-20}{m.Mean:F6}");
            if (report is not null)
            {
                output.WriteLine("calibration of the mean:");
                Commands.WriteReport(output, report, null, a.Binning());
            }
        }
        if (outPath is not null) output.WriteLine($"wrote {outPath} (mean_probs, {string.Join(", ", Measures(result).Select(m => m.Name))})");
        return 0;
    }

    private static void CheckPassSize(ArraySource source, long rows, int cols)
    {
        if (rows * cols > Array.MaxLength || rows > int.MaxValue)
            throw new InputException($"{source.Name}: a pass of [{rows} x {cols}] is more than one array holds; split the rows.");
    }

    /// <summary>The per-row arrays as an .npz archive (a ZIP of .npy files, stored, as numpy.savez writes), whole or not at all.</summary>
    private static void WriteArchive(string path, EnsembleUncertaintyResult r)
    {
        using var file = new OutputFile(path, "--out");
        file.Guard(() =>
        {
            using (var zip = new ZipArchive(file.Stream, ZipArchiveMode.Create, leaveOpen: true))
            {
                Entry(zip, "mean_probs", [r.Rows, r.Classes], r.MeanProbabilities);
                foreach (var m in Measures(r)) Entry(zip, m.Name, [r.Rows], m.PerRow);
            }
        });
        file.Commit();
    }

    private static void Entry(ZipArchive zip, string name, long[] dims, float[] values)
    {
        using var stream = zip.CreateEntry(name + ".npy", CompressionLevel.NoCompression).Open();
        NpyWriter.WriteHeader(stream, dims, "<f4");
        var bytes = new byte[1 << 20];
        for (int start = 0; start < values.Length; start += bytes.Length / 4)
        {
            int n = Math.Min(bytes.Length / 4, values.Length - start);
            for (int i = 0; i < n; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[start + i]);
            stream.Write(bytes, 0, n * 4);
        }
    }
}
