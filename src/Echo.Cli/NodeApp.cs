using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Cli;

/// <summary>
/// Runs an Echo node from a terminal: identity from the data directory, listen, dial, and a few
/// commands on standard input (/connect, /peers, /ping, /quit). Lines go to standard output;
/// logs go to standard error.
/// </summary>
internal static class NodeApp
{
    private const string KeyFileName = "identity.key";
    private const string LockFileName = "lock";

    public static async Task<int> RunAsync(NodeSettings settings, TextReader input, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        using ILoggerFactory loggers = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => o.SingleLine = true)
            .SetMinimumLevel(LogLevel.Warning));
        if (!TryLockDataDirectory(settings.DataDirectory, error, out FileStream? dataLock))
            return 1;
        using (dataLock)
        {
            using KeyPair key = KeyFile.LoadOrCreate(Path.Combine(settings.DataDirectory, KeyFileName));
            await using Libp2pHost host = new(key, new HostOptions { ListenAddresses = settings.Listen, AgentVersion = "echo/0.1.0" }, loggers);
            try
            {
                await host.StartAsync(cancellationToken);
            }
            catch (ListenFailedException e)
            {
                await error.WriteLineAsync(e.Message);
                return 1;
            }
            host.PeerConnected += c => output.WriteLine($"connected: {c.RemotePeer} ({c.Direction.ToString().ToLowerInvariant()}, {c.RemoteAddress})");
            host.PeerDisconnected += c => output.WriteLine($"disconnected: {c.RemotePeer}");
            await output.WriteLineAsync($"peer id: {host.PeerId}");
            foreach (Multiaddr address in host.AdvertisedAddresses)
                await output.WriteLineAsync($"listening: {address.WithPeerId(host.PeerId)}");
            foreach (Multiaddr address in settings.Connect)
                await ConnectAsync(host, address, output, cancellationToken);
            await output.WriteLineAsync("commands: /connect <multiaddr>, /peers, /ping <peer id>, /quit");

            while (!cancellationToken.IsCancellationRequested && await input.ReadLineAsync(cancellationToken) is { } line)
            {
                string[] words = line.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
                switch (words.FirstOrDefault())
                {
                    case null:
                        break;
                    case "/quit":
                        return 0;
                    case "/connect" when words.Length == 2:
                        if (Multiaddr.TryParse(words[1], out Multiaddr? address, out string? why))
                            await ConnectAsync(host, address!, output, cancellationToken);
                        else
                            await output.WriteLineAsync($"error: {why}");
                        break;
                    case "/peers":
                        foreach (Connection c in host.Connections)
                            await output.WriteLineAsync($"{c.RemotePeer} {c.Direction.ToString().ToLowerInvariant()} {c.RemoteAddress} since {c.OpenedAt:HH:mm:ss}");
                        break;
                    case "/ping" when words.Length == 2:
                        await PingAsync(host, words[1], output, cancellationToken);
                        break;
                    default:
                        await output.WriteLineAsync("unknown command; try /connect <multiaddr>, /peers, /ping <peer id>, /quit");
                        break;
                }
            }
            return 0;
        }
    }

    public static async Task<int> PrintIdAsync(NodeSettings settings, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        using KeyPair key = KeyFile.LoadOrCreate(Path.Combine(settings.DataDirectory, KeyFileName));
        await output.WriteLineAsync($"peer id: {key.PeerId}");
        foreach (Multiaddr address in settings.Listen)
            await output.WriteLineAsync($"listen: {address}");
        return 0;
    }

    private static async Task ConnectAsync(Libp2pHost host, Multiaddr address, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            Connection connection = await host.DialAsync(address, cancellationToken);
            await output.WriteLineAsync($"dialed {connection.RemotePeer}");
        }
        catch (DialFailedException e)
        {
            await output.WriteLineAsync($"error: {e.Message}");
        }
    }

    private static async Task PingAsync(Libp2pHost host, string peerText, TextWriter output, CancellationToken cancellationToken)
    {
        if (!PeerId.TryParse(peerText, out PeerId? peer, out string? why))
        {
            await output.WriteLineAsync($"error: {why}");
            return;
        }
        try
        {
            TimeSpan rtt = await host.PingAsync(peer!, cancellationToken);
            await output.WriteLineAsync($"ping {peer}: {rtt.TotalMilliseconds:F2} ms");
        }
        catch (Exception e) when (e is PeerNotConnectedException or TimeoutException or Echo.Net.ProtocolViolationException or IOException)
        {
            await output.WriteLineAsync($"error: {e.Message}");
        }
    }

    /// <summary>
    /// Two instances must never share an identity: the first one to start holds the data directory's
    /// lock file until it exits.
    /// </summary>
    private static bool TryLockDataDirectory(string directory, TextWriter error, out FileStream? handle)
    {
        Directory.CreateDirectory(directory);
        try
        {
            handle = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return true;
        }
        catch (IOException)
        {
            error.WriteLine($"{directory} is in use by another echo-chat; give this one another --name or --data-dir");
            handle = null;
            return false;
        }
    }
}
