using Echo.Core.Chat;
using Echo.Net.Multiformats;
using Echo.Web;

namespace Echo.Cli;

/// <summary>What the command line and environment asked for, checked and with defaults filled in.</summary>
internal sealed partial record ChatSettings(
    string Nick,
    IReadOnlyList<Multiaddr> Listen,
    IReadOnlyList<string> Connect,
    string Room,
    string DataDirectory,
    bool Headless,
    bool Mdns,
    string? LogFile)
{
    /// <summary>Where verified downloads go (--downloads; default ~/Downloads/echo).</summary>
    public string DownloadsDirectory { get; init; } = Core.Files.FileSharingOptions.DefaultDownloadsDirectory;

    /// <summary>The largest file /get accepts (--max-file-size).</summary>
    public long MaxFileSize { get; init; } = 4L << 30;

    /// <summary>Whether the TUI rings the terminal bell on a mention or a direct message (--no-bell turns it off).</summary>
    public bool Bell { get; init; } = true;

    /// <summary>Rings the bell or not (--no-bell).</summary>
    public ChatSettings WithBell(bool bell) => this with { Bell = bell };

    /// <summary>Run AutoNAT (HostOptions.EnableAutoNat): part of the public-network stack, which turns it on.</summary>
    public bool AutoNat { get; init; }

    /// <summary>Serve AutoNAT checks before this node is judged public (--autonat-server, a node known to be public).</summary>
    public bool AutoNatServer { get; init; }

    /// <summary>With <paramref name="server"/> (--autonat-server): AutoNAT on, serving from the start.</summary>
    public ChatSettings WithAutoNat(bool server) => server ? this with { AutoNat = true, AutoNatServer = true } : this;

    public const string DefaultRoom = "lobby";

    /// <summary>--memory-budget's default, bounds and unit (MiB): the host's default budget (docs/LIMITS.md, L-memory-budget).</summary>
    public const int DefaultMemoryBudgetMiB = (int)(Net.ResourceManager.MemoryBudget.DefaultLimitBytes >> 20);

    /// <summary>The smallest --memory-budget: a quarter of it (one connection's share) still holds a few stream windows.</summary>
    public const int MinMemoryBudgetMiB = 8;

    /// <summary>The largest --memory-budget (64 GiB).</summary>
    public const int MaxMemoryBudgetMiB = 65536;

    /// <summary>Buffered network data the host may hold (--memory-budget), in bytes.</summary>
    public long MemoryBudgetBytes { get; init; } = Net.ResourceManager.MemoryBudget.DefaultLimitBytes;

    /// <summary>The web UI's settings, or null without --web.</summary>
    public WebChatOptions? Web { get; init; }

    /// <summary>
    /// Adds the web UI when <paramref name="enabled"/> (--web, with or without an address); throws
    /// <see cref="ArgumentException"/> naming the bad option.
    /// </summary>
    public ChatSettings WithWeb(bool enabled, string? address, bool allowRemote)
    {
        if (!enabled)
            return allowRemote ? throw new ArgumentException("--web-allow-remote needs --web ADDRESS:PORT") : this;
        WebChatOptions web;
        try
        {
            web = new WebChatOptions
            {
                EndPoint = address is null ? WebChatOptions.DefaultEndPoint : WebChatOptions.ParseEndPoint(address),
                AllowRemote = allowRemote,
            };
            web.Validate();
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            throw new ArgumentException($"--web: {e.Message}");
        }
        return this with { Web = web };
    }

    /// <summary>
    /// Reads a TCP port from <paramref name="text"/>; reports a bad one on <paramref name="result"/>,
    /// naming it as <paramref name="source"/> (the option or the environment variable).
    /// </summary>
    public static int ParsePort(System.CommandLine.Parsing.ArgumentResult result, string text, string source)
    {
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port)
            && port <= 65535)
            return port;
        result.AddError($"{source} {text}: not a TCP port (0 to 65535)");
        return 0;
    }

    /// <summary>Builds the settings; throws <see cref="ArgumentException"/> naming the bad option.</summary>
    public static ChatSettings Create(int port, string? name, IReadOnlyList<string> listen, IReadOnlyList<string> connect,
        string? room, string? dataDir, bool headless, bool noMdns, string? logFile)
    {
        if (port is < 0 or > 65535)
            throw new ArgumentException($"--port {port} is not a TCP port (0 to 65535)");
        string nick = string.IsNullOrWhiteSpace(name) ? DefaultNick() : name.Trim();
        if (Core.Chat.ChatLimits.CheckNick(nick) is { } nickError)
            throw new ArgumentException($"--name: {nickError}");
        room ??= DefaultRoom;
        if (Core.Chat.ChatLimits.CheckRoom(room) is { } roomError)
            throw new ArgumentException($"--room: {roomError}");
        IReadOnlyList<Multiaddr> listenAddresses = listen.Count > 0
            ? [.. listen.Select(a => ParseAddress(a, "--listen"))]
            : [Multiaddr.Parse($"/ip4/0.0.0.0/tcp/{port}")];
        foreach (string address in connect)
            ParseAddress(address, "--connect");
        return new ChatSettings(nick, listenAddresses, connect, room, dataDir ?? DefaultDataDirectory(name), headless, !noMdns,
            logFile);
    }

    /// <summary>Messages a second one author may have stored (--store-rate), or null for the default.</summary>
    public double? StoreRate { get; init; }

    /// <summary>Applies --store-rate; throws <see cref="ArgumentException"/> when it is not a positive number.</summary>
    public ChatSettings WithStoreRate(double? perSecond) => perSecond switch
    {
        null => this,
        > 0 and <= 1_000_000 => this with { StoreRate = perSecond },
        _ => throw new ArgumentException($"--store-rate {perSecond}: messages a second, above 0"),
    };

    /// <summary>The storage quota for <see cref="StoreRate"/>: an author's rate, and room for as many authors through one peer.</summary>
    public IngestQuotaOptions IngestQuota => StoreRate is not { } rate
        ? new IngestQuotaOptions()
        : new IngestQuotaOptions
        {
            AuthorPerSecond = rate,
            AuthorPerHour = (int)Math.Clamp(rate * 3600, 1000, int.MaxValue),
            PeerPerSecond = Math.Max(20, rate),
            PeerPerHour = (int)Math.Clamp(rate * 3600, 20_000, int.MaxValue),
        };

    /// <summary>Applies --downloads and --max-file-size; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public ChatSettings WithFiles(string? downloads, string? maxFileSize)
    {
        ChatSettings settings = this;
        if (!string.IsNullOrWhiteSpace(downloads))
            settings = settings with { DownloadsDirectory = Path.GetFullPath(downloads) };
        if (!string.IsNullOrWhiteSpace(maxFileSize))
            settings = settings with { MaxFileSize = ParseSize(maxFileSize) };
        return settings;
    }

    /// <summary>Applies --memory-budget (whole MiB); throws <see cref="ArgumentException"/> with the allowed range.</summary>
    public ChatSettings WithMemoryBudget(string? mebibytes)
    {
        if (mebibytes is null)
            return this;
        return int.TryParse(mebibytes.Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int mib)
               && mib is >= MinMemoryBudgetMiB and <= MaxMemoryBudgetMiB
            ? this with { MemoryBudgetBytes = (long)mib << 20 }
            : throw new ArgumentException(
                $"--memory-budget {mebibytes}: not a whole number of MiB from {MinMemoryBudgetMiB} to {MaxMemoryBudgetMiB}");
    }

    /// <summary>A byte count with an optional K, M, G or T suffix (powers of 1024).</summary>
    private static long ParseSize(string text)
    {
        string t = text.Trim().ToUpperInvariant().TrimEnd('B').TrimEnd('I');
        int shift = t.Length > 0 ? t[^1] switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, _ => 0 } : 0;
        if (shift > 0)
            t = t[..^1];
        return long.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long n)
               && n > 0 && n <= long.MaxValue >> shift
            ? n << shift
            : throw new ArgumentException($"--max-file-size {text}: not a size such as 500M or 4G");
    }

    private static Multiaddr ParseAddress(string text, string option) =>
        Multiaddr.TryParse(text, out Multiaddr? address, out string? error)
            ? address!
            : throw new ArgumentException($"{option} {text}: {error}");

    /// <summary>The login name when it makes a valid nick, else "anon".</summary>
    private static string DefaultNick()
    {
        string user = Environment.UserName;
        return Core.Chat.ChatLimits.CheckNick(user) is null ? user : "anon";
    }

    /// <summary>
    /// One folder per name under the XDG data directory, so that two instances started by one user
    /// with different names (alice and bob on one machine) are two different peers.
    /// </summary>
    private static string DefaultDataDirectory(string? name)
    {
        string root = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        string folder = string.IsNullOrWhiteSpace(name)
            ? "default"
            : string.Concat(name.Trim().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
        return Path.Combine(root, "echo", folder);
    }
}
