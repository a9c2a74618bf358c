using System.Diagnostics;

namespace Echo.SystemTests;

/// <summary>
/// A first start on a full disk (a small tmpfs this test mounts, filled up): one line, exit 1, no
/// half-written key, no empty history, no temporary file left.
/// </summary>
[global::System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class FullDiskStartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = 90_000)]
    [InlineData(0, "use identity key", "identity.key", "No space left on device", new[] { "lock" })]
    [InlineData(8 * 1024, "create history database", "history.db", "No space left on device", new[] { "identity.key", "lock" })]
    // Room for the check before SQLite, not for the schema and its write-ahead log.
    [InlineData(72 * 1024, "create history database", "history.db", "the disk is full", new[] { "identity.key", "lock" })]
    public async Task FirstStart_OnAFullDisk_OneLineExit1NothingHalfMade(int free, string what, string file, string reason, string[] left)
    {
        await using SmallTmpfs disk = await SmallTmpfs.MountAsync(256 * 1024);
        disk.Fill(leaveFree: free);
        string dataDirectory = Path.Combine(disk.Path, "data");

        (int exit, string stdout, string stderr) = await CommandLineTests.RunNodeAsync(dataDirectory);

        Assert.Equal(1, exit);
        CommandLineTests.AssertOneLine($"echo-chat: cannot {what} {Path.Combine(dataDirectory, file)}: {reason}", stderr);
        Assert.Equal("", stdout);
        Assert.Equal(left, CommandLineTests.Listing(dataDirectory));
    }

    /// <summary>A tmpfs of a few pages on a fresh folder, unmounted and removed at the end.</summary>
    private sealed class SmallTmpfs : IAsyncDisposable
    {
        private SmallTmpfs(string path) => Path = path;

        public string Path { get; }

        public static async Task<SmallTmpfs> MountAsync(int bytes)
        {
            string path = Directory.CreateTempSubdirectory("echo-cli-full-").FullName;
            try
            {
                await RunAsync("mount", "-t", "tmpfs", "-o", $"size={bytes},mode=0700", "tmpfs", path);
            }
            catch
            {
                Directory.Delete(path);
                throw;
            }
            return new SmallTmpfs(path);
        }

        /// <summary>Writes one file until the disk is full, then gives back <paramref name="leaveFree"/> bytes.</summary>
        public void Fill(int leaveFree)
        {
            using FileStream filler = new(global::System.IO.Path.Combine(Path, "filler"), FileMode.CreateNew, FileAccess.Write);
            byte[] page = new byte[4096];
            try
            {
                while (true)
                {
                    filler.Write(page);
                    filler.Flush();
                }
            }
            catch (IOException)
            {
                // full
            }
            filler.SetLength(Math.Max(0, filler.Length - leaveFree) / 4096 * 4096);
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await RunAsync("umount", Path);
            }
            catch (InvalidOperationException)
            {
                await RunAsync("umount", "-l", Path); // something still holds it: detach it anyway
            }
            Directory.Delete(Path);
        }

        private static async Task RunAsync(string command, params string[] args)
        {
            ProcessStartInfo start = new(command) { RedirectStandardError = true, UseShellExecute = false };
            foreach (string arg in args)
                start.ArgumentList.Add(arg);
            using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{command} did not start");
            string error = await process.StandardError.ReadToEndAsync(CancellationToken.None);
            await process.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"{command} {string.Join(' ', args)}: exit {process.ExitCode}: {error}");
        }
    }
}
