using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using Echo.Net.Identity;
using Echo.Net.Noise;
using Echo.Net.Yamux;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Bench;

/// <summary>
/// One layer at a time over in-memory pipes, no sockets: 64 MiB through a yamux stream, and
/// through a Noise channel pair. Shows what each layer costs on its own; the socket figures are in
/// the end-to-end run.
/// </summary>
[MemoryDiagnoser]
public class InMemoryStackBenchmarks
{
    private const int Total = 64 << 20;
    private static readonly PipeOptions Large = new(pauseWriterThreshold: 4 << 20, resumeWriterThreshold: 2 << 20,
        minimumSegmentSize: 64 * 1024, useSynchronizationContext: false);

    private readonly byte[] _chunk = new byte[256 * 1024];

    [Benchmark(Description = "yamux, one stream, 64 MiB")]
    public async Task Yamux()
    {
        (IDuplexPipe a, IDuplexPipe b) = PipePair();
        await using YamuxSession client = new(a, isClient: true, new YamuxOptions(), TimeProvider.System, NullLogger.Instance);
        await using YamuxSession server = new(b, isClient: false, new YamuxOptions(), TimeProvider.System, NullLogger.Instance);
        client.Start();
        server.Start();
        YamuxStream sender = await client.OpenStreamAsync(CancellationToken.None);
        Task<long> receive = Task.Run(async () => await DrainAsync((await server.AcceptStreamAsync(CancellationToken.None))!.Input));
        await SendAsync(sender.Output);
        await sender.CompleteOutputAsync();
        await receive;
    }

    [Benchmark(Description = "Noise channel, 64 MiB")]
    public async Task Noise()
    {
        (IDuplexPipe a, IDuplexPipe b) = PipePair();
        using KeyPair ka = KeyPair.Generate(), kb = KeyPair.Generate();
        Task<NoiseSecureChannel> responder = NoiseHandshake.RespondAsync(b, kb, NullLogger.Instance, CancellationToken.None);
        await using NoiseSecureChannel initiator = await NoiseHandshake.InitiateAsync(a, ka, kb.PeerId, NullLogger.Instance, CancellationToken.None);
        await using NoiseSecureChannel other = await responder;
        Task<long> receive = Task.Run(() => DrainAsync(other.Input));
        await SendAsync(initiator.Output);
        await initiator.Output.CompleteAsync();
        await receive;
    }

    private async Task SendAsync(PipeWriter output)
    {
        for (int sent = 0; sent < Total; sent += _chunk.Length)
            await output.WriteAsync(_chunk);
    }

    private static async Task<long> DrainAsync(PipeReader input)
    {
        long total = 0;
        while (true)
        {
            ReadResult result = await input.ReadAsync();
            total += result.Buffer.Length;
            input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return total;
        }
    }

    private static (IDuplexPipe, IDuplexPipe) PipePair()
    {
        Pipe ab = new(Large), ba = new(Large);
        return (new Duplex(ba.Reader, ab.Writer), new Duplex(ab.Reader, ba.Writer));
    }

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
