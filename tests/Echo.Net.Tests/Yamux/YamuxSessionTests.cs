using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography;
using Echo.Net.Yamux;

namespace Echo.Net.Tests.Yamux;

public class YamuxSessionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenStream_BothDirections_DataArrivesInOrder()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        Assert.Equal(1u, client.Id);

        await client.Output.WriteAsync("hello"u8.ToArray(), Ct);
        await server.Output.WriteAsync("world!"u8.ToArray(), Ct);
        await client.CompleteOutputAsync();
        await server.CompleteOutputAsync();

        Assert.Equal("hello"u8.ToArray(), await server.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
        Assert.Equal("world!"u8.ToArray(), await client.Input.ReadToEndAsync(Ct).WaitAsync(Ct));
    }

    [Fact]
    public async Task OpenStream_ServerSide_UsesEvenIds()
    {
        await using SessionPair pair = new();
        YamuxStream first = await pair.Server.OpenStreamAsync(Ct);
        YamuxStream second = await pair.Server.OpenStreamAsync(Ct);
        Assert.Equal(2u, first.Id);
        Assert.Equal(4u, second.Id);
        YamuxStream? accepted = await pair.Client.AcceptStreamAsync(Ct);
        Assert.Equal(2u, accepted?.Id);
    }

    [Fact]
    public async Task Write_MoreThanInitialWindow_ArrivesThroughWindowUpdates()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        byte[] data = StreamTestExtensions.Bytes(3 * 1024 * 1024 + 17);

        Task write = Task.Run(async () =>
        {
            await client.Output.WriteAsync(data, Ct);
            await client.CompleteOutputAsync();
        }, Ct);
        byte[] received = await server.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await write.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task Write_SpanAdvanceFlush_ArrivesInOrder()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        byte[] data = StreamTestExtensions.Bytes(700_000, seed: 5);

        Task write = Task.Run(async () =>
        {
            int offset = 0;
            int step = 1;
            while (offset < data.Length)
            {
                int n = Math.Min(step, data.Length - offset);
                data.AsSpan(offset, n).CopyTo(client.Output.GetSpan(n));
                client.Output.Advance(n);
                offset += n;
                step = step * 3 % 40_000 + 1;   // sizes from 1 byte to ~40 KB
                if (offset % 3 == 0)
                    await client.Output.FlushAsync(Ct);
            }
            await client.CompleteOutputAsync();
        }, Ct);
        byte[] received = await server.Input.ReadToEndAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        await write.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(data, received);
    }

    [Fact]
    public async Task Write_64MiBOnOneStream_Sha256Matches()
    {
        await using SessionPair pair = new();
        (YamuxStream client, YamuxStream server) = await pair.OpenAsync(Ct);
        const int total = 64 * 1024 * 1024;
        byte[] chunk = StreamTestExtensions.Bytes(256 * 1024, seed: 7);

        Task<byte[]> send = Task.Run(async () =>
        {
            using IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            int sent = 0;
            int i = 0;
            while (sent < total)
            {
                // Vary the chunk so a reordering bug would change the hash.
                chunk[i % chunk.Length] ^= (byte)i;
                int n = Math.Min(chunk.Length - (i % 1000), total - sent);
                hash.AppendData(chunk, 0, n);
                await client.Output.WriteAsync(chunk.AsMemory(0, n), Ct);
                sent += n;
                i++;
            }
            await client.CompleteOutputAsync();
            return hash.GetHashAndReset();
        }, Ct);

        using IncrementalHash received = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long count = 0;
        while (true)
        {
            ReadResult result = await server.Input.ReadAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                received.AppendData(segment.Span);
            count += result.Buffer.Length;
            server.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        byte[] expected = await send.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(total, count);
        Assert.Equal(expected, received.GetHashAndReset());
    }
}
