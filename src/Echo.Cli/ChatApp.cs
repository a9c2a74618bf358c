using Echo.Core;
using Echo.Core.Files;
using Echo.Core.Ports;
using Echo.Headless;
using Echo.Net.AutoNat;
using Echo.Net.Bootstrap;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Mdns;
using Echo.Net.Multiformats;
using Echo.Net.Relay;
using Echo.Protocols;
using Echo.Protocols.Peers;
using Echo.Storage;
using Echo.Tui;
using Echo.Web;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Echo.Cli;

/// <summary>The composition root: builds the node, the chat and the chosen face, runs them, shuts down.</summary>
internal static class ChatApp
{
    private const string KeyFileName = "identity.key";
    private const string LockFileName = "lock";
    private const string AgentVersion = "echo/0.1.0";
    private const string PeerBookFileName = "peers.json";
    private const string BootstrapCacheFileName = "bootstrap-peers.json";
    private const string DhtPeerCacheFileName = "dht-peers.json";

    public static async Task<int> RunAsync(ChatSettings settings, CancellationToken cancellationToken)
    {
        FileStream dataLock;
        try
        {
            PrivateFiles.PrepareDataDirectory(settings.DataDirectory, KeyFileName);
            dataLock = LockDataDirectory(settings.DataDirectory);
        }
        catch (StartupException e)
        {
            return await FailAsync(e.Message);
        }
        using (dataLock)
        {
            // With the TUI on the terminal, logs go to a file only; headless keeps stdout for JSON
            // and reports warnings on stderr.
            string? logFile = settings.LogFile ?? (settings.Headless ? null : Path.Combine(settings.DataDirectory, "echo.log"));
            FileLoggerProvider? openedLog;
            KeyPair openedKey;
            string historyPath = Path.Combine(settings.DataDirectory, SqliteMessageStore.FileName);
            try
            {
                openedLog = logFile is null ? null : FileLoggerProvider.Open(logFile);
                openedKey = PrivateFiles.LoadKey(Path.Combine(settings.DataDirectory, KeyFileName));
            }
            catch (StartupException e)
            {
                return await FailAsync(e.Message);
            }
            await using FileLoggerProvider? fileLog = openedLog;
            using KeyPair key = openedKey;
            bool newHistory;
            try
            {
                newHistory = PrivateFiles.PrepareDatabase(historyPath);
            }
            catch (StartupException e)
            {
                return await FailAsync(e.Message);
            }
            using ILoggerFactory loggers = LoggerFactory.Create(builder =>
            {
                builder.SetMinimumLevel(settings.LogLevel);
                if (fileLog is not null)
                    builder.AddProvider(fileLog);
                if (settings.Headless)
                {
                    builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                        .AddFilter<ConsoleLoggerProvider>(level => level >= LogLevel.Warning && level >= settings.LogLevel);
                }
            });

            Log.Starting(loggers.CreateLogger("Echo.Cli"), AgentVersion, key.PeerId.ToString(), settings.DataDirectory,
                System.Globalization.CultureInfo.CurrentCulture.Name, System.Globalization.CultureInfo.CurrentUICulture.Name);
            Libp2pHost host = new(key, new HostOptions
            {
                ListenAddresses = settings.Listen,
                AgentVersion = AgentVersion,
                MemoryBudgetBytes = settings.MemoryBudgetBytes,
                EnableAutoNat = settings.AutoNat || settings.PublicNetworkEnabled,
                EnableDcutr = settings.PublicNetworkEnabled && !settings.NoHolePunch,
                AutoNat = new AutoNatOptions { ServerMode = settings.AutoNatServer ? AutoNatServerMode.On : AutoNatServerMode.Auto },
                PublicRanges = settings.PublicRanges,
                ObservedAddressThreshold = settings.ObserverThreshold,
            }, loggers);
            SqliteMessageStore opened;
            try
            {
                if (newHistory && await CreateHistoryAsync(historyPath) is { } failure)
                    return await FailAsync($"cannot create history database {historyPath}: {failure}");
                opened = SqliteMessageStore.Open(historyPath, loggers.CreateLogger("Echo.Storage"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return await FailAsync($"cannot open history database {historyPath}: {PrivateFiles.Reason(e)}");
            }
            // Disposed after the chat (declared before it), so the last messages are written first.
            await using SqliteMessageStore history = opened;
            foreach (string file in (string[])[historyPath, historyPath + "-wal", historyPath + "-shm"])
                PrivateFiles.Tighten(file);
            Libp2pChatNetwork network = new(host, new ChatNetworkOptions
            {
                DefaultRoom = settings.Room,
                Mdns = settings.Mdns ? new MdnsOptions() : null,
                RememberPeers = new RememberedPeersOptions { File = Path.Combine(settings.DataDirectory, PeerBookFileName) },
                PublicNetwork = PublicNetwork(settings),
            }, loggers, store: history);
            ChatOptions options = new()
            {
                Nick = settings.Nick,
                DefaultRoom = settings.Room,
                Ingest = settings.IngestQuota,
                Files = new FileSharingOptions
                {
                    DownloadsDirectory = settings.DownloadsDirectory,
                    MaxFileSize = settings.MaxFileSize,
                    StateDirectory = Path.Combine(settings.DataDirectory, "files"),
                },
            };
            // Direct messages and their outbox live in the history file; without a usable one, in memory.
            await using ChatManager chat = new(network, options, loggers.CreateLogger<ChatManager>(), history,
                history.CanStoreDirectMessages ? history : null);
            using ChatSubscription headlessEvents = chat.Subscribe();
            try
            {
                await chat.StartAsync(cancellationToken);
            }
            catch (ChatNetworkException e)
            {
                await Console.Error.WriteLineAsync($"echo-chat: {e.Message}");
                return 1;
            }
            WebChatServer? web = null;
            if (settings.Web is not null)
            {
                try
                {
                    web = await WebChatServer.StartAsync(chat, settings.Web, loggers, cancellationToken);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    await Console.Error.WriteLineAsync($"echo-chat: --web {WebChatOptions.Format(settings.Web.EndPoint)}: {e.Message}");
                    return 1;
                }
            }
            await using WebChatServer? webServer = web;
            // The file first, so whoever sees the announcement finds the file.
            using WebUrlFile? webUrl = web is null ? null : WebUrlFile.Write(settings.DataDirectory, web.Url);
            if (web is not null)
                chat.AnnounceWebUi(web.Url.ToString(), web.Remote);
            using CancellationTokenSource running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, chat.QuitRequested);
            Task connects = Task.WhenAll(settings.Connect.Select(address => chat.ConnectAsync(address, running.Token)));
            if (settings.Headless)
            {
                await HeadlessChat.RunAsync(chat, headlessEvents, Console.In, Console.Out, running.Token);
            }
            else
            {
                headlessEvents.Dispose();
                await ChatTui.RunAsync(chat, new ChatTuiOptions { Logger = loggers.CreateLogger("Echo.Tui"), Bell = settings.Bell }, running.Token);
            }
            await running.CancelAsync();
            try
            {
                await connects;
            }
            catch (OperationCanceledException)
            {
                // a dial still running at exit
            }
            return 0;
        }
    }

    /// <summary>The public network's settings (--bootstrap, --public, --dns), or null when it is off.</summary>
    internal static PublicNetworkOptions? PublicNetwork(ChatSettings settings) => !settings.PublicNetworkEnabled
        ? null
        : new PublicNetworkOptions
        {
            Bootstrap = new BootstrapOptions
            {
                Peers = settings.Bootstrap,
                DnsServer = settings.DnsServer,
                StateFile = Path.Combine(settings.DataDirectory, BootstrapCacheFileName),
            },
            DhtMode = settings.DhtMode,
            DhtPeerCacheFile = Path.Combine(settings.DataDirectory, DhtPeerCacheFileName),
            Relay = new RelayClientOptions { ReserveAlways = settings.ReserveRelays },
            RelayService = new RelayServiceOptions { Mode = settings.RelayService },
        };

    public static int PrintId(ChatSettings settings, TextWriter output)
    {
        KeyPair opened;
        try
        {
            PrivateFiles.PrepareDataDirectory(settings.DataDirectory, KeyFileName);
            opened = PrivateFiles.LoadKey(Path.Combine(settings.DataDirectory, KeyFileName));
        }
        catch (StartupException e)
        {
            Console.Error.WriteLine($"echo-chat: {e.Message}");
            return 1;
        }
        using KeyPair key = opened;
        output.WriteLine($"peer id: {key.PeerId}");
        foreach (Multiaddr address in settings.Listen)
            output.WriteLine($"listen: {address}");
        return 0;
    }

    /// <summary>
    /// Two instances must never share an identity: the first one to start holds the data directory's
    /// lock file until it exits.
    /// </summary>
    /// <exception cref="StartupException">Another echo-chat holds it, or it cannot be created.</exception>
    private static FileStream LockDataDirectory(string directory)
    {
        string path = Path.Combine(directory, LockFileName);
        FileStreamOptions options = new() { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        try
        {
            return new FileStream(path, options);
        }
        catch (IOException) when (File.Exists(path))
        {
            throw new StartupException($"{directory} is in use by another echo-chat; give this one another --name or --data-dir");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupException($"cannot use data directory {directory}: {PrivateFiles.Reason(e)}");
        }
    }

    /// <summary>
    /// Creates the schema of a new history database once, quietly: on failure (the disk filled up
    /// since the room check) returns why and leaves nothing of it behind, so a first start stops
    /// with one line instead of running without a history.
    /// </summary>
    private static async Task<string?> CreateHistoryAsync(string path)
    {
        string directory = Path.GetDirectoryName(path)!;
        HashSet<string> before = [.. Directory.EnumerateFiles(directory)];
        SqliteMessageStore store = SqliteMessageStore.Open(path);
        string? problem = store.IsAvailable ? null : store.Problem ?? "unknown error";
        await store.DisposeAsync();
        if (problem is null)
            return null;
        string name = Path.GetFileName(path);
        foreach (string file in Directory.EnumerateFiles(directory))
        {
            if (!before.Contains(file) && Path.GetFileName(file).StartsWith(name, StringComparison.Ordinal))
                File.Delete(file);
        }
        PrivateFiles.RemoveNewDatabase(path, null);
        return FirstReason(problem);
    }

    /// <summary>The cause in a store's problem text ("… cannot be read (the disk is full); …"), or all of it.</summary>
    private static string FirstReason(string problem)
    {
        const string Marker = " cannot be read (";
        int open = problem.IndexOf(Marker, StringComparison.Ordinal);
        int close = open < 0 ? -1 : problem.IndexOf(");", open, StringComparison.Ordinal);
        return close > open + Marker.Length ? problem[(open + Marker.Length)..close] : problem.ReplaceLineEndings(" ");
    }

    /// <summary>The one line a start-up failure prints; exit code 1.</summary>
    private static async Task<int> FailAsync(string message)
    {
        await Console.Error.WriteLineAsync($"echo-chat: {message}");
        return 1;
    }
}
