using System.IO.Pipelines;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Microsoft.Extensions.Logging;

namespace Echo.Net.Tests.Host;

/// <summary>
/// A peer leaving in the middle of a stream (reset, connection closed, host gone) is ordinary: the
/// host that served the stream logs it at Debug with the reason and no stack trace, never a warning.
/// </summary>
public sealed class DepartureLogTests
{
    private const string HoldProtocol = "/test/hold/1.0.0";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public enum Departure
    {
        StreamReset,
        ConnectionClosed,
        HostStopped,
    }

    [Theory(Timeout = 60_000)]
    [InlineData(Departure.StreamReset)]
    [InlineData(Departure.ConnectionClosed)]
    [InlineData(Departure.HostStopped)]
    public async Task PeerLeavingMidStream_IsLoggedAtDebugWithoutStackTrace(Departure departure)
    {
        RecordingLoggerFactory logs = new(LogLevel.Debug);
        TaskCompletionSource reading = new(TaskCreationOptions.RunContinuationsAsynchronously);
        await using Libp2pHost server = new(KeyPair.Generate(),
            new HostOptions { ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")] }, logs);
        // Like a protocol handler that lets the stream's error out: waits for a message that never comes.
        server.SetStreamHandler(HoldProtocol, async (stream, cancellationToken) =>
        {
            reading.TrySetResult();
            while (true)
            {
                ReadResult result = await stream.Input.ReadAsync(CancellationToken.None);
                stream.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                    throw new IOException("the peer ended the stream before its message");
            }
        });
        await server.StartAsync(Ct);
        Libp2pHost client = await TestHosts.StartAsync();
        try
        {
            Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);
            P2PStream stream = await client.OpenStreamAsync(server.PeerId, HoldProtocol, Ct);
            await stream.Output.WriteAsync(new byte[] { 1 }, Ct);
            await reading.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
            switch (departure)
            {
                case Departure.StreamReset:
                    stream.Reset();
                    break;
                case Departure.ConnectionClosed:
                    await connection.CloseAsync();
                    break;
                case Departure.HostStopped:
                    await client.DisposeAsync();
                    break;
            }
            RecordingLoggerFactory.Entry ended = await logs.WaitForAsync(e => e.EventId == 1520, TimeSpan.FromSeconds(10));
            Assert.Equal(LogLevel.Debug, ended.Level);
            Assert.Null(ended.Exception);
            Assert.True(ended.IsAbout(client.PeerId));
            Assert.Empty(logs.Where(e => e.Level >= LogLevel.Warning));
            Assert.Empty(logs.Where(e => e.Exception is not null && e.Category.StartsWith("Echo.Net.Host", StringComparison.Ordinal)));
        }
        finally
        {
            await client.DisposeAsync();
        }
    }
}
