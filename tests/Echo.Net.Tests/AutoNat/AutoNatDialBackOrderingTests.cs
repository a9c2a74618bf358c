using System.Net;
using Echo.Net.AutoNat;
using Echo.Net.Host;
using Echo.Net.Identity;
using Echo.Net.Multiformats;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using V2 = Echo.Net.AutoNat.Pb.V2;

namespace Echo.Net.Tests.AutoNat;

/// <summary>
/// What a client may do on the dial-back stream once the nonce arrived, and the dial status our v2
/// server answers for each: the nonce was delivered, so every ordering is <c>OK</c> (the spec's
/// "able to connect and successfully send a nonce"), whether the client answers and closes (js),
/// answers and resets at once, answers and drops the connection, or closes without answering. A
/// client whose dial-back stream cannot even be opened is <c>E_DIAL_BACK_ERROR</c>.
/// </summary>
public class AutoNatDialBackOrderingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public enum AfterNonce
    {
        /// <summary>js: writes DialBackResponse{OK} (an empty message, OK is 0) and closes its side.</summary>
        AnswerThenClose,

        /// <summary>Writes the answer and resets the stream before our side closed.</summary>
        AnswerThenReset,

        /// <summary>Writes the answer and closes the whole connection at once.</summary>
        AnswerThenCloseConnection,

        /// <summary>Closes its side without an answer.</summary>
        CloseWithoutAnswer,

        /// <summary>Resets the stream without an answer.</summary>
        ResetWithoutAnswer,
    }

    private static async Task<Libp2pHost> ServerAsync()
    {
        HostOptions options = new()
        {
            ListenAddresses = [Multiaddr.Parse("/ip4/127.0.0.1/tcp/0")],
            EnableAutoNat = true,
            AutoNat = new AutoNatOptions
            {
                IsPublic = a => AutoNatAddresses.IpOf(a) is { } ip && IPAddress.IsLoopback(ip),
                ServerMode = AutoNatServerMode.On,
                Candidates = () => [],
            },
        };
        Libp2pHost host = new(KeyPair.Generate(), options, NullLoggerFactory.Instance);
        await host.StartAsync(Ct);
        return host;
    }

    /// <summary>Sends a DialRequest for the client's own address with <paramref name="nonce"/> and returns the server's DialResponse.</summary>
    private static async Task<V2.DialResponse> AskAsync(Libp2pHost client, Libp2pHost server, ulong nonce)
    {
        Connection connection = await client.DialAsync(TestHosts.AddressOf(server), Ct);
        P2PStream stream = await connection.OpenStreamAsync(AutoNatCodec.DialRequestProtocol, Ct);
        V2.DialRequest request = new() { Nonce = nonce };
        request.Addrs.Add(ByteString.CopyFrom(client.ListenAddresses[0].ToBytes()));
        await AutoNatCodec.WriteAsync(stream.Output, new V2.Message { DialRequest = request }, Ct);
        V2.Message answer = (await AutoNatCodec.ReadV2Async(stream.Input, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct))!;
        await stream.CompleteOutputAsync();
        Assert.Equal(V2.Message.MsgOneofCase.DialResponse, answer.MsgCase);
        return answer.DialResponse;
    }

    [Theory(Timeout = 30_000)]
    [InlineData(AfterNonce.AnswerThenClose)]
    [InlineData(AfterNonce.AnswerThenReset)]
    [InlineData(AfterNonce.AnswerThenCloseConnection)]
    [InlineData(AfterNonce.CloseWithoutAnswer)]
    [InlineData(AfterNonce.ResetWithoutAnswer)]
    public async Task ANonceThatArrived_IsDialStatusOk_WhateverTheClientDoesAfter(AfterNonce after)
    {
        await using Libp2pHost server = await ServerAsync();
        await using Libp2pHost client = await TestHosts.StartAsync();
        const ulong nonce = 0x0123_4567_89ab_cdef;
        TaskCompletionSource<ulong> received = new(TaskCreationOptions.RunContinuationsAsynchronously);
        client.SetStreamHandler(AutoNatCodec.DialBackProtocol, async (stream, ct) =>
        {
            V2.DialBack? back = await AutoNatCodec.ReadDialBackAsync(stream.Input, V2.DialBack.Parser, ct);
            received.TrySetResult(back?.Nonce ?? 0);
            switch (after)
            {
                case AfterNonce.AnswerThenClose:
                    await AutoNatCodec.WriteAsync(stream.Output, new V2.DialBackResponse(), ct);
                    await stream.CompleteOutputAsync();
                    break;
                case AfterNonce.AnswerThenReset:
                    await AutoNatCodec.WriteAsync(stream.Output, new V2.DialBackResponse(), ct);
                    stream.Reset();
                    break;
                case AfterNonce.AnswerThenCloseConnection:
                    await AutoNatCodec.WriteAsync(stream.Output, new V2.DialBackResponse(), ct);
                    await stream.Connection.CloseAsync();
                    break;
                case AfterNonce.CloseWithoutAnswer:
                    await stream.CompleteOutputAsync();
                    break;
                case AfterNonce.ResetWithoutAnswer:
                    stream.Reset();
                    break;
            }
        });

        V2.DialResponse response = await AskAsync(client, server, nonce);

        Assert.Equal(nonce, await received.Task.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(V2.DialResponse.Types.ResponseStatus.Ok, response.Status);
        Assert.Equal(V2.DialStatus.Ok, response.DialStatus);
    }

    /// <summary>A client that does not speak the dial-back protocol never got the nonce: E_DIAL_BACK_ERROR, not OK.</summary>
    [Fact(Timeout = 30_000)]
    public async Task AClientWithoutTheDialBackProtocol_IsDialBackError()
    {
        await using Libp2pHost server = await ServerAsync();
        await using Libp2pHost client = await TestHosts.StartAsync();

        V2.DialResponse response = await AskAsync(client, server, 7);

        Assert.Equal(V2.DialResponse.Types.ResponseStatus.Ok, response.Status);
        Assert.Equal(V2.DialStatus.EDialBackError, response.DialStatus);
    }
}
