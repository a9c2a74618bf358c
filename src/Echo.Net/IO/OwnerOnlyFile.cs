namespace Echo.Net.IO;

/// <summary>Small state files that only their owner may read, replaced whole so a crash never leaves half of one.</summary>
public static class OwnerOnlyFile
{
    /// <summary>
    /// Writes <paramref name="bytes"/> to a temporary file beside <paramref name="path"/> (owner read and
    /// write only, flushed to disk), then moves it over <paramref name="path"/>. On failure the old file
    /// stays and the temporary one is removed.
    /// </summary>
    /// <exception cref="IOException">The file could not be written (also when access was denied).</exception>
    public static async Task ReplaceAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        string temporary = path + ".tmp";
        FileStreamOptions options = new() { Mode = FileMode.Create, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            try
            {
                await using (FileStream stream = new(temporary, options))
                {
                    await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                    stream.Flush(flushToDisk: true);
                }
                File.Move(temporary, path, overwrite: true);
            }
            catch
            {
                File.Delete(temporary);
                throw;
            }
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException(e.Message, e);
        }
    }
}
