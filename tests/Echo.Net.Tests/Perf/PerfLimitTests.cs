using System.Buffers.Binary;
using System.IO.Pipelines;
using Echo.Net.Host;
using Echo.Net.Perf;

namespace Echo.Net.Tests.Perf;

/// <summary>L-perf: one perf stream may be asked for at most 64 GiB; a larger request is reset before a byte is sent.</summary>
public sealed class PerfLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<P2PStream> AskAsync(Libp2pHost client, Libp2pHost server, ulong download)
    {
        P2PStream stream = await client.OpenStreamAsync(server.PeerId, PerfProtocol.ProtocolId, Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        byte[] header = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(header, download);
        await stream.Output.WriteAsync(header, Ct);
        await stream.CompleteOutputAsync();
        return stream;
    }

    [Fact(Timeout = 60_000)]
    public async Task Download_OfMaxDownloadBytesIsServed_OneByteMoreResetsTheStream()
    {
        Assert.Equal(64UL * 1024 * 1024 * 1024, PerfProtocol.MaxDownloadBytes);
        await using Libp2pHost server = await TestHosts.StartAsync(new HostOptions { EnablePerf = true });
        await using Libp2pHost client = await TestHosts.StartAsync();
        await client.DialAsync(TestHosts.AddressOf(server), Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);

        // At the limit the server starts sending (the test stops it after the first bytes).
        P2PStream atLimit = await AskAsync(client, server, PerfProtocol.MaxDownloadBytes);
        ReadResult first = await atLimit.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.False(first.Buffer.IsEmpty);
        atLimit.Input.AdvanceTo(first.Buffer.End);
        atLimit.Reset();

        // One byte more: reset without a byte of data.
        P2PStream over = await AskAsync(client, server, PerfProtocol.MaxDownloadBytes + 1);
        long received = 0;
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            using CancellationTokenSource bound = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            bound.CancelAfter(TimeSpan.FromSeconds(20));
            while (true)
            {
                ReadResult result = await over.Input.ReadAsync(bound.Token);
                received += result.Buffer.Length;
                over.Input.AdvanceTo(result.Buffer.End);
                Assert.False(result.IsCompleted, "the server half-closed instead of resetting");
            }
        });
        Assert.Equal(0, received);
    }
}
