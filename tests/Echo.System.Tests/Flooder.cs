using System.Text;
using Echo.Core.Direct;
using Echo.Core.Ports;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Echo.Protocols;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.SystemTests;

/// <summary>
/// A hostile peer in the test process that floods a node as fast as the node lets it: direct
/// messages from many concurrent senders, or echo-go lines on a stream. Disposing stops it.
/// </summary>
internal sealed class Flooder : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _workers = [];
    private readonly IAsyncDisposable _owner;
    private long _delivered;

    private Flooder(IAsyncDisposable owner) => _owner = owner;

    /// <summary>Direct messages the node acknowledged, or echo-go lines written.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    private static HostOptions Options => new() { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] };

    /// <summary>Connects to <paramref name="address"/> and sends direct messages from <paramref name="senders"/> concurrent loops.</summary>
    public static async Task<Flooder> DirectMessagesAsync(string address, int senders, CancellationToken cancellationToken)
    {
        Libp2pChatNetwork network = new(new Libp2pHost(KeyPair.Generate(), Options, NullLoggerFactory.Instance),
            new ChatNetworkOptions(), NullLoggerFactory.Instance);
        Flooder flooder = new(network);
        try
        {
            await network.StartAsync(cancellationToken);
            string peer = await network.ConnectAsync(address, cancellationToken);
            for (int i = 0; i < senders; i++)
                flooder._workers.Add(flooder.SendDirectLoopAsync(network, peer));
            return flooder;
        }
        catch
        {
            await flooder.DisposeAsync();
            throw;
        }
    }

    /// <summary>Connects to <paramref name="address"/> and writes echo-go lines on <paramref name="streams"/> streams.</summary>
    public static async Task<Flooder> EchoGoLinesAsync(string address, int streams, CancellationToken cancellationToken)
    {
        Libp2pHost host = new(KeyPair.Generate(), Options, NullLoggerFactory.Instance);
        Flooder flooder = new(host);
        try
        {
            await host.StartAsync(cancellationToken);
            Connection connection = await host.DialAsync(Multiaddr.Parse(address), cancellationToken);
            for (int i = 0; i < streams; i++)
            {
                P2PStream stream = await connection.OpenStreamAsync("/echo-go/chat/1.0.0", cancellationToken);
                flooder._workers.Add(flooder.WriteLinesAsync(stream, i));
            }
            return flooder;
        }
        catch
        {
            await flooder.DisposeAsync();
            throw;
        }
    }

    private async Task SendDirectLoopAsync(Libp2pChatNetwork network, string peer)
    {
        await Task.Yield();
        CancellationToken stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await network.SendDirectAsync(peer, new DirectEnvelope(DirectIds.New(), "flood", DateTimeOffset.UtcNow, "flood", null), stop);
                Interlocked.Increment(ref _delivered);
            }
            catch (ChatNetworkException)
            {
                // refused or timed out: a flooder goes on regardless
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
        }
    }

    private async Task WriteLinesAsync(P2PStream stream, int number)
    {
        await Task.Yield();
        byte[] line = Encoding.UTF8.GetBytes($"flood{number}: {new string('x', 200)}\n");
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await stream.Output.WriteAsync(line, _stop.Token);   // waits while the node does not read
                Interlocked.Increment(ref _delivered);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_workers).WaitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _owner.DisposeAsync();
        _stop.Dispose();
    }
}
