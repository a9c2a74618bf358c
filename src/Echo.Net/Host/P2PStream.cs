using System.IO.Pipelines;
using Echo.Net.Identity;
using Echo.Net.Yamux;

namespace Echo.Net.Host;

/// <summary>
/// One negotiated libp2p stream: a yamux stream on which multistream-select agreed on
/// <see cref="Protocol"/>. Reading <see cref="Input"/> ends when the remote half-closes;
/// <see cref="CompleteOutputAsync"/> half-closes our side; <see cref="Reset"/> aborts both.
/// </summary>
public sealed class P2PStream : IDuplexPipe
{
    private readonly YamuxStream _stream;

    internal P2PStream(YamuxStream stream, string protocol, Connection connection)
    {
        _stream = stream;
        Protocol = protocol;
        Connection = connection;
    }

    public string Protocol { get; }

    public Connection Connection { get; }

    public PeerId RemotePeer => Connection.RemotePeer;

    public PipeReader Input => _stream.Input;

    public PipeWriter Output => _stream.Output;

    /// <summary>Done sending: flushes what is buffered, then half-closes (yamux FIN). Reading goes on.</summary>
    public ValueTask CompleteOutputAsync() => _stream.CompleteOutputAsync();

    /// <summary>Aborts the stream in both directions (yamux RST).</summary>
    public void Reset() => _stream.Reset();

    public override string ToString() => $"{Protocol} with {RemotePeer.ToShortString()} (stream {_stream.Id})";
}
