using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Identity;
using Echo.Net.Noise;
using Microsoft.Extensions.Logging.Abstractions;

namespace Echo.Net.Tests.Noise;

/// <summary>Shared plumbing for the Noise tests: channel pairs, taps, readers.</summary>
internal static class NoiseTestKit
{
    public static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);

    /// <summary>A fixed remote identity for channels built without a handshake.</summary>
    public static readonly KeyPair Remote = KeyPair.FromSeed(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());

    public static CancellationToken Token => TestContext.Current.CancellationToken;

    /// <summary>Runs a real handshake over a fresh pipe pair.</summary>
    public static async Task<(NoiseSecureChannel Initiator, NoiseSecureChannel Responder)> HandshakeAsync(KeyPair initiator,
        KeyPair responder, PeerId? expected = null)
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        Task<NoiseSecureChannel> responding = NoiseHandshake.RespondAsync(b, responder, NullLogger.Instance, Token);
        NoiseSecureChannel i = await NoiseHandshake.InitiateAsync(a, initiator, expected ?? responder.PeerId, NullLogger.Instance, Token)
            .WaitAsync(Limit, Token);
        NoiseSecureChannel r = await responding.WaitAsync(Limit, Token);
        return (i, r);
    }

    public static NoiseCipherState Cipher(byte[] key, ulong nonce = 0)
    {
        NoiseCipherState state = new();
        state.InitializeKey(key);
        state.SetNonce(nonce);
        return state;
    }

    /// <summary>A channel over <paramref name="connection"/> with known keys (no handshake).</summary>
    public static NoiseSecureChannel Channel(IDuplexPipe connection, byte[] sendKey, byte[] receiveKey, ulong sendNonce = 0,
        ulong receiveNonce = 0) =>
        new(connection, Cipher(sendKey, sendNonce), Cipher(receiveKey, receiveNonce), Remote.PublicKey, NullLogger.Instance);

    /// <summary>Encrypts one transport frame (length prefix included) the way a correct peer would.</summary>
    public static byte[] Frame(NoiseCipherState sender, ReadOnlySpan<byte> plaintext)
    {
        byte[] frame = new byte[2 + plaintext.Length + NoiseCipherState.TagLength];
        BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)(plaintext.Length + NoiseCipherState.TagLength));
        sender.EncryptWithAd([], plaintext, frame.AsSpan(2));
        return frame;
    }

    /// <summary>Splits a recorded byte stream into its frames' (offset, total length) pairs.</summary>
    public static List<(int Offset, int Length)> ParseFrames(ReadOnlySpan<byte> recording)
    {
        List<(int, int)> frames = [];
        int offset = 0;
        while (offset < recording.Length)
        {
            int length = 2 + BinaryPrimitives.ReadUInt16BigEndian(recording[offset..]);
            frames.Add((offset, length));
            offset += length;
        }
        Assert.Equal(recording.Length, offset);
        return frames;
    }

    /// <summary>Reads until the writer completes; rethrows what it completed with.</summary>
    public static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        ArrayBufferWriter<byte> all = new();
        while (true)
        {
            ReadResult result = await reader.ReadAsync(Token).AsTask().WaitAsync(Limit, Token);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                all.Write(segment.Span);
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                return all.WrittenSpan.ToArray();
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes (or fails the test on an early end).</summary>
    public static async Task<byte[]> ReadExactlyAsync(PipeReader reader, int count)
    {
        if (count == 0)
            return [];
        byte[]? bytes = await reader.ReadExactlyAsync(count, "test", Token).AsTask().WaitAsync(Limit, Token);
        Assert.NotNull(bytes);
        return bytes;
    }

    /// <summary>What a pipe holds right now without waiting (empty when nothing is buffered).</summary>
    public static byte[] Pending(PipeReader reader)
    {
        if (!reader.TryRead(out ReadResult result))
            return [];
        byte[] bytes = result.Buffer.ToArray();
        reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        return bytes;
    }

    /// <summary>
    /// Copies everything from <paramref name="from"/> to <paramref name="to"/>, keeping a copy, and
    /// completes <paramref name="to"/> when <paramref name="from"/> ends.
    /// </summary>
    public static async Task<byte[]> TapAsync(PipeReader from, PipeWriter to)
    {
        ArrayBufferWriter<byte> recording = new();
        while (true)
        {
            ReadResult result = await from.ReadAsync(Token);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                recording.Write(segment.Span);
                await to.WriteAsync(segment, Token);
            }
            from.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                await to.CompleteAsync();
                return recording.WrittenSpan.ToArray();
            }
        }
    }

    public sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }
}
