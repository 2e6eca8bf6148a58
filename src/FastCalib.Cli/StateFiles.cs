using FastCalib;

namespace FastCalib.Cli;

/// <summary>
/// Accumulator states in files: the vector of <see cref="CalibrationAccumulator.ToState"/> as a one-dimensional
/// .npy array of int64, so NumPy, PyTorch, Spark or a database can sum states elementwise (that sum is the merge)
/// and <c>fastcalib merge</c> reads the result. Errors name the file.
/// </summary>
public static class StateFiles
{
    public static void Save(CalibrationAccumulator accumulator, string path, string option)
    {
        var state = accumulator.ToState();
        using var writer = new NpyWriter(path, [state.Length], "<i8", option);
        writer.Write(state);
        writer.Commit();
    }

    public static CalibrationAccumulator Load(string spec)
    {
        using var source = ArraySource.Open(spec);
        if (!source.IsInt64 || source.Shape.Length != 1)
            throw new InputException($"{source.Name}: not an accumulator state (a state is a one-dimensional int64 .npy array, as 'fastcalib report --save-state' writes; this is [{string.Join(", ", source.Shape)}]{(source.IsInteger ? "" : " of floats")}).");
        // the longest state: a million bins of five numbers each, and a few thousand thresholds
        if (source.Rows > 8_000_000)
            throw new InputException($"{source.Name}: {source.Rows:N0} values, more than any accumulator state holds.");
        var state = new long[source.Rows];
        source.ReadLongs(state);
        try
        {
            return CalibrationAccumulator.FromState(state);
        }
        catch (ArgumentException e)
        {
            throw new InputException($"{source.Name}: {Program.WithoutParameter(e).Replace("CalibrationAccumulator.FromState: ", "")}");
        }
    }

    /// <summary>The shape of an accumulator in the tool's words: bins, the --binning name, thresholds.</summary>
    public static string Shape(CalibrationAccumulator a) =>
        $"{a.Bins} bins, --binning {Arguments.BinningRules.First(r => r.Value == a.Rule).Key}, thresholds [{string.Join(", ", a.Thresholds.Select(t => t.ToString("R", System.Globalization.CultureInfo.InvariantCulture)))}]";
}
