namespace Echo.Cli;

/// <summary>
/// The web UI's URL, with its access token, in the data directory while the node runs (like a
/// notebook server's runtime file): readable by its owner only, so scripts and a second terminal
/// can open the page without scraping the screen; deleted at exit.
/// </summary>
internal sealed class WebUrlFile : IDisposable
{
    public const string FileName = "web-url";

    private WebUrlFile(string path) => Path = path;

    public string Path { get; }

    /// <summary>Writes <paramref name="url"/> to <c>web-url</c> in <paramref name="dataDirectory"/>, mode 0600.</summary>
    public static WebUrlFile Write(string dataDirectory, Uri url)
    {
        string path = System.IO.Path.Combine(dataDirectory, FileName);
        // A file left by a killed run may have been made by anyone: start afresh, never reuse its mode.
        File.Delete(path);
        FileStreamOptions create = new() { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (StreamWriter writer = new(path, new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false), create))
            writer.WriteLine(url.ToString());
        return new WebUrlFile(path);
    }

    public void Dispose()
    {
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // the directory went away; nothing to clean up
        }
    }
}
