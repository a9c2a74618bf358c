using Echo.Net.Identity;

namespace Echo.Cli;

/// <summary>
/// The data directory holds the identity key, direct messages and the offer list: it is made 0700
/// and the files in it 0600, tightened at start when something left them looser. A key that others
/// can read is refused, as ssh refuses a loose private key.
/// </summary>
internal static class PrivateFiles
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnly | UnixFileMode.UserExecute;
    private const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                                        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The folders of the data directory whose files are tightened at start (besides the top one).</summary>
    private static readonly string[] Subfolders = ["files"];

    /// <summary>
    /// Creates <paramref name="directory"/> as 0700, or takes group and others off an existing one
    /// and its files, except <paramref name="keyFileName"/>: a loose key is refused, never mended.
    /// </summary>
    /// <exception cref="StartupException">It cannot be created or changed.</exception>
    public static void PrepareDataDirectory(string directory, string keyFileName)
    {
        try
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
                return;
            }
            if (File.Exists(directory))
                throw new StartupException($"data directory {directory} is a file, not a directory");
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            Tighten(directory);
            TightenContents(directory, keyFileName);
            foreach (string folder in Subfolders)
            {
                string path = Path.Combine(directory, folder);
                if (Directory.Exists(path) && !IsLink(path))
                {
                    Tighten(path);
                    TightenContents(path, keyFileName);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot use data directory {directory}: {Reason(e)}");
        }
    }

    /// <summary>
    /// Loads the identity key at <paramref name="path"/>, creating it when absent; refuses one that
    /// group or others can use.
    /// </summary>
    /// <exception cref="StartupException">The key is loose, unreadable, malformed or cannot be written.</exception>
    public static KeyPair LoadKey(string path)
    {
        try
        {
            if (Directory.Exists(path))
                throw new StartupException($"identity key {path} is a directory, not a key file; move it away");
            if (!OperatingSystem.IsWindows() && File.Exists(path) && (File.GetUnixFileMode(path) & Others) != 0)
            {
                string mode = Convert.ToString((int)File.GetUnixFileMode(path), 8).PadLeft(4, '0');
                throw new StartupException($"permissions {mode} for identity key {path} are too open: " +
                                           $"it must not be readable by others; run: chmod 600 {ShellQuote(path)}");
            }
            return KeyFile.LoadOrCreate(path);
        }
        catch (InvalidDataException e)
        {
            throw new StartupException($"{OneLine(e.Message).TrimEnd('.')}; move it away to start with a new identity");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot use identity key {path}: {Reason(e)}");
        }
    }

    /// <summary>Room a new history database needs for its schema; checked by writing it once.</summary>
    private const int NewDatabaseRoom = 64 * 1024;

    /// <summary>
    /// Makes sure the history database at <paramref name="path"/> is private before SQLite opens it:
    /// a new one is created empty with mode 0600 (SQLite gives its -wal and -shm the same mode),
    /// after checking that the disk has room for its schema. True when it was created now.
    /// </summary>
    /// <exception cref="StartupException">The path is a directory, or the file cannot be created (the disk is full).</exception>
    public static bool PrepareDatabase(string path)
    {
        if (Directory.Exists(path))
            throw new StartupException($"history database {path} is a directory, not a database; move it away");
        if (File.Exists(path))
            return false;
        FileStreamOptions options = new() { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = OwnerOnly;
        try
        {
            using FileStream created = new(path, options);
            try
            {
                created.Write(new byte[NewDatabaseRoom]);
                created.Flush(flushToDisk: true);
                created.SetLength(0);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                created.Dispose();
                File.Delete(path);
                throw new StartupException($"cannot create history database {path}: {Reason(e)}");
            }
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false; // made by someone else between the check and here; tightened with the others
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot create history database {path}: {Reason(e)}");
        }
    }

    /// <summary>Removes what a first start left of a history database SQLite could not create.</summary>
    public static void RemoveNewDatabase(string path, string? backup)
    {
        foreach (string? file in (string?[])[path, path + "-wal", path + "-shm", path + "-journal", backup])
        {
            if (file is not null && File.Exists(file))
                File.Delete(file);
        }
    }

    /// <summary>What went wrong, in one line, without the path .NET appends to some messages (" : 'path'").</summary>
    public static string Reason(Exception e)
    {
        string message = OneLine(e.Message);
        int quoted = message.IndexOf(" : '", StringComparison.Ordinal);
        return quoted > 0 && message.EndsWith('\'') ? message[..quoted] : message;
    }

    /// <summary>Creation options for a private file that is appended to (the log).</summary>
    public static FileStreamOptions AppendOptions()
    {
        FileStreamOptions options = new() { Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.Read };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = OwnerOnly;
        return options;
    }

    /// <summary>Takes group and others off <paramref name="path"/> when it is a plain file or folder (not a link or device).</summary>
    public static void Tighten(string path)
    {
        if (OperatingSystem.IsWindows() || IsLink(path) || IsSpecial(path))
            return;
        UnixFileMode mode;
        try
        {
            mode = File.GetUnixFileMode(path);
        }
        catch (FileNotFoundException)
        {
            return;
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }
        if ((mode & Others) != 0)
            File.SetUnixFileMode(path, mode & ~Others);
    }

    private static void TightenContents(string directory, string keyFileName)
    {
        foreach (string file in Directory.EnumerateFiles(directory))
        {
            if (Path.GetFileName(file) != keyFileName)
                Tighten(file);
        }
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;

    private static bool IsSpecial(string path)
    {
        string full = Path.GetFullPath(path);
        return full.StartsWith("/dev/", StringComparison.Ordinal) || full.StartsWith("/proc/", StringComparison.Ordinal);
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ").Trim();

    /// <summary><paramref name="path"/> as a shell word: quoted only when it needs to be.</summary>
    private static string ShellQuote(string path) =>
        path.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '_' or '-' or '+' or ',' or ':' or '@' or '%')
            ? path
            : "'" + path.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>echo-chat cannot start; the message is the one line it prints before exiting with 1.</summary>
internal sealed class StartupException(string message) : Exception(message);
