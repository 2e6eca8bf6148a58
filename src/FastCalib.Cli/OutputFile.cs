namespace FastCalib.Cli;

/// <summary>
/// An output file that is written whole or not at all: the data goes to a temporary file in the target's folder,
/// which replaces the target only when <see cref="Commit"/> is called after everything was written; otherwise
/// (a failure, an exception) the temporary file is deleted and the target is left as it was. Device files
/// (/dev/stdout, /dev/null) are written directly, as they cannot be replaced. Errors name the option.
/// </summary>
public sealed class OutputFile : IDisposable
{
    private readonly string _path;
    private readonly string _option;
    private readonly string? _temporary;
    private bool _committed;

    public OutputFile(string path, string option)
    {
        _path = path;
        _option = option;
        bool device = Path.GetFullPath(path).StartsWith("/dev/", StringComparison.Ordinal);
        _temporary = device ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".", $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Stream = new FileStream(_temporary ?? path, device ? FileMode.Open : FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw Failure(e);
        }
    }

    /// <summary>Where to write.</summary>
    public Stream Stream { get; }

    /// <summary>Runs a write, turning I/O failures (a full disk) into an error naming the option and the file.</summary>
    public void Guard(Action write)
    {
        try
        {
            write();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Failure(e);
        }
    }

    /// <summary>Everything was written: flush and put the file in place.</summary>
    public void Commit()
    {
        Guard(() =>
        {
            Stream.Flush();
            Stream.Dispose();
            if (_temporary is not null) File.Move(_temporary, _path, overwrite: true);
        });
        _committed = true;
    }

    public void Dispose()
    {
        try
        {
            Stream.Dispose();
        }
        catch (IOException)
        {
            // a failed final flush: the file is deleted below anyway
        }
        if (!_committed && _temporary is not null)
        {
            try { File.Delete(_temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private InputException Failure(Exception e) => new($"{_option} {_path}: cannot write it ({e.Message.TrimEnd('.')}).");
}
