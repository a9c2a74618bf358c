using System.IO.Pipelines;
using CsCheck;
using Echo.Net.Identity;
using Echo.Net.Noise;
using Microsoft.Extensions.Logging.Abstractions;
using static Echo.Net.Tests.Noise.NoiseTestKit;

namespace Echo.Net.Tests.Noise;

public class NoiseHandshakeTests
{
    private static readonly KeyPair Alice = KeyPair.Generate();
    private static readonly KeyPair Bob = KeyPair.Generate();

    [Fact]
    public async Task Handshake_BothSides_LearnEachOthersIdentityAndExchangeData()
    {
        (NoiseSecureChannel initiator, NoiseSecureChannel responder) = await HandshakeAsync(Alice, Bob);
        await using (initiator)
        await using (responder)
        {
            Assert.Equal(Bob.PeerId, initiator.RemotePeer);
            Assert.Equal(Alice.PeerId, responder.RemotePeer);
            Assert.Equal(Bob.PublicKey, initiator.RemotePublicKey);
            Assert.Equal(Alice.PublicKey, responder.RemotePublicKey);

            await initiator.Output.WriteAsync("hello bob"u8.ToArray(), Token);
            await responder.Output.WriteAsync("hello alice"u8.ToArray(), Token);
            Assert.Equal("hello bob"u8.ToArray(), await ReadExactlyAsync(responder.Input, 9));
            Assert.Equal("hello alice"u8.ToArray(), await ReadExactlyAsync(initiator.Input, 11));
        }
    }

