using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using CsCheck;
using Echo.Net.Noise;
using static Echo.Net.Tests.Noise.NoiseTestKit;

namespace Echo.Net.Tests.Noise;

public class NoiseSecureChannelTests
{
    private static readonly byte[] KeyAb = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] KeyBa = RandomNumberGenerator.GetBytes(32);

    /// <summary>A sender channel whose wire bytes are tapped before they reach a receiver channel.</summary>
    private sealed class TappedPair : IAsyncDisposable
    {
        private readonly Pipe _aToTap = new();
        private readonly Pipe _tapToB = new();
        private readonly Pipe _bToA = new();

        public TappedPair()
        {
            A = Channel(new Duplex(_bToA.Reader, _aToTap.Writer), KeyAb, KeyBa);
            B = Channel(new Duplex(_tapToB.Reader, _bToA.Writer), KeyBa, KeyAb);
            Recording = TapAsync(_aToTap.Reader, _tapToB.Writer);
        }

        public NoiseSecureChannel A { get; }
        public NoiseSecureChannel B { get; }
        public Task<byte[]> Recording { get; }

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
        }
    }

    [Fact]
    public async Task Writes_AnySize_SplitIntoBoundedFramesAndReassembleExactly()
    {
        await Gen.Select(Gen.Int[0, 1 << 20], Gen.Int[1, 200_000]).SampleAsync(async (total, piece) =>
        {
            byte[] data = RandomNumberGenerator.GetBytes(total);
            await using TappedPair pair = new();
            Task<byte[]> received = ReadToEndAsync(pair.B.Input);
            for (int offset = 0; offset < total; offset += piece)
                await pair.A.Output.WriteAsync(data.AsMemory(offset, Math.Min(piece, total - offset)), Token);
            await pair.A.Output.CompleteAsync();

            Assert.Equal(data, await received);
            byte[] recording = await pair.Recording.WaitAsync(Limit, Token);
            List<(int Offset, int Length)> frames = ParseFrames(recording);
            Assert.All(frames, f => Assert.InRange(f.Length - 2 - NoiseCipherState.TagLength, 0, NoiseSecureChannel.MaxPlaintextLength));
            Assert.Equal(total, frames.Sum(f => f.Length - 2 - NoiseCipherState.TagLength));
            Assert.Equal((ulong)frames.Count, pair.B.ReceiveNonce);
        }, iter: 25, threads: 1);
    }

    [Fact]
    public async Task Output_Completed_FlushesThenCompletesTheConnection()
    {
        Pipe toRemote = new();
        Pipe fromRemote = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(fromRemote.Reader, toRemote.Writer), KeyAb, KeyBa);
        await channel.Output.WriteAsync("last words"u8.ToArray(), Token);
        await channel.Output.CompleteAsync();

        byte[] wire = await ReadToEndAsync(toRemote.Reader);   // completes only if the channel completed the connection
        using NoiseCipherState receiver = Cipher(KeyAb);
        byte[] plaintext = new byte[wire.Length - 2 - NoiseCipherState.TagLength];
        Assert.True(receiver.TryDecryptWithAd([], wire.AsSpan(2), plaintext, out _));
        Assert.Equal("last words"u8.ToArray(), plaintext);
    }

    [Fact]
    public async Task Connection_CleanEnd_InputCompletesNormallyAfterTheData()
    {
        Pipe toLocal = new();
        Pipe toRemote = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, toRemote.Writer), KeyAb, KeyBa);
        using NoiseCipherState remote = Cipher(KeyBa);
        await toLocal.Writer.WriteAsync(Frame(remote, "bye"u8), Token);
        await toLocal.Writer.CompleteAsync();

        Assert.Equal("bye"u8.ToArray(), await ReadToEndAsync(channel.Input));
        // Our direction stays open until we complete it.
        await channel.Output.WriteAsync("still here"u8.ToArray(), Token);
        await channel.Output.CompleteAsync();
        await channel.Completion.WaitAsync(Limit, Token);
        Assert.Equal(2 + 10 + NoiseCipherState.TagLength, (await ReadToEndAsync(toRemote.Reader)).Length);
    }

    [Fact]
    public async Task EmptyFrames_AreAcceptedAndCountedAsMessages()
    {
        Pipe toLocal = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyAb, KeyBa);
        using NoiseCipherState remote = Cipher(KeyBa);
        await toLocal.Writer.WriteAsync((byte[])[.. Frame(remote, []), .. Frame(remote, "x"u8), .. Frame(remote, [])], Token);
        await toLocal.Writer.CompleteAsync();
        Assert.Equal("x"u8.ToArray(), await ReadToEndAsync(channel.Input));
        Assert.Equal(3UL, channel.ReceiveNonce);
    }

    /// <summary>
    /// Records a session, then for every byte position flips one bit and replays it frame by frame:
    /// the frames before the damaged one arrive intact, the damaged frame delivers nothing, Input
    /// faults with a protocol violation and the receive nonce stays at the damaged frame.
    /// </summary>
    [Fact]
    public async Task Session_BitFlippedAtEveryPosition_NoPlaintextFromTheBadFrameAndFaultOnFirstBadTag()
    {
        (byte[] recording, List<byte[]> plaintexts) = await RecordSessionAsync([0, 1, 7, 64, 100, 250, 333, 500]);
        List<(int Offset, int Length)> frames = ParseFrames(recording);
        Assert.True(recording.Length >= 1000, $"only {recording.Length} variants");

        for (int position = 0; position < recording.Length; position++)
        {
            byte[] mutated = (byte[])recording.Clone();
            mutated[position] ^= (byte)(1 << (position % 8));
            int bad = frames.FindIndex(f => position < f.Offset + f.Length);
            await ReplayDamagedAsync(mutated, frames, plaintexts, bad);
        }
    }

    [Fact]
    public async Task Session_FrameReplayedOrReordered_Faults()
    {
        (byte[] recording, List<byte[]> plaintexts) = await RecordSessionAsync([10, 20, 30]);
        List<(int Offset, int Length)> f = ParseFrames(recording);
        byte[] Bytes(int i) => recording.AsSpan(f[i].Offset, f[i].Length).ToArray();

        await ReplayDamagedAsync([.. Bytes(0), .. Bytes(0), .. Bytes(1)], [f[0], (f[0].Length, f[0].Length)], plaintexts, 1);
        await ReplayDamagedAsync([.. Bytes(1), .. Bytes(0)], [(0, f[1].Length)], plaintexts, 0);
    }

    [Fact]
    public async Task Session_TruncatedAtEveryPosition_DeliversWholeFramesOnly()
    {
        (byte[] recording, List<byte[]> plaintexts) = await RecordSessionAsync([3, 50, 0, 200]);
        List<(int Offset, int Length)> frames = ParseFrames(recording);
        for (int cut = 0; cut < recording.Length; cut++)
        {
            int whole = frames.Count(f => f.Offset + f.Length <= cut);
            byte[] expected = [.. plaintexts.Take(whole).SelectMany(p => p)];
            Pipe toLocal = new();
            await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyBa, KeyAb);
            await toLocal.Writer.WriteAsync(recording.AsMemory(0, cut), Token);
            await toLocal.Writer.CompleteAsync();
            if (frames.Any(f => f.Offset == cut) || cut == 0)
            {
                Assert.Equal(expected, await ReadToEndAsync(channel.Input));
            }
            else
            {
                await Assert.ThrowsAsync<UnexpectedEndException>(() => ReadToEndAsync(channel.Input));
                Assert.Equal((ulong)whole, channel.ReceiveNonce);
            }
        }
    }

    [Fact]
    public async Task Input_UnencryptedBytesThenEnd_Faults()
    {
        Pipe toLocal = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyAb, KeyBa);
        await toLocal.Writer.WriteAsync("\x13/multistream/1.0.0\n"u8.ToArray(), Token);   // reads as a 4911-byte frame
        await toLocal.Writer.CompleteAsync();
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => ReadToEndAsync(channel.Input));
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => channel.Completion.WaitAsync(Limit, Token));
        Assert.Equal(0UL, channel.ReceiveNonce);
    }

    [Fact]
    public async Task Input_UnencryptedBytesFillingAFrame_FaultsWithoutWaitingForTheEnd()
    {
        Pipe toLocal = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyAb, KeyBa);
        byte[] plaintext = [.. Enumerable.Repeat("/yamux/1.0.0\n"u8.ToArray(), 1000).SelectMany(b => b)];
        await toLocal.Writer.WriteAsync(plaintext, Token);
        ProtocolViolationException e = await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => ReadToEndAsync(channel.Input));
        Assert.Contains("failed authentication", e.Message);
        Assert.Equal(0UL, channel.ReceiveNonce);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    public async Task Input_FrameShorterThanTag_Faults(int length)
    {
        Pipe toLocal = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyAb, KeyBa);
        byte[] frame = new byte[2 + length];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)length);
        await toLocal.Writer.WriteAsync(frame, Token);
        ProtocolViolationException e = await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => ReadToEndAsync(channel.Input));
        Assert.Contains("shorter than", e.Message);
    }

    [Fact]
    public async Task Input_BadTag_FaultsBothDirectionsAndClosesTheConnection()
    {
        Pipe toLocal = new();
        Pipe toRemote = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, toRemote.Writer), KeyAb, KeyBa);
        using NoiseCipherState wrongKey = Cipher(KeyAb);
        await toLocal.Writer.WriteAsync(Frame(wrongKey, "forged"u8), Token);

        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => channel.Completion.WaitAsync(Limit, Token));
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => ReadToEndAsync(channel.Input));
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(async () =>
        {
            await channel.Output.WriteAsync(new byte[10], Token);
            await channel.Output.WriteAsync(new byte[10], Token);
        });
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => ReadToEndAsync(toRemote.Reader));
    }

    [Fact]
    public async Task SendNonce_ReachesReservedValue_SendsWhatItCanThenCloses()
    {
        Pipe toRemote = new();
        Pipe fromRemote = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(fromRemote.Reader, toRemote.Writer), KeyAb, KeyBa,
            sendNonce: NoiseCipherState.MaxNonce - 1);
        byte[] data = RandomNumberGenerator.GetBytes(100_000);   // two frames, only one nonce left
        Task<byte[]> remoteReceives = ReadToEndAsync(toRemote.Reader);
        await channel.Output.WriteAsync(data, Token);

        await Assert.ThrowsAsync<NoiseNonceExhaustedException>(() => channel.Completion.WaitAsync(Limit, Token));
        byte[] wire = await remoteReceives;   // a clean end after the one frame
        List<(int Offset, int Length)> frames = ParseFrames(wire);
        Assert.Single(frames);
        using NoiseCipherState receiver = Cipher(KeyAb, NoiseCipherState.MaxNonce - 1);
        byte[] plaintext = new byte[frames[0].Length - 2 - NoiseCipherState.TagLength];
        Assert.True(receiver.TryDecryptWithAd([], wire.AsSpan(2), plaintext, out _));
        Assert.Equal(data.AsSpan(0, plaintext.Length).ToArray(), plaintext);
        Assert.Equal(NoiseCipherState.MaxNonce, channel.SendNonce);
    }

    [Fact]
    public async Task ReceiveNonce_ReachesReservedValue_FurtherFramesFault()
    {
        Pipe toLocal = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyAb, KeyBa,
            receiveNonce: NoiseCipherState.MaxNonce - 1);
        using NoiseCipherState remote = Cipher(KeyBa, NoiseCipherState.MaxNonce - 1);
        await toLocal.Writer.WriteAsync(Frame(remote, "last"u8), Token);
        Assert.Equal("last"u8.ToArray(), await ReadExactlyAsync(channel.Input, 4));

        remote.SetNonce(NoiseCipherState.MaxNonce - 1);   // whatever the remote does, nothing more is accepted
        await toLocal.Writer.WriteAsync(Frame(remote, "more"u8), Token);
        ProtocolViolationException e = await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => ReadToEndAsync(channel.Input));
        Assert.Contains("2^64-1", e.Message);
    }

    [Fact]
    public async Task Dispose_IdleChannel_StopsPumpsAndClosesTheConnection()
    {
        Pipe toLocal = new();
        Pipe toRemote = new();
        NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, toRemote.Writer), KeyAb, KeyBa);
        await channel.DisposeAsync().AsTask().WaitAsync(Limit, Token);
        Assert.True(channel.Completion.IsCompletedSuccessfully);
        Assert.Empty(await ReadToEndAsync(toRemote.Reader));
        Assert.Empty(await ReadToEndAsync(channel.Input));
    }

    [Fact]
    public async Task Dispose_WhileBlockedOnABackedUpConnection_Returns()
    {
        Pipe toRemote = new(new PipeOptions(pauseWriterThreshold: 1024, resumeWriterThreshold: 512));
        NoiseSecureChannel channel = Channel(new Duplex(new Pipe().Reader, toRemote.Writer), KeyAb, KeyBa);
        await channel.Output.WriteAsync(new byte[100_000], Token);   // nobody reads toRemote
        await channel.DisposeAsync().AsTask().WaitAsync(Limit, Token);
        Assert.True(channel.Completion.IsCompleted);
    }

    /// <summary>Sends one flushed write per size through a real channel and returns the wire bytes.</summary>
    private static async Task<(byte[] Recording, List<byte[]> Plaintexts)> RecordSessionAsync(int[] sizes)
    {
        Pipe toRemote = new();
        await using NoiseSecureChannel sender = Channel(new Duplex(new Pipe().Reader, toRemote.Writer), KeyAb, KeyBa);
        List<byte[]> plaintexts = [];
        List<byte> recording = [];
        foreach (int size in sizes)
        {
            byte[] data = RandomNumberGenerator.GetBytes(size);
            plaintexts.Add(data);
            await sender.Output.WriteAsync(data, Token);
            if (size > 0)
                recording.AddRange(await ReadExactlyAsync(toRemote.Reader, 2 + size + NoiseCipherState.TagLength));
        }
        // A flush with nothing written sends no frame: keep only frames that exist.
        return ([.. recording], [.. plaintexts.Where(p => p.Length > 0)]);
    }

    /// <summary>
    /// Feeds the frames before <paramref name="bad"/> one at a time (each must arrive whole), then the
    /// rest at once: Input must fault without handing out a single byte more.
    /// </summary>
    private static async Task ReplayDamagedAsync(byte[] stream, List<(int Offset, int Length)> goodFrames, List<byte[]> plaintexts,
        int bad)
    {
        Pipe toLocal = new();
        await using NoiseSecureChannel channel = Channel(new Duplex(toLocal.Reader, new Pipe().Writer), KeyBa, KeyAb);
        for (int i = 0; i < bad; i++)
        {
            await toLocal.Writer.WriteAsync(stream.AsMemory(goodFrames[i].Offset, goodFrames[i].Length), Token);
            Assert.Equal(plaintexts[i], await ReadExactlyAsync(channel.Input, plaintexts[i].Length));
        }
        int rest = bad < goodFrames.Count ? goodFrames[bad].Offset : stream.Length;
        await toLocal.Writer.WriteAsync(stream.AsMemory(rest), Token);
        await toLocal.Writer.CompleteAsync();

        ReadResult result = default;
        Exception? fault = await Record.ExceptionAsync(async () =>
            result = await channel.Input.ReadAsync(Token).AsTask().WaitAsync(Limit, Token));
        Assert.True(fault is ProtocolViolationException, $"frame {bad}: expected a protocol violation, got {fault?.GetType().Name ?? $"{result.Buffer.Length} bytes"}");
        Assert.Equal((ulong)bad, channel.ReceiveNonce);
        await Assert.ThrowsAnyAsync<ProtocolViolationException>(() => channel.Completion.WaitAsync(Limit, Token));
    }
}
