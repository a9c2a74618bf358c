using System.Diagnostics;
using System.Threading.Channels;

namespace Echo.TestKit.Lab;

/// <summary>The last lines a lab process wrote to stderr, and the bounded stop every lab process gets.</summary>
internal sealed class LabProcessOutput
{
    private const int TailLines = 60;
    private readonly Queue<string> _tail = new();
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(
        new BoundedChannelOptions(1000) { FullMode = BoundedChannelFullMode.DropOldest });

    public LabProcessOutput(Process process)
    {
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.Writer.TryComplete();
                return;
            }
            _lines.Writer.TryWrite(e.Data);
            lock (_tail)
            {
                _tail.Enqueue(e.Data);
                while (_tail.Count > TailLines)
                    _tail.Dequeue();
            }
        };
        process.BeginErrorReadLine();
    }

    public string Text
    {
        get { lock (_tail) return string.Join('\n', _tail); }
    }

    /// <summary>Waits for a stderr line matching <paramref name="match"/>; false when stderr ended first.</summary>
    public async Task<bool> WaitForLineAsync(Func<string, bool> match, CancellationToken cancellationToken)
    {
        await foreach (string line in _lines.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (match(line))
                return true;
        }
        return false;
    }

    /// <summary>Closes stdin (when redirected) and waits up to <paramref name="grace"/>; then kills the process tree.</summary>
    public static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (process.HasExited)
            return;
        if (process.StartInfo.RedirectStandardInput)
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // the pipe broke with the process: the wait below settles it
            }
        }
        using CancellationTokenSource wait = new(grace);
        try
        {
            await process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }
}