    [Fact]
    public async Task Handshake_WithoutExpectedPeer_Succeeds()
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        Task<NoiseSecureChannel> responding = NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token);
        await using NoiseSecureChannel initiator = await NoiseHandshake.InitiateAsync(a, Alice, null, NullLogger.Instance, Token)
            .WaitAsync(Limit, Token);
        await using NoiseSecureChannel responder = await responding.WaitAsync(Limit, Token);
        Assert.Equal(Bob.PeerId, initiator.RemotePeer);
    }

    [Fact]
    public async Task Handshake_MessageSizes_MatchTheWireNotes()
    {
        // msg1 = 32, msg2 = 32 + 48 + 104 + 16, msg3 = 48 + 104 + 16 for Ed25519 identities without extensions.
        Pipe toResponder = new();
        Pipe toInitiator = new();
        Pipe responderIn = new();
        Task<byte[]> tap = TapAsync(toResponder.Reader, responderIn.Writer);
        Task<NoiseSecureChannel> responding = NoiseHandshake.RespondAsync(new Duplex(responderIn.Reader, toInitiator.Writer), Bob,
            NullLogger.Instance, Token);
        NoiseSecureChannel initiator = await NoiseHandshake.InitiateAsync(new Duplex(toInitiator.Reader, toResponder.Writer), Alice,
            Bob.PeerId, NullLogger.Instance, Token).WaitAsync(Limit, Token);
        NoiseSecureChannel responder = await responding.WaitAsync(Limit, Token);
        await initiator.Output.CompleteAsync();
        byte[] recording = await tap.WaitAsync(Limit, Token);
        Assert.Equal([(0, 2 + 32), (34, 2 + 48 + 104 + 16)], ParseFrames(recording));
        await initiator.DisposeAsync();
        await responder.DisposeAsync();
    }

    [Fact]
    public async Task Initiate_DifferentPeerAnswers_ThrowsMismatchBeforeMessage3()
    {
        KeyPair expected = KeyPair.Generate();
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        Task<NoiseSecureChannel> responding = NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token);

        PeerIdMismatchException e = await Assert.ThrowsAsync<PeerIdMismatchException>(() =>
            NoiseHandshake.InitiateAsync(a, Alice, expected.PeerId, NullLogger.Instance, Token).WaitAsync(Limit, Token));

        Assert.Equal(expected.PeerId, e.Expected);
        Assert.Equal(Bob.PeerId, e.Actual);
        Assert.Contains($"expected {expected.PeerId}, got {Bob.PeerId}", e.Message);
        // The host closes the connection: the responder never saw msg3 (and so never learnt our identity).
        await a.Output.CompleteAsync();
        await Assert.ThrowsAsync<UnexpectedEndException>(() => responding.WaitAsync(Limit, Token));
    }

    [Theory]
    [InlineData(Tamper.BadSignature)]
    [InlineData(Tamper.SignatureOverOtherStaticKey)]
    [InlineData(Tamper.ClaimsOtherIdentity)]
    [InlineData(Tamper.MissingPayload)]
    [InlineData(Tamper.MissingSignature)]
    [InlineData(Tamper.UnsupportedKeyType)]
    [InlineData(Tamper.MalformedPayload)]
    [InlineData(Tamper.MalformedIdentityKey)]
    public async Task Initiate_TamperedResponder_AbortsBeforeMessage3AndLeavesLaterBytesUnread(Tamper tamper)
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        byte[] trailing = "early bytes the initiator must not touch"u8.ToArray();
        Task<NoiseHandshakeState> bad = new BadNoisePeer(Bob, tamper).RespondAsync(b, trailing, Token);

        await Assert.ThrowsAsync<NoiseHandshakeException>(() =>
            NoiseHandshake.InitiateAsync(a, Alice, Bob.PeerId, NullLogger.Instance, Token).WaitAsync(Limit, Token));

        using NoiseHandshakeState state = await bad.WaitAsync(Limit, Token);
        Assert.Equal(trailing, Pending(a.Input));   // nothing after msg2 was consumed
        Assert.Empty(Pending(b.Input));             // and msg3 was never sent
    }

    [Fact]
    public async Task Initiate_HonestButDifferentResponder_ThrowsMismatchAndSendsNothingMore()
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        Task<NoiseHandshakeState> other = new BadNoisePeer(Bob, Tamper.None).RespondAsync(b, [], Token);
        await Assert.ThrowsAsync<PeerIdMismatchException>(() =>
            NoiseHandshake.InitiateAsync(a, Alice, Alice.PeerId, NullLogger.Instance, Token).WaitAsync(Limit, Token));
        using NoiseHandshakeState state = await other.WaitAsync(Limit, Token);
        Assert.Empty(Pending(b.Input));
    }

    [Theory]
    [InlineData(Tamper.BadSignature)]
    [InlineData(Tamper.SignatureOverOtherStaticKey)]
    [InlineData(Tamper.ClaimsOtherIdentity)]
    [InlineData(Tamper.MissingPayload)]
    [InlineData(Tamper.MissingSignature)]
    [InlineData(Tamper.UnsupportedKeyType)]
    [InlineData(Tamper.MalformedPayload)]
    [InlineData(Tamper.MalformedIdentityKey)]
    public async Task Respond_TamperedInitiator_AbortsAndLeavesEarlyDataUnread(Tamper tamper)
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        byte[]? early = null;
        Task responding = NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token);
        await new BadNoisePeer(Alice, tamper).InitiateAsync(a, send => early = Frame(send, "early data"u8), Token)
            .WaitAsync(Limit, Token);

        await Assert.ThrowsAsync<NoiseHandshakeException>(() => responding.WaitAsync(Limit, Token));
        Assert.Equal(early, Pending(b.Input));
    }

    [Fact]
    public async Task Respond_InitiatorPipelinesDataAfterMessage3_ChannelDeliversIt()
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        Task<NoiseSecureChannel> responding = NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token);
        await new BadNoisePeer(Alice, Tamper.None)
            .InitiateAsync(a, send => [.. Frame(send, "first"u8), .. Frame(send, "second"u8)], Token).WaitAsync(Limit, Token);

        await using NoiseSecureChannel responder = await responding.WaitAsync(Limit, Token);
        Assert.Equal(Alice.PeerId, responder.RemotePeer);
        Assert.Equal("firstsecond"u8.ToArray(), await ReadExactlyAsync(responder.Input, 11));
    }

    [Fact]
    public async Task Respond_CutOffInsideMessage_ThrowsUnexpectedEnd()
    {
        (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
        await a.Output.WriteAsync(new byte[] { 0xea, 0x60, 1, 2, 3 }, Token);   // announces 60000 bytes, sends 3
        await a.Output.CompleteAsync();
        await Assert.ThrowsAsync<UnexpectedEndException>(() =>
            NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token).WaitAsync(Limit, Token));
    }

    [Fact]
    public async Task Respond_Canceled_ThrowsOperationCanceled()
    {
        (_, IDuplexPipe b) = TestPipes.CreatePipePair();
        using CancellationTokenSource cts = CancellationTokenSource.CreateLinkedTokenSource(Token);
        Task responding = NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => responding.WaitAsync(Limit, Token));
    }

    [Fact]
    public async Task Respond_RandomBytes_OnlyProtocolViolations()
    {
        await Gen.Byte.Array[0, 300].SampleAsync(async bytes =>
        {
            (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
            await a.Output.WriteAsync(bytes, Token);
            await a.Output.CompleteAsync();
            await Assert.ThrowsAnyAsync<ProtocolViolationException>(() =>
                NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token).WaitAsync(Limit, Token));
        }, iter: 300);
    }

    [Fact]
    public async Task Respond_RandomWellFramedMessages_OnlyProtocolViolations()
    {
        // Correct length prefixes, so the bodies reach the Noise message parser (msg1) and msg3's checks.
        await Gen.Byte.Array[0, 300].Array[1, 3].SampleAsync(async bodies =>
        {
            (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
            foreach (byte[] body in bodies)
                await NoiseHandshake.WriteMessageAsync(a.Output, body, Token);
            await a.Output.CompleteAsync();
            await Assert.ThrowsAnyAsync<ProtocolViolationException>(() =>
                NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token).WaitAsync(Limit, Token));
        }, iter: 300);
    }

    [Fact]
    public async Task Initiate_RandomMessage2_OnlyProtocolViolations()
    {
        await Gen.Byte.Array[0, 300].SampleAsync(async bytes =>
        {
            (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
            await b.Output.WriteAsync(bytes, Token);
            await b.Output.CompleteAsync();
            await Assert.ThrowsAnyAsync<ProtocolViolationException>(() =>
                NoiseHandshake.InitiateAsync(a, Alice, null, NullLogger.Instance, Token).WaitAsync(Limit, Token));
        }, iter: 300);
    }

    [Fact]
    public async Task Respond_MutatedInitiatorTranscript_OnlyProtocolViolations()
    {
        // A valid msg1 || msg3 from an honest initiator, with one byte changed.
        byte[] transcript = await RecordInitiatorTranscriptAsync();
        await Gen.Select(Gen.Int[0, transcript.Length - 1], Gen.Byte[1, 255]).SampleAsync(async (position, mask) =>
        {
            byte[] mutated = (byte[])transcript.Clone();
            mutated[position] ^= mask;
            (IDuplexPipe a, IDuplexPipe b) = TestPipes.CreatePipePair();
            await a.Output.WriteAsync(mutated, Token);
            await a.Output.CompleteAsync();
            await Assert.ThrowsAnyAsync<ProtocolViolationException>(() =>
                NoiseHandshake.RespondAsync(b, Bob, NullLogger.Instance, Token).WaitAsync(Limit, Token));
        }, iter: 300);
    }

    private static async Task<byte[]> RecordInitiatorTranscriptAsync()
    {
        Pipe toResponder = new();
        Pipe toInitiator = new();
        Pipe responderIn = new();
        Task<byte[]> tap = TapAsync(toResponder.Reader, responderIn.Writer);
        Task<NoiseSecureChannel> responding = NoiseHandshake.RespondAsync(new Duplex(responderIn.Reader, toInitiator.Writer), Bob,
            NullLogger.Instance, Token);
        await using NoiseSecureChannel initiator = await NoiseHandshake.InitiateAsync(
            new Duplex(toInitiator.Reader, toResponder.Writer), Alice, null, NullLogger.Instance, Token).WaitAsync(Limit, Token);
        await using NoiseSecureChannel responder = await responding.WaitAsync(Limit, Token);
        await initiator.Output.CompleteAsync();
        return await tap.WaitAsync(Limit, Token);
    }
}
