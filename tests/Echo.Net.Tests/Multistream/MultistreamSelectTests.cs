using System.Buffers;
using System.IO.Pipelines;
using Echo.Net.Framing;
using Echo.Net.Multistream;

namespace Echo.Net.Tests.Multistream;

public class MultistreamSelectTests
{
    // Vectors from the multistream-select README and the libp2p connections spec.
    private const string Header = "132f6d756c746973747265616d2f312e302e300a";
    private const string Na = "036e610a";
    private const string Ls = "036c730a";
    private const string Noise = "072f6e6f6973650a";
    private const string Yamux = "0d2f79616d75782f312e302e300a";
    private const string Tls = "0b2f746c732f312e302e300a";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("/multistream/1.0.0", Header)]
    [InlineData("na", Na)]
    [InlineData("ls", Ls)]
    [InlineData("/noise", Noise)]
    [InlineData("/yamux/1.0.0", Yamux)]
    [InlineData("/tls/1.0.0", Tls)]
    public void EncodeMessage_SpecVector_MatchesBytes(string text, string hex) =>
        Assert.Equal(hex, Convert.ToHexStringLower(MultistreamSelect.EncodeMessage(text)));

    [Theory]
    [InlineData("/multistream/1.0.0", Header)]
    [InlineData("na", Na)]
    [InlineData("/noise", Noise)]
    [InlineData("/yamux/1.0.0", Yamux)]
    public void TryReadMessage_SpecVector_DecodesTextAndConsumesIt(string text, string hex)
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString(hex + "ab"));
        Assert.True(MultistreamSelect.TryReadMessage(ref buffer, out string? decoded));
        Assert.Equal(text, decoded);
        Assert.Equal([0xab], buffer.ToArray());
    }

    [Theory]
    [InlineData("")]
    [InlineData("07")]
    [InlineData("072f6e6f697365")]
    public void TryReadMessage_Partial_NeedsMoreAndLeavesBufferAlone(string hex)
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString(hex));
        Assert.False(MultistreamSelect.TryReadMessage(ref buffer, out _));
        Assert.Equal(hex.Length / 2, buffer.Length);
    }

    [Theory]
    [InlineData("00")]               // empty: no newline
    [InlineData("022f6e")]           // "/n" without the newline
    [InlineData("03fffe0a")]         // not UTF-8
    [InlineData("04c3280a0a")]       // invalid UTF-8 continuation
    [InlineData("81000a")]           // non-minimal length prefix
    public void TryReadMessage_Malformed_ThrowsViolation(string hex)
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString(hex));
        Assert.Throws<ProtocolViolationException>(() => MultistreamSelect.TryReadMessage(ref buffer, out _));
    }

    [Theory]
    [InlineData("ffff03", 65_535UL)]
    [InlineData("8108", 1025UL)]
    [InlineData("ffffffffffffffff7f", (ulong)long.MaxValue)]
    public void TryReadMessage_OversizedPrefix_ThrowsBeforeAllocating(string hex, ulong announced)
    {
        ReadOnlySequence<byte> buffer = new(Convert.FromHexString(hex + "2f2f2f"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        OversizedMessageException e = Assert.Throws<OversizedMessageException>(
            () => MultistreamSelect.TryReadMessage(ref buffer, out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4096);
        Assert.Equal(announced, e.Length);
        Assert.Equal(MultistreamSelect.MaxMessageLength, e.Limit);
    }

    [Fact]
    public void TryReadMessage_ExactlyMaxLength_Accepted()
    {
        string id = "/" + new string('a', MultistreamSelect.MaxMessageLength - 2);
        ReadOnlySequence<byte> buffer = new(MultistreamSelect.EncodeMessage(id));
        Assert.True(MultistreamSelect.TryReadMessage(ref buffer, out string? decoded));
        Assert.Equal(id, decoded);
    }

    [Fact]
    public async Task SelectAndListen_FirstProposalSupported_BothAgree()
    {
        (IDuplexPipe initiator, IDuplexPipe responder) = TestPipes.CreatePipePair();
        Task<string> listen = MultistreamSelect.ListenAsync(responder, p => p == "/noise", Ct);
        string selected = await MultistreamSelect.SelectAsync(initiator, ["/noise"], Ct).WaitAsync(Timeout, Ct);
        Assert.Equal("/noise", selected);
        Assert.Equal("/noise", await listen.WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task SelectAndListen_SecondProposalSupported_SkipsTheFirst()
    {
        (IDuplexPipe initiator, IDuplexPipe responder) = TestPipes.CreatePipePair();
        Task<string> listen = MultistreamSelect.ListenAsync(responder, p => p is "/noise" or "/other", Ct);
        string selected = await MultistreamSelect.SelectAsync(initiator, ["/tls/1.0.0", "/noise", "/other"], Ct)
            .WaitAsync(Timeout, Ct);
        Assert.Equal("/noise", selected);
        Assert.Equal("/noise", await listen.WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task SelectAndListen_NothingInCommon_BothReportWhatWasProposed()
    {
        (IDuplexPipe initiator, IDuplexPipe responder) = TestPipes.CreatePipePair();
        Task<string> listen = MultistreamSelect.ListenAsync(responder, p => p == "/noise", Ct);

        ProtocolNotSupportedException selectError = await Assert.ThrowsAsync<ProtocolNotSupportedException>(() =>
            MultistreamSelect.SelectAsync(initiator, ["/tls/1.0.0", "/quic"], Ct).WaitAsync(Timeout, Ct));
        Assert.Equal(["/tls/1.0.0", "/quic"], selectError.Protocols);
        Assert.Contains("/quic", selectError.Message);

        await initiator.Output.CompleteAsync();   // the initiator gives up
        ProtocolNotSupportedException listenError = await Assert.ThrowsAsync<ProtocolNotSupportedException>(() =>
            listen.WaitAsync(Timeout, Ct));
        Assert.Equal(["/tls/1.0.0", "/quic"], listenError.Protocols);
        Assert.IsType<UnexpectedEndException>(listenError.InnerException);
    }

    [Fact]
    public async Task Listen_GoDialerSequence_RefusesTlsThenAcceptsNoise()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Header + Tls), Ct);
        Task<string> listen = MultistreamSelect.ListenAsync(local, p => p == "/noise", Ct);

        Assert.Equal(Header + Na, await ReadHexAsync(remote.Input, (Header + Na).Length / 2));
        await remote.Output.WriteAsync(Convert.FromHexString(Noise), Ct);
        Assert.Equal("/noise", await listen.WaitAsync(Timeout, Ct));
        Assert.Equal(Noise, await ReadHexAsync(remote.Input, Noise.Length / 2));
    }

    [Fact]
    public async Task Listen_PipelinedProposalsThenLazyData_DataReachesNextReaderUnchanged()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        const string NoiseMessage1 = "0020" + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        await remote.Output.WriteAsync(Convert.FromHexString(Header + Tls + Ls + Noise + NoiseMessage1), Ct);

        Assert.Equal("/noise", await MultistreamSelect.ListenAsync(local, p => p == "/noise", Ct).WaitAsync(Timeout, Ct));

        Assert.Equal(Header + Na + Na + Noise, await ReadHexAsync(remote.Input, (Header + Na + Na + Noise).Length / 2));
        // No further write and no completion: the bytes already buffered must wake this read.
        ReadResult next = await local.Input.ReadAsync(Ct).AsTask().WaitAsync(Timeout, Ct);
        Assert.Equal(NoiseMessage1, Convert.ToHexStringLower(next.Buffer.ToArray()));
        local.Input.AdvanceTo(next.Buffer.End);
    }

    [Fact]
    public async Task Select_DataAfterEcho_StaysInPipeForNextReader()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Header + Noise + "0a0b0c"), Ct);

        Assert.Equal("/noise", await MultistreamSelect.SelectAsync(local, ["/noise"], Ct).WaitAsync(Timeout, Ct));

        ReadResult next = await local.Input.ReadAsync(Ct).AsTask().WaitAsync(Timeout, Ct);
        Assert.Equal("0a0b0c", Convert.ToHexStringLower(next.Buffer.ToArray()));
        local.Input.AdvanceTo(next.Buffer.End);
    }

    [Fact]
    public async Task Select_HeaderAndFirstProposal_SentInOneFlushBeforeAnyReply()
    {
        (IDuplexPipe remote, IDuplexPipe pipe) = TestPipes.CreatePipePair();
        CountingWriter output = new(pipe.Output);
        Task<string> select = MultistreamSelect.SelectAsync(new Duplex(pipe.Input, output), ["/tls/1.0.0", "/noise"], Ct);

        Assert.Equal(Header + Tls, await ReadHexAsync(remote.Input, (Header + Tls).Length / 2));
        Assert.Equal(1, output.Flushes);

        await remote.Output.WriteAsync(Convert.FromHexString(Header + Na), Ct);
        Assert.Equal(Noise, await ReadHexAsync(remote.Input, Noise.Length / 2));
        await remote.Output.WriteAsync(Convert.FromHexString(Noise), Ct);
        Assert.Equal("/noise", await select.WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task Listen_WrongHeader_ThrowsViolation()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Noise + Noise), Ct);
        await Assert.ThrowsAsync<ProtocolViolationException>(() =>
            MultistreamSelect.ListenAsync(local, _ => true, Ct).WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task Select_WrongHeader_ThrowsViolation()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Noise + Noise), Ct);
        await Assert.ThrowsAsync<ProtocolViolationException>(() =>
            MultistreamSelect.SelectAsync(local, ["/noise"], Ct).WaitAsync(Timeout, Ct));
    }

    [Theory]
    [InlineData(Yamux)]             // an echo of something we never proposed
    [InlineData(Ls)]
    [InlineData(Header)]
    [InlineData("022f6e")]          // no newline
    public async Task Select_UnexpectedReply_ThrowsViolation(string reply)
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Header + reply), Ct);
        await Assert.ThrowsAsync<ProtocolViolationException>(() =>
            MultistreamSelect.SelectAsync(local, ["/noise"], Ct).WaitAsync(Timeout, Ct));
    }

    [Theory]
    [InlineData("036e6f0a")]        // "no": not a protocol id
    [InlineData("010a")]            // empty protocol id
    [InlineData("072f6e6f69736520")] // no newline
    [InlineData("04ff2f610a")]      // not UTF-8
    public async Task Listen_MalformedFirstProposal_ThrowsViolation(string proposal)
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Header + proposal), Ct);
        await Assert.ThrowsAsync<ProtocolViolationException>(() =>
            MultistreamSelect.ListenAsync(local, _ => true, Ct).WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task Listen_OversizedFirstProposal_ThrowsOversized()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Header + "ffff03"), Ct);
        OversizedMessageException e = await Assert.ThrowsAsync<OversizedMessageException>(() =>
            MultistreamSelect.ListenAsync(local, _ => true, Ct).WaitAsync(Timeout, Ct));
        Assert.Equal(65_535UL, e.Length);
    }

    [Fact]
    public async Task Select_OversizedReply_ThrowsOversized()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(Header + "ffff03"), Ct);
        await Assert.ThrowsAsync<OversizedMessageException>(() =>
            MultistreamSelect.SelectAsync(local, ["/noise"], Ct).WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task Listen_GarbageAfterNa_FailsNegotiation()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        // A lazy initiator's Noise bytes behind a refused proposal.
        await remote.Output.WriteAsync(Convert.FromHexString(Header + Tls + "ffff03"), Ct);
        ProtocolNotSupportedException e = await Assert.ThrowsAsync<ProtocolNotSupportedException>(() =>
            MultistreamSelect.ListenAsync(local, p => p == "/noise", Ct).WaitAsync(Timeout, Ct));
        Assert.Equal(["/tls/1.0.0"], e.Protocols);
        Assert.IsType<OversizedMessageException>(e.InnerException);
    }

    [Theory]
    [InlineData("132f6d75")]             // inside the header
    [InlineData(Header)]                 // before the first proposal
    [InlineData(Header + "072f6e6f")]    // inside the first proposal
    public async Task Listen_EndOfStreamBeforeAgreement_ThrowsUnexpectedEnd(string sent)
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(sent), Ct);
        await remote.Output.CompleteAsync();
        await Assert.ThrowsAsync<UnexpectedEndException>(() =>
            MultistreamSelect.ListenAsync(local, _ => true, Ct).WaitAsync(Timeout, Ct));
    }

    [Theory]
    [InlineData("")]
    [InlineData(Header)]
    [InlineData(Header + "07")]
    public async Task Select_EndOfStreamBeforeAgreement_ThrowsUnexpectedEnd(string sent)
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        await remote.Output.WriteAsync(Convert.FromHexString(sent), Ct);
        await remote.Output.CompleteAsync();
        await Assert.ThrowsAsync<UnexpectedEndException>(() =>
            MultistreamSelect.SelectAsync(local, ["/noise"], Ct).WaitAsync(Timeout, Ct));
    }

    [Fact]
    public async Task Listen_MoreThanMaxProposals_GivesUp()
    {
        (IDuplexPipe remote, IDuplexPipe local) = TestPipes.CreatePipePair();
        List<byte> sent = [.. Convert.FromHexString(Header)];
        for (int i = 0; i <= MultistreamSelect.MaxProposals; i++)
            sent.AddRange(MultistreamSelect.EncodeMessage($"/unknown/{i}"));
        sent.AddRange(Convert.FromHexString(Noise));
        await remote.Output.WriteAsync(sent.ToArray(), Ct);

        ProtocolViolationException e = await Assert.ThrowsAsync<ProtocolViolationException>(() =>
            MultistreamSelect.ListenAsync(local, p => p == "/noise", Ct).WaitAsync(Timeout, Ct));
        Assert.Contains($"more than {MultistreamSelect.MaxProposals} proposals", e.Message);
        int answered = (Header.Length + MultistreamSelect.MaxProposals * Na.Length) / 2;
        Assert.Equal(Header + string.Concat(Enumerable.Repeat(Na, MultistreamSelect.MaxProposals)),
            await ReadHexAsync(remote.Input, answered));
    }

    [Fact]
    public async Task Listen_CanceledWhileWaiting_ThrowsOperationCanceled()
    {
        (_, IDuplexPipe local) = TestPipes.CreatePipePair();
        using CancellationTokenSource cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<string> listen = MultistreamSelect.ListenAsync(local, _ => true, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => listen.WaitAsync(Timeout, Ct));
    }

    [Theory]
    [InlineData("noise")]
    [InlineData("")]
    [InlineData("/a\n/b")]
    public async Task Select_InvalidOwnProtocolId_ThrowsArgumentException(string protocol)
    {
        (IDuplexPipe local, _) = TestPipes.CreatePipePair();
        await Assert.ThrowsAsync<ArgumentException>(() => MultistreamSelect.SelectAsync(local, [protocol], Ct));
    }

    [Fact]
    public async Task Select_NoProposals_ThrowsArgumentException()
    {
        (IDuplexPipe local, _) = TestPipes.CreatePipePair();
        await Assert.ThrowsAsync<ArgumentException>(() => MultistreamSelect.SelectAsync(local, [], Ct));
    }

    private static async Task<string> ReadHexAsync(PipeReader input, int count)
    {
        byte[]? bytes = await input.ReadExactlyAsync(count, "/test", Ct).AsTask().WaitAsync(Timeout, Ct);
        return Convert.ToHexStringLower(bytes ?? []);
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    private sealed class CountingWriter(PipeWriter inner) : PipeWriter
    {
        public int Flushes { get; private set; }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Flushes++;
            return inner.FlushAsync(cancellationToken);
        }

        public override void Advance(int bytes) => inner.Advance(bytes);
        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }
}
