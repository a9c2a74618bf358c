using System.IO.Pipelines;
using System.Security.Cryptography;
using Echo.Net.Host;
using Echo.Net.Identify;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.TestKit;

/// <summary>Creates started hosts on 127.0.0.1:0 and a test echo protocol.</summary>
public static class TestHosts
{
    public const string EchoProtocol = "/test/echo/1.0.0";

    public static async Task<Libp2pHost> StartAsync(HostOptions? options = null, string listen = "/ip4/127.0.0.1/tcp/0")
    {
        options ??= new HostOptions();
        if (options.ListenAddresses.Count == 0 && listen.Length > 0)
            options = options with { ListenAddresses = [Multiaddr.Parse(listen)] };
        Libp2pHost host = new(KeyPair.Generate(), options, NullLoggerFactory.Instance);
        host.SetStreamHandler(EchoProtocol, EchoAsync, maxInboundStreamsPerPeer: 256);   // tests open 100 at once
        await host.StartAsync(TestContext.Current.CancellationToken);
        return host;
    }

    public static Multiaddr AddressOf(Libp2pHost host) => host.ListenAddresses[0].WithPeerId(host.PeerId);

    /// <summary>Echoes every byte until the remote half-closes, then half-closes.</summary>
    public static async Task EchoAsync(P2PStream stream, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await stream.Input.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                await stream.Output.WriteAsync(segment, cancellationToken);
            stream.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        await stream.CompleteOutputAsync();
    }

    /// <summary>Writes <paramref name="data"/> in chunks while reading the echo; returns the SHA-256 of what came back.</summary>
    public static async Task<(byte[] Hash, long Length)> EchoRoundTripAsync(P2PStream stream, ReadOnlyMemory<byte> data,
        CancellationToken cancellationToken)
    {
        Task<(byte[], long)> reader = ReadAllHashedAsync(stream.Input, cancellationToken);
        const int chunk = 64 * 1024;
        for (int offset = 0; offset < data.Length; offset += chunk)
            await stream.Output.WriteAsync(data.Slice(offset, Math.Min(chunk, data.Length - offset)), cancellationToken);
        await stream.CompleteOutputAsync();
        return await reader;
    }

    public static async Task<(byte[] Hash, long Length)> ReadAllHashedAsync(PipeReader input, CancellationToken cancellationToken)
    {
        using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long length = 0;
        while (true)
        {
            ReadResult result = await input.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                hash.AppendData(segment.Span);
                length += segment.Length;
            }
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return (hash.GetHashAndReset(), length);
        }
    }

    /// <summary>The next <see cref="Libp2pHost.PeerConnected"/> (for <paramref name="peer"/>, when given).</summary>
    public static Task<Connection> NextConnected(Libp2pHost host, PeerId? peer = null)
    {
        TaskCompletionSource<Connection> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerConnected += c =>
        {
            if (peer is null || c.RemotePeer == peer)
                tcs.TrySetResult(c);
        };
        return tcs.Task;
    }

    /// <summary>The next <see cref="Libp2pHost.PeerDisconnected"/> for <paramref name="peer"/>.</summary>
    public static Task<Connection> NextDisconnected(Libp2pHost host, PeerId peer)
    {
        TaskCompletionSource<Connection> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerDisconnected += c =>
        {
            if (c.RemotePeer == peer)
                tcs.TrySetResult(c);
        };
        return tcs.Task;
    }

    /// <summary>What identify tells <paramref name="host"/> about <paramref name="peer"/>: already known, or the next answer.</summary>
    public static Task<IdentifyInfo> Identified(Libp2pHost host, PeerId peer)
    {
        TaskCompletionSource<IdentifyInfo> tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
        host.PeerIdentified += (c, info) =>
        {
            if (c.RemotePeer == peer)
                tcs.TrySetResult(info);
        };
        if (host.PeerStore.Get(peer) is { Protocols.Count: > 0 } known)
            tcs.TrySetResult(known);
        return tcs.Task;
    }

    /// <summary>Completes when <paramref name="condition"/> holds, polling on host events; bounded by the test token and 10 s.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        using CancellationTokenSource cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(10));
        using PeriodicTimer timer = new(TimeSpan.FromMilliseconds(10));
        while (!condition())
        {
            try
            {
                await timer.WaitForNextTickAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"timed out waiting until {what}");
            }
        }
    }
}
