using Echo.Net.Multiformats;

namespace Echo.Cli;

/// <summary>What the command line and environment asked for, checked and with defaults filled in.</summary>
internal sealed record NodeSettings(string? Name, IReadOnlyList<Multiaddr> Listen, IReadOnlyList<Multiaddr> Connect, string DataDirectory)
{
    public static NodeSettings Create(int port, string? name, IReadOnlyList<string> listen, IReadOnlyList<string> connect, string? dataDir)
    {
        if (port is < 0 or > 65535)
            throw new ArgumentException($"--port {port} is not a TCP port (0 to 65535)");
        IReadOnlyList<Multiaddr> listenAddresses = listen.Count > 0
            ? [.. listen.Select(a => ParseAddress(a, "--listen"))]
            : [Multiaddr.Parse($"/ip4/0.0.0.0/tcp/{port}")];
        return new NodeSettings(name, listenAddresses, [.. connect.Select(a => ParseAddress(a, "--connect"))],
            dataDir ?? DefaultDataDirectory(name));
    }

    private static Multiaddr ParseAddress(string text, string option) =>
        Multiaddr.TryParse(text, out Multiaddr? address, out string? error)
            ? address!
            : throw new ArgumentException($"{option}: {error}");

    /// <summary>
    /// One folder per name under the XDG data directory, so that two instances started by one user
    /// with different names (alice and bob on one machine) are two different peers.
    /// </summary>
    private static string DefaultDataDirectory(string? name)
    {
        string root = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        string folder = string.IsNullOrWhiteSpace(name) ? "default" : string.Concat(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_'));
        return Path.Combine(root, "echo", folder);
    }
}
