using System.Text.Json;

namespace Echo.SystemTests;

/// <summary>
/// The data directory is the user's: 0700, its files 0600 (history with the direct messages, the
/// log, the offer list), tightened at start when looser; a key others can read is refused like ssh does.
/// </summary>
[global::System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PrivateFilesTests
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateDirectory = Private | UnixFileMode.UserExecute;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task NewDataDirectory_IsCreated0700_WithItsFiles0600()
    {
        string root = Directory.CreateTempSubdirectory("echo-cli-modes-").FullName;
        try
        {
            string dataDirectory = Path.Combine(root, "data");
            await using (EchoChatProcess node = await StartWithFilesAsync(root, dataDirectory))
            {
                // While it runs: the write-ahead log and shared memory exist, with the database's mode.
                AssertModes(dataDirectory, withWal: true);
            }
            AssertModes(dataDirectory, withWal: false);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact(Timeout = 90_000)]
    public async Task LooserFiles_AreTightenedAtStart()
    {
        string root = Directory.CreateTempSubdirectory("echo-cli-modes-").FullName;
        try
        {
            string dataDirectory = Path.Combine(root, "data");
            await using (EchoChatProcess first = await StartWithFilesAsync(root, dataDirectory))
            {
            }
            UnixFileMode open = Private | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            UnixFileMode openDirectory = PrivateDirectory | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
                                         | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
            File.SetUnixFileMode(dataDirectory, openDirectory);
            File.SetUnixFileMode(Path.Combine(dataDirectory, "files"), openDirectory);
            foreach (string file in (string[])["history.db", "echo.log", "lock", "files/offers.json"])
                File.SetUnixFileMode(Path.Combine(dataDirectory, file), open | UnixFileMode.GroupWrite);

            await using (EchoChatProcess second = await EchoChatProcess.StartAsync("alice",
                             ["--log-file", Path.Combine(dataDirectory, "echo.log")], Ct, dataDirectory: dataDirectory))
            {
                await second.SendLineAsync("again");
                await second.MessageAsync("again", Ct);
                AssertModes(dataDirectory, withWal: true);
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory(Timeout = 60_000)]
    [InlineData("644")]
    [InlineData("640")]
    [InlineData("604")]
    [InlineData("660")]
    public async Task IdentityKeyOthersCanRead_IsRefusedWithTheChmodToRun(string octal)
    {
        await CommandLineTests.WithDataDirectoryAsync(async dataDirectory =>
        {
            string key = Path.Combine(dataDirectory, "identity.key");
            (int created, string peer, _) = await EchoChatProcess.RunWithOutputAsync(["id", "--data-dir", dataDirectory], Ct);
            Assert.Equal(0, created);
            UnixFileMode loose = (UnixFileMode)Convert.ToInt32(octal, 8);
            File.SetUnixFileMode(key, loose);

            (int exit, string stdout, string stderr) = await CommandLineTests.RunNodeAsync(dataDirectory);

            Assert.Equal(1, exit);
            CommandLineTests.AssertOneLine(
                $"echo-chat: permissions 0{octal} for identity key {key} are too open: it must not be readable by others; run: chmod 600 {key}",
                stderr);
            Assert.Equal("", stdout);
            Assert.Equal(loose, File.GetUnixFileMode(key)); // refused, not silently mended
            Assert.False(File.Exists(Path.Combine(dataDirectory, "history.db")));

            // The command it names is the fix: the same identity starts again.
            File.SetUnixFileMode(key, Private);
            (int again, string samePeer, string quiet) = await EchoChatProcess.RunWithOutputAsync(["id", "--data-dir", dataDirectory], Ct);
            Assert.Equal(0, again);
            Assert.Equal("", quiet);
            Assert.Equal(peer.Split('\n')[0], samePeer.Split('\n')[0]);
        });
    }

    [Fact(Timeout = 60_000)]
    public async Task LooseKeyInAPathWithASpace_TheChmodToRunIsQuoted()
    {
        await CommandLineTests.WithDataDirectoryAsync(async root =>
        {
            string dataDirectory = Path.Combine(root, "my data");
            (int created, _, _) = await EchoChatProcess.RunWithOutputAsync(["id", "--data-dir", dataDirectory], Ct);
            Assert.Equal(0, created);
            string key = Path.Combine(dataDirectory, "identity.key");
            File.SetUnixFileMode(key, Private | UnixFileMode.OtherRead);

            (int exit, string stdout, string stderr) = await CommandLineTests.RunNodeAsync(dataDirectory);

            Assert.Equal(1, exit);
            Assert.EndsWith($"; run: chmod 600 '{key}'", CommandLineTests.AssertOneLine(stderr));
            Assert.Equal("", stdout);
        });
    }

    /// <summary>Starts a node that logs to the data directory, says a line and offers a file (so every private file exists).</summary>
    private static async Task<EchoChatProcess> StartWithFilesAsync(string root, string dataDirectory)
    {
        string shared = Path.Combine(root, "shared.txt");
        await File.WriteAllTextAsync(shared, "a file to offer", Ct);
        EchoChatProcess node = await EchoChatProcess.StartAsync("alice", ["--log-file", Path.Combine(dataDirectory, "echo.log")], Ct,
            dataDirectory: dataDirectory);
        try
        {
            await node.SendLineAsync("hello");
            await node.MessageAsync("hello", Ct);
            await node.SendLineAsync("/send " + shared);
            JsonElement offered = await node.NextAsync(e => e.GetProperty("type").GetString() is "file-offered" or "error",
                TimeSpan.FromSeconds(20), Ct);
            Assert.Equal("file-offered", offered.GetProperty("type").GetString());
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    private static void AssertModes(string dataDirectory, bool withWal)
    {
        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(dataDirectory));
        Assert.Equal(PrivateDirectory, File.GetUnixFileMode(Path.Combine(dataDirectory, "files")));
        List<string> files = ["identity.key", "lock", "history.db", "echo.log", "files/offers.json"];
        if (withWal)
            files.AddRange(["history.db-wal", "history.db-shm"]);
        foreach (string file in files)
        {
            string path = Path.Combine(dataDirectory, file);
            Assert.True(File.Exists(path), $"{file} is missing");
            Assert.True(File.GetUnixFileMode(path) == Private, $"{file} is {File.GetUnixFileMode(path)}, not 0600");
        }
        foreach (string file in Directory.EnumerateFiles(dataDirectory, "*", SearchOption.AllDirectories))
            Assert.True((File.GetUnixFileMode(file) & ~Private) == 0, $"{file} is {File.GetUnixFileMode(file)}");
    }
}
