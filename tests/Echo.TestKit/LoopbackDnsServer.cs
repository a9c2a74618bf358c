using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Makaretu.Dns;

namespace Echo.TestKit;

/// <summary>
/// A tiny DNS server on 127.0.0.1 (a free UDP port) answering TXT questions from a table, and
/// NXDOMAIN for names it does not have; each record a list of character-strings. Counts questions.
/// Stands in for a resolver (`--dns 127.0.0.1:PORT`) without touching the machine's DNS.
/// </summary>
public sealed class LoopbackDnsServer : IAsyncDisposable
{
    private readonly UdpClient _socket = new(new IPEndPoint(IPAddress.Loopback, 0));
    private readonly IReadOnlyDictionary<string, IReadOnlyList<IReadOnlyList<string>>> _records;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public LoopbackDnsServer(IReadOnlyDictionary<string, IReadOnlyList<IReadOnlyList<string>>> records)
    {
        _records = records;
        _loop = ServeAsync();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_socket.Client.LocalEndPoint!;

    public ConcurrentQueue<string> Questions { get; } = new();

    private async Task ServeAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _socket.ReceiveAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            Message request = new();
            request.Read(received.Buffer, 0, received.Buffer.Length);
            Message response = request.CreateResponse();
            foreach (Question question in request.Questions)
            {
                string name = question.Name.ToString().TrimEnd('.');
                Questions.Enqueue(name);
                if (!_records.TryGetValue(name, out IReadOnlyList<IReadOnlyList<string>>? texts))
                {
                    response.Status = MessageStatus.NameError;
                    continue;
                }
                if (question.Type != DnsType.TXT)
                    continue;
                foreach (IReadOnlyList<string> strings in texts)
                    response.Answers.Add(new TXTRecord { Name = question.Name, Strings = [.. strings], TTL = TimeSpan.FromSeconds(60) });
            }
            await _socket.SendAsync(response.ToByteArray(), received.RemoteEndPoint, _stop.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _socket.Dispose();
        _stop.Dispose();
    }
}
