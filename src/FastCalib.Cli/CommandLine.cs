using System.CommandLine;
using System.Globalization;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// The command tree on System.CommandLine: every command, its options with their meaning and default (shown by
/// --help), --version, and tab completion through the library's completion directive. Values are read and checked
/// by <see cref="Arguments"/>, so that a usage mistake is exit code 2 whatever its kind.
/// </summary>
public static class CommandLine
{
    /// <summary>Every option of the tool: name, placeholder (null for a flag) and help text.</summary>
    private static readonly Dictionary<string, (string? Value, string Help)> Specs = new()
    {
        ["--probs"] = ("FILE", "Probabilities [N, C] (.npy, file.npz:name, file.parquet:column, file.arrow:column or .csv); each row must sum to 1."),
        ["--logits"] = ("FILE", "Logits [N, C]; probabilities are softmax(logits / T)."),
        ["--votes"] = ("FILE", "Sampled answers [N, S] instead of probabilities: S class ids per row (an LLM asked the same question S times), -1 for an answer outside the classes; the majority class (the smallest id on ties) is the prediction and its share of the S answers the confidence. NLL and Brier are not defined."),
        ["--temperature"] = ("T", "Temperature dividing the logits, finite and > 0 (default 1)."),
        ["--labels"] = ("FILE", "Integer labels [N], one per row, in [0, C)."),
        ["--bins"] = ("COUNT", "Equal-width confidence bins, 1 to 1,000,000 (default 15)."),
        ["--histogram"] = ("BINS", "Stream the scores (probabilities in [0, 1]) block by block through a histogram of BINS equal bins (2 to 16,777,216; 65536 is common) instead of sorting them in memory: AUROC and average precision with error bounds (auroc_bound, average_precision_bound), thresholds chosen among the bins' edges, each operating point exact at its threshold."),
        ["--edges"] = ("E0,E1,...", "Custom bin edges instead of --bins, from 0 to 1, increasing (decision buckets such as 0,0.5,0.8,0.9,0.95,0.99,1); the confidence profile then uses the inner edges."),
        ["--binning"] = ("RULE", "Which bin an edge value belongs to: torchmetrics (default), closed-last (NumPy histogram, netcal), sklearn, guo."),
        ["--device"] = ("auto|cpu|gpu", "Backend: auto (CUDA if present, else SIMD CPU; the default), cpu (SIMD) or gpu (ILGPU: CUDA, else its CPU accelerator)."),
        ["--json"] = (null, "Print JSON instead of text (every number finite, or null)."),
        ["--adaptive"] = (null, "Also report the adaptive (equal-mass bins) ECE and MCE."),
        ["--bootstrap"] = ("B", "Also give percentile intervals over B Poisson bootstrap replicas (1 to 10,000; 100 to 1,000 are common), computed in the same pass; plot draws them as whiskers."),
        ["--ci"] = ("LEVEL", "Coverage of the bootstrap intervals (default 0.95)."),
        ["--risk-coverage"] = (null, "Also report selective prediction: AURC, E-AURC, the AUROC of confidence for telling correct from wrong and the risk–coverage curve (plot: a third panel; holds 5 bytes a row in memory)."),
        ["--unnormalized"] = (null, "Accept probability rows that do not sum to 1 (scores such as a multi-label model's sigmoids)."),
        ["--out"] = ("FILE", "Output file; written whole or not at all."),
        ["--method"] = ("METHOD", "Calibrator: for a multiclass model's --logits (or --probs, taken as logits ln p) temperature (one T), vector (a scale and bias per class), matrix (A z + b), dirichlet (A ln softmax(z) + b; Kull et al. 2019) or ets (ensemble temperature scaling, Zhang et al. 2020); for binary --scores platt (logistic on the score), beta (Kull et al. 2017; scores in [0, 1]), isotonic, histogram (--bins equal-width bins)."),
        ["--methods"] = ("LIST", "compare: the calibrators to fit, comma-separated (default temperature,vector,matrix,dirichlet,ets; with --fit-scores platt,beta,isotonic,histogram). compare draws 360 x 420 pixels per method unless --width and --height say otherwise."),
        ["--fit-logits"] = ("FILE", "compare: logits [N, C] to fit the calibrators on."),
        ["--fit-probs"] = ("FILE", "compare: probabilities [N, C] to fit the calibrators on (as logits ln p)."),
        ["--fit-scores"] = ("FILE", "compare: a binary classifier's scores [N] to fit platt, beta, isotonic and histogram on (then --methods defaults to those)."),
        ["--eval-scores"] = ("FILE", "compare: held-out binary scores [M] to evaluate on."),
        ["--fit-labels"] = ("FILE", "compare: labels [N] of the fitting set."),
        ["--eval-logits"] = ("FILE", "compare: held-out logits [M, C] to evaluate on."),
        ["--eval-probs"] = ("FILE", "compare: held-out probabilities [M, C] to evaluate on (as logits ln p)."),
        ["--eval-labels"] = ("FILE", "compare: labels [M] of the held-out set."),
        ["--lambda"] = ("L", "matrix and dirichlet: the ODIR penalty on the off-diagonal weights, L / (C (C - 1)) times their sum of squares (default 0)."),
        ["--mu"] = ("M", "matrix and dirichlet: the ODIR penalty on the biases, M / C times their sum of squares (default 0)."),
        ["--scores"] = ("FILE", "Scores [N] of a binary classifier (probabilities of the positive class for beta and histogram)."),
        ["--binary"] = (null, "Binary predictions instead: --scores holds the probability of the positive class and --labels 0 or 1 (torchmetrics' binary calibration: the confidence is the score, 'correct' the label)."),
        ["--roc"] = (null, "Draw the ROC curve of binary --scores and 0/1 --labels instead of a reliability diagram (the threshold of largest Youden's J marked)."),
        ["--pr"] = (null, "Draw the precision–recall curve of binary --scores and 0/1 --labels (the threshold of largest F1 marked); with --roc, both, stacked."),
        ["--target-precision"] = ("P", "Also give the lowest threshold whose precision reaches P (the most recall at that precision)."),
        ["--target-recall"] = ("R", "Also give the highest threshold whose recall reaches R."),
        ["--calibrator"] = ("FILE", "A calibrator saved by 'fastcalib fit' (JSON)."),
        ["--save-state"] = ("FILE", "Also write the accumulator's state: a one-dimensional int64 .npy array whose elementwise sum over parts of a data set is their merge (see 'fastcalib merge')."),
        ["--width"] = ("PIXELS", "Picture width, 100 to 10,000 (default 900)."),
        ["--height"] = ("PIXELS", "Picture height, 100 to 10,000 (default 800)."),
        ["--float64"] = (null, "Write float64 instead of float32."),
        ["--images"] = ("FILE", "Images [H, W], [N, H, W] or [N, C, H, W]."),
        ["--shift"] = (null, "fftshift: the zero frequency in the centre."),
        ["--log1p"] = (null, "log(1 + |X|)."),
        ["--standardize"] = (null, "Standardise each image's spectrum (mean 0, deviation 1)."),
        ["--clip"] = ("C", "Clip features to [-C, C], C > 0."),
        ["--half"] = (null, "Write the W/2 + 1 non-redundant columns."),
        ["--rows"] = ("N", "Predictions of the synthetic classifier (default 1,000,000)."),
        ["--classes"] = ("C", "Classes of the synthetic classifier, 2 to 100,000 (default 10)."),
        ["--seed"] = ("S", "Seed: of the synthetic data for demo (default 2026; 7 for --train), of the bootstrap weights for report (default 0)."),
        ["--out-dir"] = ("DIR", "Folder for the reliability diagrams (default: the current folder)."),
        ["--train"] = (null, "Run the training-loop example instead (mixup, a learnable temperature, the confidence penalty, a calibration monitor)."),
        ["--epochs"] = ("E", "Epochs of the training-loop example (default 6)."),
        ["--stack"] = ("FILE", "All passes in one array [S, N, C] of probabilities (S passes of N rows)."),
        ["--logit-stack"] = ("FILE", "All passes in one array [S, N, C] of logits."),
    };

