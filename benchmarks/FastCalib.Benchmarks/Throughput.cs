using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace FastCalib.Benchmarks;

/// <summary>A benchmark that knows how many bytes one invocation must move (inputs read once + outputs written once).</summary>
public interface IMovesBytes
{
    double BytesMoved(string shape);
}

/// <summary>Effective bandwidth: <see cref="IMovesBytes.BytesMoved"/> divided by the median time.</summary>
public sealed class GigabytesPerSecondColumn : IColumn
{
    public string Id => "GBps";
    public string ColumnName => "GB/s";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => "Effective bandwidth: bytes read once plus bytes written once, per median time (1 GB = 1e9 B)";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var report = summary[benchmarkCase];
        if (report?.ResultStatistics is null) return "-";
        var instance = (IMovesBytes)Activator.CreateInstance(benchmarkCase.Descriptor.Type)!;
        string shape = benchmarkCase.Parameters.Items.FirstOrDefault(p => p.Name == "Shape")?.Value?.ToString() ?? "";
        double seconds = report.ResultStatistics.Median / 1e9;
        return (instance.BytesMoved(shape) / seconds / 1e9).ToString("F1");
    }

    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
}

/// <summary>Few, long iterations (inputs are hundreds of MB), the GB/s column, and the ratio to the baseline peer.</summary>
public sealed class KernelConfig : ManualConfig
{
    /// <summary>Whether to add the default job (false when the command line names one).</summary>
    public static bool AddDefaultJob { get; set; } = true;

    public KernelConfig()
    {
        if (AddDefaultJob) AddJob(Job.Default.WithWarmupCount(3).WithIterationCount(10).WithLaunchCount(1));
        AddColumn(new GigabytesPerSecondColumn());
        HideColumns(Column.Error, Column.StdDev);
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
    }
}

/// <summary>Shapes written as "rowsxcols".</summary>
public static class Shape
{
    public static (int Rows, int Cols) Parse(string shape)
    {
        var parts = shape.Split('x');
        return (int.Parse(parts[0]), int.Parse(parts[1]));
    }
}
