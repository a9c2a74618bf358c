namespace Echo.Net.Identity;

/// <summary>
/// The identity key on disk: the protobuf <c>PrivateKey</c> bytes, readable by the owner only
/// (0600). A new key is written to a temporary file, flushed to disk and renamed into place, so a
/// crash leaves either no key or a whole one, never a torn file.
/// </summary>
public static class KeyFile
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Loads the key at <paramref name="path"/>, creating it (and its folder) when absent.</summary>
    /// <exception cref="InvalidDataException">The file exists but does not hold a valid key.</exception>
    public static KeyPair LoadOrCreate(string path)
    {
        if (File.Exists(path))
            return Load(path);
        string directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        KeyPair pair = KeyPair.Generate();
        string temp = path + ".tmp-" + Environment.ProcessId;
        FileStreamOptions options = new() { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = OwnerOnly;
        try
        {
            using FileStream stream = new(temp, options);
            stream.Write(pair.ToProtobuf());
            stream.Flush(flushToDisk: true);
        }
        catch
        {
            // A full disk or a read-only folder: leave nothing half-written behind.
            pair.Dispose();
            File.Delete(temp);
            throw;
        }
        try
        {
            // Another process may have won the race to create it: then its key is the identity.
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(temp);
            pair.Dispose();
            return Load(path);
        }
        return pair;
    }

    public static KeyPair Load(string path)
    {
        FileInfo info = new(path);
        if (info.Length > 4096)
            throw new InvalidDataException($"{path} is {info.Length} bytes, too large to be an identity key");
        try
        {
            return KeyPair.FromProtobuf(File.ReadAllBytes(path));
        }
        catch (ProtocolViolationException e)
        {
            throw new InvalidDataException($"{path} does not hold a valid identity key: {e.Message}", e);
        }
    }
}
