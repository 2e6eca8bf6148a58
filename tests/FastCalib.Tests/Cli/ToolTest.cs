using FastCalib.Cli;

namespace FastCalib.Tests.Cli;

/// <summary>A test class that runs the tool in process, with a temporary folder of its own for its files.</summary>
public abstract class ToolTest : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fastcalib-test-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }

    /// <summary>The test's temporary folder.</summary>
    protected string Folder => _dir;

    protected string PathOf(string name) => Path.Combine(_dir, name);

    /// <summary>The tool's exit code, standard output and standard error.</summary>
    protected static (int Code, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
