using System.Diagnostics;
using System.Globalization;
using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// The fastcalib tool. Today it has one job, <c>demo</c> (the default): score an embedded synthetic batch of
/// classifier logits, print its calibration report at several temperatures, and time softmax on every backend.
/// The file-based subcommands (report, fit-temperature, plot) arrive with the calibration-metrics issues.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        string command = args.Length > 0 ? args[0] : "demo";
        try
        {
            switch (command)
            {
                case "demo":
                    return Demo.Run(Options.Parse(args.Skip(1).ToArray()), Console.Out);
                case "-h" or "--help" or "help":
                    Console.Out.Write(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"fastcalib: unknown command '{command}'. Run 'fastcalib --help'.");
                    return 2;
            }
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"fastcalib: {e.Message}");
            return 2;
        }
        catch (DeviceException e)
        {
            Console.Error.WriteLine($"fastcalib: {e.Message}");
            return 3;
        }
    }

    public const string Usage = """
        fastcalib - calibration of classifier confidence

        Usage:
          fastcalib [demo] [--rows N] [--classes C] [--seed S]
              Scores an embedded synthetic batch (default 200000 predictions over 10 classes) at
              several temperatures: accuracy, mean confidence, ECE, MCE, NLL, Brier, the reliability
              table and the overconfidence profile; then times softmax on the scalar, SIMD and GPU
              backends and checks that they agree.
          fastcalib --help

        Coming with the calibration-metrics issues: report, fit-temperature, plot (on .npy/.npz/.csv files).

        """;
}

/// <summary>Command-line options of the demo.</summary>
public sealed record Options(int Rows = 200_000, int Classes = 10, int Seed = 2026)
{
    public static Options Parse(string[] args)
    {
        var options = new Options();
        for (int i = 0; i < args.Length; i++)
        {
            string flag = args[i];
            int Value()
            {
                if (i + 1 >= args.Length) throw new ArgumentException($"{flag} needs a value.");
                if (!int.TryParse(args[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) || v <= 0)
                    throw new ArgumentException($"{flag} needs a positive integer, got '{args[i]}'.");
                return v;
            }
            options = flag switch
            {
                "--rows" => options with { Rows = Value() },
                "--classes" => options with { Classes = Value() },
                "--seed" => options with { Seed = Value() },
                _ => throw new ArgumentException($"unknown option '{flag}'."),
            };
        }
        if (options.Classes < 2) throw new ArgumentException("--classes must be at least 2.");
        return options;
    }
}
