using System.Globalization;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// The fastcalib tool: calibration reports, temperature fitting, reliability diagrams and kernels applied to NumPy
/// (.npy/.npz) or CSV files, and a demo on an embedded synthetic classifier. Errors are one line and a non-zero exit
/// code: 2 for a usage mistake, 1 for a bad or inconsistent input file, 3 for a device failure.
/// </summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        // no command, or options only: the demo
        bool demo = args.Length == 0 || (args[0].StartsWith("--", StringComparison.Ordinal) && args[0] != "--help");
        string command = demo ? "demo" : args[0];
        var rest = demo ? args : args.Skip(1).ToArray();
        try
        {
            return command switch
            {
                "demo" => rest.Contains("--train") ? DemoTrain.Run(TrainOptions.Parse(rest.Where(a => a != "--train").ToArray()), output)
                                                   : Demo.Run(Options.Parse(rest), output),
                "report" => Commands.Report(rest, output, error),
                "fit-temperature" => Commands.FitTemperature(rest, output, error),
                "plot" => Commands.Plot(rest, output, error),
                "softmax" => Commands.Softmax(rest, output, error),
                "entropy" => Commands.Entropy(rest, output, error),
                "fft-magnitude" => Commands.FftMagnitude(rest, output, error),
                "-h" or "--help" or "help" => Help(output),
                _ => throw new UsageException($"unknown command '{command}'."),
            };
        }
        catch (UsageException e)
        {
            error.WriteLine($"fastcalib: {e.Message} Run 'fastcalib --help'.");
            return 2;
        }
        catch (Exception e) when (e is InputException or ArgumentException or IOException or UnauthorizedAccessException or OverflowException)
        {
            error.WriteLine($"fastcalib: {OneLine(e.Message)}");
            return 1;
        }
        catch (DeviceException e)
        {
            error.WriteLine($"fastcalib: {OneLine(e.Message)}");
            return 3;
        }
    }

    private static string OneLine(string message) => message.Replace('\n', ' ').Replace("\r", "");

    private static int Help(TextWriter output)
    {
        output.Write(Usage);
        return 0;
    }

    public const string Usage = """
        fastcalib - calibration of classifier confidence

        Usage:
          fastcalib [demo] [--rows N] [--classes C] [--seed S] [--out-dir DIR]
              The main job on an embedded synthetic, overconfident 10-class classifier (1,000,000
              predictions): calibration report, temperature fit, report again, reliability diagrams
              before and after (PNG), and which backend ran for how long.
          fastcalib demo --train [--epochs E] [--seed S]
              A training loop using the kernels: mixup with smoothed soft targets, softmax with a
              learnable temperature, the confidence penalty, and a calibration monitor per epoch.
          fastcalib report (--probs P [--unnormalized] | --logits Z [--temperature T]) --labels L [--bins 15]
                         [--adaptive] [--json]
          fastcalib fit-temperature --logits Z --labels L [--bins 15] [--json]
          fastcalib plot (--probs P [--unnormalized] | --logits Z [--temperature T]) --labels L --out diagram.png|.svg
                         [--bins 15] [--width 900] [--height 800]
          fastcalib softmax --logits Z [--temperature T] --out P.npy [--float64]
          fastcalib entropy --probs P --out H.npy [--float64]
          fastcalib fft-magnitude --images X.npy [--shift] [--log1p] [--standardize] [--clip C] [--half]
                         --out M.npy [--float64]
              |DFT2| of each image of X ([H, W], [N, H, W] or [N, C, H, W]; NumPy's fft2 convention),
              shifted, log1p-scaled, standardised per image and clipped to [-C, C] on request; --half
              writes the W/2 + 1 non-redundant columns.
          Every kernel command takes --device auto|cpu|gpu (auto: CUDA if present, else SIMD CPU).

        Files: NumPy .npy (float32/float64 [N, C], integer [N] labels, C order), an array in a .npz archive
        as archive.npz:name, or CSV (one row of numbers per line, optional header). .npy and .npz stream in
        chunks, so they may be larger than memory; CSV is read into memory. Probability rows must sum to 1
        (--unnormalized accepts scores that need not). In --json output non-finite numbers are null.
        Output files appear only when complete.

        """;
}