    /// <summary>Options that take one or more values (uncertainty's passes: --probs a.npy b.npy ...).</summary>
    private static readonly Dictionary<string, string[]> MultiValued = new()
    {
        ["uncertainty"] = ["--probs", "--logits"],
    };

    private static readonly string[] Metrics = ["--probs", "--logits", "--votes", "--temperature", "--labels", "--bins", "--edges", "--binning", "--device"];

    /// <summary>The commands: name, description, options, and what runs.</summary>
    private static readonly (string Name, string Description, string[] Options, Func<Arguments, TextWriter, TextWriter, int> Run)[] Table =
    [
        ("demo", "The main job on an embedded synthetic, overconfident 10-class classifier: calibration report, temperature fit, report again, reliability diagrams before and after, and which backend ran for how long.",
            ["--rows", "--classes", "--seed", "--out-dir", "--train", "--epochs"], (a, o, _) => Demo(a, o)),
        ("report", "Calibration report (ECE, MCE, RMS calibration error, accuracy, NLL, Brier, reliability table) of predictions and labels.",
            [.. Metrics, "--binary", "--scores", "--unnormalized", "--adaptive", "--risk-coverage", "--bootstrap", "--ci", "--seed", "--json", "--save-state"], FastCalib.Cli.Commands.Report),
        ("merge", "Merge accumulator states written by 'report --save-state' (or their elementwise sum, made by any engine) and report on all of them: the same numbers, bit for bit, as one report over all the data.",
            ["--json", "--save-state"], FastCalib.Cli.Commands.Merge),
        ("fit-temperature", "Fit the temperature that minimises the NLL (streaming Newton passes over the files), and report before and after.",
            ["--logits", "--labels", "--bins", "--binning", "--device", "--json"], FastCalib.Cli.Commands.FitTemperature),
        ("plot", "Reliability diagram (PNG or SVG, by the file's extension) with the confidence histogram below it; with --roc or --pr, the ROC or precision–recall curve of binary scores.",
            [.. Metrics, "--unnormalized", "--out", "--width", "--height", "--bootstrap", "--ci", "--seed", "--risk-coverage", "--roc", "--pr", "--scores"], FastCalib.Cli.Commands.Plot),
        ("fit", "Fit a calibrator into a JSON file that 'apply' reads: on a multiclass model's logits (or probabilities) and labels a temperature, vector or matrix scaling, Dirichlet calibration or ensemble temperature scaling; on binary scores and 0/1 labels Platt scaling, beta calibration, isotonic regression or histogram binning.",
            ["--method", "--logits", "--probs", "--scores", "--labels", "--bins", "--lambda", "--mu", "--device", "--out", "--json"], FastCalib.Cli.Calibrate.Fit),
        ("compare", "Fit each calibrator named by --methods on --fit-logits (or --fit-probs, or a binary model's --fit-scores) and --fit-labels, and report NLL, ECE, MCE, Brier and accuracy of each, and of the uncalibrated model, on the held-out --eval-logits (--eval-probs, --eval-scores) and --eval-labels; with --out, their reliability diagrams side by side.",
            ["--methods", "--fit-logits", "--fit-probs", "--fit-scores", "--fit-labels", "--eval-logits", "--eval-probs", "--eval-scores", "--eval-labels", "--lambda", "--mu", "--bins", "--binning", "--device", "--out", "--width", "--height", "--json"], FastCalib.Cli.Compare.Run),
        ("thresholds", "Ranking quality and decision thresholds of a binary classifier's scores: AUROC, average precision (scikit-learn's definitions, ties together), and the thresholds of largest Youden's J and F1, and those reaching a target precision or recall.",
            ["--scores", "--labels", "--target-precision", "--target-recall", "--histogram", "--json"], FastCalib.Cli.Thresholds.Run),
        ("apply", "Apply a calibrator saved by 'fit': to logits, the calibrated probabilities [N, C]; to binary scores, the calibrated probabilities of the positive class; into a .npy file.",
            ["--calibrator", "--logits", "--probs", "--scores", "--device", "--out", "--float64"], FastCalib.Cli.Calibrate.Apply),
        ("uncertainty", "Uncertainty of S stochastic passes over the same rows (ensemble members, MC-dropout samples), one file per pass or one [S, N, C] stack: "
            + "per row the mean probabilities, predictive and expected entropy, mutual information (BALD), the top class's variance and the passes' agreement, into an .npz (mean_probs, predictive_entropy, expected_entropy, mutual_information, top_variance, agreement); "
            + "their means printed, and with --labels the calibration report of the mean.",
            ["--probs", "--logits", "--stack", "--logit-stack", "--temperature", "--labels", "--bins", "--binning", "--device", "--out", "--json"], FastCalib.Cli.Uncertainty.Run),
        ("softmax", "softmax(logits / T) of every row, into a .npy file.",
            ["--logits", "--temperature", "--out", "--device", "--float64"], FastCalib.Cli.Commands.Softmax),
        ("log-softmax", "log softmax(logits / T) of every row (exact log-sum-exp, finite for logits of any size), into a .npy file.",
            ["--logits", "--temperature", "--out", "--device", "--float64"], FastCalib.Cli.Commands.LogSoftmax),
        ("entropy", "The entropy (nats) of every probability row, into a .npy file.",
            ["--probs", "--out", "--device", "--float64"], FastCalib.Cli.Commands.Entropy),
        ("fft-magnitude", "|DFT2| of each image (NumPy's fft2 convention), optionally shifted, log1p-scaled, standardised and clipped, into a .npy file.",
            ["--images", "--shift", "--log1p", "--standardize", "--clip", "--half", "--out", "--device", "--float64"], FastCalib.Cli.Commands.FftMagnitude),
    ];

