namespace Echo.SystemTests;

/// <summary>
/// What a script sees when the command line or the data directory is wrong: exit code 2 for a bad
/// command line, 1 for a start-up failure, one line on stderr, nothing on stdout, nothing left behind.
/// </summary>
[global::System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CommandLineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory(Timeout = 60_000)]
    [InlineData("--no-mdsn", "unknown option --no-mdsn; did you mean --no-mdns?")]
    [InlineData("--hedless", "unknown option --hedless; did you mean --headless?")]
    [InlineData("--connect --no-mdsn", "unknown option --no-mdsn; did you mean --no-mdns?")]
    [InlineData("--frobnicate", "unknown option --frobnicate (see --help)")]
    [InlineData("--port abc", "--port abc: not a TCP port (0 to 65535)")]
    [InlineData("--port 70000", "--port 70000: not a TCP port (0 to 65535)")]
    [InlineData("--port -1", "--port -1: not a TCP port (0 to 65535)")]
    [InlineData("--memory-budget 4", "--memory-budget 4: not a whole number of MiB from 8 to 65536")]
    [InlineData("--memory-budget 70000", "--memory-budget 70000: not a whole number of MiB from 8 to 65536")]
    [InlineData("--memory-budget 1G", "--memory-budget 1G: not a whole number of MiB from 8 to 65536")]
    [InlineData("--public-range 10.99.0.1/16", "--public-range 10.99.0.1/16: not a CIDR range such as 10.99.0.0/16 or fd00:99::/32 (no address bits set past the prefix)")]
    [InlineData("--public-range 10.99.0.0", "--public-range 10.99.0.0: not a CIDR range such as 10.99.0.0/16 or fd00:99::/32 (no address bits set past the prefix)")]
    [InlineData("--public-range 10.99.0.0/33", "--public-range 10.99.0.0/33: not a CIDR range such as 10.99.0.0/16 or fd00:99::/32 (no address bits set past the prefix)")]
    [InlineData("--observer-threshold 0", "--observer-threshold 0: not a whole number from 1 to 64")]
    [InlineData("--observer-threshold many", "--observer-threshold many: not a whole number from 1 to 64")]
    [InlineData("--log-level verbose", "--log-level verbose: not one of trace, debug, information, warning, error")]
    public async Task BadCommandLine_ExitsWith2AndOneLine_TouchesNothing(string arguments, string expected)
    {
        string root = Directory.CreateTempSubdirectory("echo-cli-args-").FullName;
        try
        {
            string dataDirectory = Path.Combine(root, "data");
            (int exit, string stdout, string stderr) = await EchoChatProcess.RunWithOutputAsync(
                ["--headless", "--data-dir", dataDirectory, .. arguments.Split(' ')], Ct);
            Assert.Equal(2, exit);
            AssertOneLine("echo-chat: " + expected, stderr);
            Assert.Equal("", stdout);
            Assert.False(Directory.Exists(dataDirectory), "a bad command line created the data directory");
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task HistorySubcommand_UnknownOption_NamesTheClosestOfItsOwn()
    {
        (int exit, string stdout, string stderr) = await EchoChatProcess.RunWithOutputAsync(["history", "--jsn"], Ct);
        Assert.Equal(2, exit);
        AssertOneLine("echo-chat: unknown option --jsn; did you mean --json?", stderr);
        Assert.Equal("", stdout);
    }

    [Fact(Timeout = 60_000)]
    public async Task BadPortEnvironment_ExitsWith2NamingTheVariable()
    {
        string root = Directory.CreateTempSubdirectory("echo-cli-args-").FullName;
        try
        {
            (int exit, string stdout, string stderr) = await EchoChatProcess.RunWithOutputAsync(
                ["--headless", "--no-mdns", "--data-dir", Path.Combine(root, "data")], Ct,
                new Dictionary<string, string> { ["PORT"] = "abc" });
            Assert.Equal(2, exit);
            AssertOneLine("echo-chat: PORT abc: not a TCP port (0 to 65535)", stderr);
            Assert.Equal("", stdout);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task MalformedIdentityKey_ExitsWith1AndOneLine_KeyKept()
    {
        await WithDataDirectoryAsync(async dataDirectory =>
        {
            string key = Path.Combine(dataDirectory, "identity.key");
            byte[] garbage = [0x08, 0x01, 0x12, 0x05, 0, 0, 0, 0, 0, 0xff, 0xff, 0x00, 0x13];
            await File.WriteAllBytesAsync(key, garbage, Ct);
            File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            (int exit, string stdout, string stderr) = await RunNodeAsync(dataDirectory);

            Assert.Equal(1, exit);
            string line = AssertOneLine(stderr);
            Assert.StartsWith($"echo-chat: {key} does not hold a valid identity key: ", line);
            Assert.EndsWith("; move it away to start with a new identity", line);
            Assert.Equal("", stdout);
            Assert.Equal(garbage, await File.ReadAllBytesAsync(key, Ct));
            Assert.Equal(["identity.key", "lock"], Listing(dataDirectory));
        });
    }

    [Fact(Timeout = 60_000)]
    public async Task IdentityKeyIsADirectory_ExitsWith1AndOneLine()
    {
        await WithDataDirectoryAsync(async dataDirectory =>
        {
            string key = Path.Combine(dataDirectory, "identity.key");
            Directory.CreateDirectory(key);

            (int exit, string stdout, string stderr) = await RunNodeAsync(dataDirectory);

            Assert.Equal(1, exit);
            AssertOneLine($"echo-chat: identity key {key} is a directory, not a key file; move it away", stderr);
            Assert.Equal("", stdout);
            Assert.Equal(["identity.key", "lock"], Listing(dataDirectory));
        });
    }

    [Fact(Timeout = 60_000)]
    public async Task HistoryDatabaseIsADirectory_ExitsWith1AndOneLine()
    {
        await WithDataDirectoryAsync(async dataDirectory =>
        {
            string history = Path.Combine(dataDirectory, "history.db");
            Directory.CreateDirectory(history);

            (int exit, string stdout, string stderr) = await RunNodeAsync(dataDirectory);

            Assert.Equal(1, exit);
            AssertOneLine($"echo-chat: history database {history} is a directory, not a database; move it away", stderr);
            Assert.Equal("", stdout);
            Assert.Empty(Directory.EnumerateFileSystemEntries(history));
            Assert.Equal(["history.db", "identity.key", "lock"], Listing(dataDirectory));

            (exit, stdout, stderr) = await EchoChatProcess.RunWithOutputAsync(["history", "--data-dir", dataDirectory], Ct);
            Assert.Equal(1, exit);
            AssertOneLine($"echo-chat: history database {history} is a directory, not a database; move it away", stderr);
            Assert.Equal("", stdout);
        });
    }

    /// <summary>Runs a headless node on <paramref name="dataDirectory"/> with no input.</summary>
    internal static Task<(int ExitCode, string StandardOutput, string StandardError)> RunNodeAsync(string dataDirectory,
        IReadOnlyDictionary<string, string>? environment = null) =>
        EchoChatProcess.RunWithOutputAsync(["--headless", "--no-mdns", "--listen", "/ip4/127.0.0.1/tcp/0", "--data-dir", dataDirectory],
            Ct, environment);

    internal static async Task WithDataDirectoryAsync(Func<string, Task> test)
    {
        string dataDirectory = Directory.CreateTempSubdirectory("echo-cli-start-").FullName;
        try
        {
            await test(dataDirectory);
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    /// <summary>The names in <paramref name="directory"/>, sorted.</summary>
    internal static string[] Listing(string directory) =>
        [.. Directory.EnumerateFileSystemEntries(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    /// <summary>Asserts that <paramref name="stderr"/> is exactly one line and returns it.</summary>
    internal static string AssertOneLine(string stderr)
    {
        Assert.EndsWith("\n", stderr);
        string line = stderr[..^1];
        Assert.DoesNotContain('\n', line);
        Assert.DoesNotContain("   at ", line);
        return line;
    }

    internal static void AssertOneLine(string expected, string stderr) => Assert.Equal(expected, AssertOneLine(stderr));
}
