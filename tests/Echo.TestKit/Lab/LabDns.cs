using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Echo.TestKit.Lab;

/// <summary>
/// dnsmasq on a public host of the <see cref="NatLab"/> (10.200.0.53, port 53), answering only the
/// TXT records it was given (e.g. <c>_dnsaddr.bootstrap.lab</c> → <c>dnsaddr=/ip4/…/p2p/…</c>),
/// from a config file of its own in a temporary folder: no system config, no /etc/hosts, no
/// upstream resolver, so every other name is refused. Disposing stops it and deletes the folder.
/// </summary>
public sealed class LabDns : IAsyncDisposable
{
    private readonly Process _process;
    private readonly LabProcessOutput _stderr;
    private readonly string _directory;
    private int _disposed;

    private LabDns(Process process, LabHost host, string directory)
    {
        _process = process;
        Host = host;
        _directory = directory;
        _stderr = new LabProcessOutput(process);
    }

    /// <summary>The host dnsmasq runs on; <see cref="LabHost.Address"/> is the resolver to give Echo (port 53).</summary>
    public LabHost Host { get; }

    /// <summary>The resolver as ADDRESS:PORT.</summary>
    public string Endpoint => $"{Host.Address}:53";

    /// <summary>The process id (dnsmasq itself: `ip netns exec` execs it).</summary>
    public int ProcessId => _process.Id;

    /// <summary>What dnsmasq logged (start-up and every query it answered).</summary>
    public string Log => _stderr.Text;

    internal static async Task<LabDns> StartAsync(LabHost host, IReadOnlyDictionary<string, IReadOnlyList<string>> txtRecords,
        CancellationToken cancellationToken)
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("echo-lab-dns-").FullName;
        StringBuilder config = new();
        config.Append(CultureInfo.InvariantCulture, $"""
            port=53
            listen-address={host.Address}
            bind-interfaces
            no-resolv
            no-hosts
            no-poll
            user=root
            group=root
            pid-file={Path.Combine(directory, "dnsmasq.pid")}
            log-facility=-
            log-queries

            """);
        foreach ((string name, IReadOnlyList<string> texts) in txtRecords)
        {
            foreach (string text in texts)
            {
                if (text.Contains('"', StringComparison.Ordinal) || text.Length > 255)
                    throw new ArgumentException($"a TXT string must be at most 255 characters without quotes: {text}", nameof(txtRecords));
                // One line per string: dnsmasq then answers one TXT record per string.
                config.Append(CultureInfo.InvariantCulture, $"txt-record={name},\"{text}\"\n");
            }
        }
        string configPath = Path.Combine(directory, "dnsmasq.conf");
        await File.WriteAllTextAsync(configPath, config.ToString(), cancellationToken).ConfigureAwait(false);
        ProcessStartInfo start = new("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in (string[])["netns", "exec", host.Namespace, "dnsmasq", "--keep-in-foreground", $"--conf-file={configPath}"])
            start.ArgumentList.Add(arg);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("dnsmasq did not start");
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
        LabDns dns = new(process, host, directory);
        try
        {
            // dnsmasq says "started" once its sockets are bound.
            using CancellationTokenSource limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(10));
            if (!await dns._stderr.WaitForLineAsync(l => l.Contains("started", StringComparison.Ordinal), limit.Token).ConfigureAwait(false))
                throw new InvalidOperationException($"dnsmasq exited at start:\n{dns.Log}");
            return dns;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await dns.DisposeAsync().ConfigureAwait(false);
            throw new TimeoutException($"dnsmasq did not start within 10 s:\n{dns.Log}");
        }
        catch
        {
            await dns.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops dnsmasq (SIGKILL after 5 s) and deletes its folder; a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try
        {
            if (!_process.HasExited)
                _process.Kill(entireProcessTree: true);
            await LabProcessOutput.StopAsync(_process, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        finally
        {
            _process.Dispose();
            System.IO.Directory.Delete(_directory, recursive: true);
        }
    }
}