    private static int Demo(Arguments a, TextWriter output) =>
        a.Has("--train") ? DemoTrain.Run(TrainOptions.From(a), output) : Cli.Demo.Run(Options.From(a), output);

    /// <summary>
    /// The root command (with no command it runs the demo, taking the demo's options) and its subcommands. A
    /// command's action returns its exit code; <see cref="Program"/> maps exceptions to exit codes.
    /// </summary>
    public static Command Build(TextWriter output, TextWriter error)
    {
        // a plain command named as the tool is installed (a RootCommand takes the name of the executable's file)
        var root = new Command("fastcalib", "fastcalib: calibration of classifier confidence, on FastCalib's SIMD and GPU kernels. "
            + "Files: NumPy .npy (float16/32/64 [N, C], integer [N] labels, C order), an array in a .npz archive as archive.npz:name, "
            + "columns of a Parquet or Arrow IPC file as file.parquet:column (a list column, or scalar columns as file.parquet:a,b,c or file.parquet:p*), or CSV. "
            + "Exit codes: 0 done, 1 bad or inconsistent data, 2 a usage mistake, 3 a device failure.")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
        };
        foreach (var (name, description, options, run) in Table)
        {
            var command = new Command(name, description);
            var declared = options.Select(o => Declare(o, MultiValued.TryGetValue(name, out var many) && many.Contains(o))).ToList();
            foreach (var option in declared) command.Options.Add(option);
            Argument<string[]>? files = null;
            if (name == "merge")
                command.Arguments.Add(files = new Argument<string[]>("states") { Description = "State files (.npy of int64), one or more.", Arity = ArgumentArity.OneOrMore });
            command.SetAction(result => run(new Arguments(result, declared, files), output, error));
            root.Subcommands.Add(command);
            if (name == "demo")
            {
                // no command: the demo, with its options
                var rootOptions = options.Select(o => Declare(o)).ToList();
                foreach (var option in rootOptions) root.Options.Add(option);
                root.SetAction(result => run(new Arguments(result, rootOptions), output, error));
            }
        }
        return root;
    }

    private static Option Declare(string name, bool many = false)
    {
        var (value, help) = Specs[name];
        if (value is null) return new Option<bool>(name) { Description = help };
        if (many)
            return new Option<string[]>(name) { Description = help + " One file per pass: give several.", HelpName = value + "...", AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore };
        var option = new Option<string>(name) { Description = help, HelpName = value };
        if (name == "--device") option.AcceptOnlyFromAmong("auto", "cpu", "gpu");
        if (name == "--binning") option.AcceptOnlyFromAmong(Arguments.BinningRules.Keys.ToArray());
        return option;
    }

    /// <summary>
    /// Completions at <paramref name="position"/> of a command line (which may start with the tool's name): the
    /// commands, options and option values (devices, binning rules) that fit what is typed so far.
    /// </summary>
    public static IEnumerable<string> Complete(Command root, string line, int position)
    {
        string upToCursor = line[..position];
        var tokens = upToCursor.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        if (tokens.Count > 0 && Path.GetFileNameWithoutExtension(tokens[0]) is "fastcalib" or "FastCalib.Cli") tokens.RemoveAt(0);
        string partial = upToCursor.EndsWith(' ') || tokens.Count == 0 ? "" : tokens[^1];
        var parsed = root.Parse(partial.Length == 0 ? tokens : tokens.Take(tokens.Count - 1).ToList());
        return parsed.GetCompletions().Select(c => c.Label).Where(l => l.StartsWith(partial, StringComparison.Ordinal)).Distinct();
    }

    /// <summary>The option of <paramref name="command"/> nearest to a misspelt <paramref name="token"/>, if one is close.</summary>
    public static string? Suggest(string token, Command command)
    {
        var names = command.Options.Select(o => o.Name).Concat(command.Subcommands.Select(c => c.Name)).ToList();
        var best = names.Select(n => (Name: n, Distance: Distance(token, n))).OrderBy(x => x.Distance).FirstOrDefault();
        return best.Name is not null && best.Distance <= Math.Max(2, token.Length / 3) ? best.Name : null;
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (int j = 0; j <= b.Length; j++) d[0, j] = j;
        for (int i = 1; i <= a.Length; i++)
            for (int j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}

/// <summary>A command-line mistake: reported with the usage hint and exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// The parsed options of one command, read by name and checked: numbers in range, temperatures valid, choices
/// known. Every mistake is a <see cref="UsageException"/> (exit code 2).
/// </summary>
public sealed class Arguments
{
    private readonly ParseResult _result;
    private readonly Dictionary<string, Option> _options;
    private readonly Argument<string[]>? _files;

    public Arguments(ParseResult result, IEnumerable<Option> options, Argument<string[]>? files = null)
    {
        _result = result;
        _options = options.ToDictionary(o => o.Name);
        _files = files;
    }

    /// <summary>The command's file arguments (merge's states).</summary>
    public string[] Files => _files is null ? [] : _result.GetValue(_files) ?? [];

    /// <summary>The --binning names and the rules they stand for.</summary>
    public static readonly Dictionary<string, BinningRule> BinningRules = new()
    {
        ["torchmetrics"] = BinningRule.TorchMetrics,
        ["closed-last"] = BinningRule.ClosedLastBin,
        ["sklearn"] = BinningRule.RightClosed,
        ["guo"] = BinningRule.GuoReference,
    };

    /// <summary>Whether the option was given (a flag set, or a value).</summary>
    public bool Has(string name) =>
        _options.TryGetValue(name, out var option) && _result.GetResult(option) is { Implicit: false } r
        && (option is not Option<bool> flag || _result.GetValue(flag));

    public string? Get(string name) =>
        _options.TryGetValue(name, out var option) && option is Option<string> valued && Has(name) ? _result.GetValue(valued) : null;

    /// <summary>Every value of an option that takes several (none when it was not given).</summary>
    public string[] GetAll(string name) =>
        _options.TryGetValue(name, out var option) && option is Option<string[]> many && _result.GetResult(option) is { Implicit: false } ? _result.GetValue(many) ?? [] : [];

    public string Required(string name) => Get(name) ?? throw new UsageException($"{name} is required.");

    public int Int(string name, int fallback, int min, int max = int.MaxValue)
    {
        string? text = Get(name);
        if (text is null) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v < min || v > max)
            throw new UsageException(max == int.MaxValue
                ? $"{name} needs an integer of at least {min}, got '{text}'."
                : $"{name} needs an integer from {min} to {max.ToString("N0", CultureInfo.InvariantCulture)}, got '{text}'.");
        return v;
    }

    /// <summary>A penalty weight: a finite number of at least 0.</summary>
    public double Penalty(string name)
    {
        string? text = Get(name);
        if (text is null) return 0;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v) || v < 0)
            throw new UsageException($"{name} needs a number of at least 0, got '{text}'.");
        return v;
    }

    public float Float(string name, float fallback)
    {
        string? text = Get(name);
        if (text is null) return fallback;
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
            throw new UsageException($"{name} needs a number, got '{text}'.");
        return v;
    }

    /// <summary>An optional share in [0, 1] (a target precision or recall).</summary>
    public double? Share(string name)
    {
        string? text = Get(name);
        if (text is null) return null;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v >= 0 && v <= 1))
            throw new UsageException($"{name} needs a number from 0 to 1, got '{text}'.");
        return v;
    }

    /// <summary>--temperature: finite, greater than 0, and not so small that 1/T overflows float.</summary>
    public float Temperature()
    {
        float t = Float("--temperature", 1f);
        if (!(t > 0) || !float.IsFinite(1f / t))
            throw new UsageException($"--temperature must be finite and greater than 0 (and 1/T finite), got '{Get("--temperature")}'.");
        return t;
    }

    /// <summary>--bins: from 1 to the accumulator's maximum (with --edges: their number of bins).</summary>
    public int Bins()
    {
        if (Edges() is { } edges)
        {
            if (Get("--bins") is not null) throw new UsageException("--bins and --edges do not go together: the edges set the bins.");
            return edges.Length - 1;
        }
        return Int("--bins", 15, 1, CalibrationAccumulator.MaxBins);
    }

    /// <summary>--edges 0,0.5,0.8,1: custom bin edges (from 0 to 1, increasing), or null.</summary>
    public float[]? Edges()
    {
        if (Get("--edges") is not { } text) return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var edges = new float[parts.Length];
        for (int k = 0; k < parts.Length; k++)
            if (!float.TryParse(parts[k], NumberStyles.Float, CultureInfo.InvariantCulture, out edges[k]) || !float.IsFinite(edges[k]))
                throw new UsageException($"--edges needs numbers separated by commas, got '{parts[k]}'.");
        if (edges.Length < 2 || edges[0] != 0 || edges[^1] != 1)
            throw new UsageException($"--edges must run from 0 to 1 (such as 0,0.5,0.8,0.9,0.95,1), got '{text}'.");
        for (int k = 1; k < edges.Length; k++)
            if (!(edges[k] > edges[k - 1]))
                throw new UsageException($"--edges must increase: {parts[k]} follows {parts[k - 1]}.");
        return edges;
    }

    /// <summary>--bootstrap B [--ci LEVEL] [--seed S]: Poisson bootstrap replicas, or null without --bootstrap.</summary>
    public BootstrapOptions? Bootstrap()
    {
        if (Get("--bootstrap") is null)
        {
            if (Get("--ci") is not null) throw new UsageException("--ci needs --bootstrap.");
            return null;
        }
        int replicas = Int("--bootstrap", 100, 1, BootstrapOptions.MaxReplicas);
        string? seed = Get("--seed");
        ulong value = 0;
        if (seed is not null && !ulong.TryParse(seed, NumberStyles.None, CultureInfo.InvariantCulture, out value))
            throw new UsageException($"--seed needs a non-negative integer, got '{seed}'.");
        return new BootstrapOptions(replicas, value);
    }

    /// <summary>--ci: the bootstrap intervals' level, in (0, 1) (default 0.95).</summary>
    public double Level()
    {
        float level = Float("--ci", 0.95f);
        if (!(level > 0 && level < 1)) throw new UsageException($"--ci must be between 0 and 1 (such as 0.95), got '{Get("--ci")}'.");
        return Math.Round(level, 6);
    }

    /// <summary>--binning: torchmetrics' assignment unless another is named.</summary>
    public BinningRule Binning() => Get("--binning") is { } name ? BinningRules[name] : BinningRule.TorchMetrics;

    /// <summary>--device auto (CUDA if present, else SIMD CPU), cpu (SIMD) or gpu (ILGPU: CUDA, else its CPU accelerator).</summary>
    public ComputeOptions Device() => Get("--device") switch
    {
        null or "auto" => GpuDevice.HasCuda ? ComputeOptions.For(Backend.Gpu) : default,
        "cpu" => default,
        _ => ComputeOptions.For(Backend.Gpu),
    };
}
