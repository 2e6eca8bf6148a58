using System.CommandLine;
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
        var root = CommandLine.Build(output, error);
        if (args.Length > 0 && CompletionRequest(args) is var (line, position))
        {
            // tab completion, as dotnet-suggest asks for it: fastcalib [suggest:POSITION] "the command line so far"
            foreach (var item in CommandLine.Complete(root, line, position)) output.WriteLine(item);
            return 0;
        }
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // one line: the first mistake, a suggestion for a misspelt option or command, and where to look
            var first = parsed.Errors[0];
            string? token = parsed.UnmatchedTokens.FirstOrDefault();
            string? suggestion = token is null ? null : CommandLine.Suggest(token, parsed.CommandResult.Command);
            string message = token is not null
                ? $"unknown {(token.StartsWith('-') ? "option" : "command or argument")} '{token}'{(suggestion is null ? "" : $" (did you mean '{suggestion}'?)")}."
                : Flatten(first.Message).TrimEnd('.') + ".";
            var option = first.SymbolResult as System.CommandLine.Parsing.OptionResult ?? first.SymbolResult?.Parent as System.CommandLine.Parsing.OptionResult;
            if (option is not null && token is null && !message.Contains(option.Option.Name, StringComparison.Ordinal))
                message = $"{option.Option.Name}: {message}";
            error.WriteLine($"fastcalib: {message} {HelpHint(parsed, root)}");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (UsageException e)
        {
            error.WriteLine($"fastcalib: {e.Message} {HelpHint(parsed, root)}");
            return 2;
        }
        catch (Exception e) when (e is InputException or ArgumentException or IOException or UnauthorizedAccessException or OverflowException)
        {
            error.WriteLine($"fastcalib: {OneLine(e is ArgumentException a ? WithoutParameter(a) : e.Message)}");
            return 1;
        }
        catch (DeviceException e)
        {
            error.WriteLine($"fastcalib: {OneLine(e.Message)}");
            return 3;
        }
    }

    /// <summary>The command line and cursor position of a "[suggest:N] line" request, or null.</summary>
    private static (string Line, int Position)? CompletionRequest(string[] args)
    {
        var match = System.Text.RegularExpressions.Regex.Match(args[0], @"^\[suggest(?::(\d+))?\]$");
        if (!match.Success) return null;
        string line = args.Length > 1 ? args[1] : "";
        int position = match.Groups[1].Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : line.Length;
        return (line, Math.Clamp(position, 0, line.Length));
    }

    private static string OneLine(string message) => message.Replace('\n', ' ').Replace("\r", "");

    /// <summary>A message of several lines and tabs (System.CommandLine's lists of choices) on one line.</summary>
    private static string Flatten(string message) =>
        string.Join(" ", message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(p => p.Trim()));

    private static string HelpHint(ParseResult parsed, Command root) =>
        $"Run 'fastcalib {(parsed.CommandResult.Command == root ? "" : parsed.CommandResult.Command.Name + " ")}--help'.";

    /// <summary>An argument exception's own message, without the runtime's "(Parameter ...)" and "Actual value was ..." suffixes.</summary>
    internal static string WithoutParameter(ArgumentException e)
    {
        string text = e.Message;
        int cut = text.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (cut < 0) cut = text.IndexOf("\nActual value was", StringComparison.Ordinal);
        return cut > 0 ? text[..cut] : text;
    }
}
