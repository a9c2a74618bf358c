using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Echo.Core.Chat;
using Echo.Core.Ports;
using Echo.Protocols.Rooms;
using Echo.Storage;

namespace Echo.Cli;

/// <summary>
/// <c>echo-chat history</c>: a room's stored messages, oldest first, as plain lines or one JSON
/// object per line. Each signed message's signature is checked again as it is written out.
/// </summary>
internal static class HistoryExport
{
    private const int Page = 1000;

    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<int> RunAsync(string dataDirectory, string room, bool json, DateTimeOffset? since, TextWriter output,
        TextWriter error, CancellationToken cancellationToken)
    {
        SqliteMessageStore store;
        string path = Path.Combine(dataDirectory, SqliteMessageStore.FileName);
        if (Directory.Exists(path))
        {
            await error.WriteLineAsync($"echo-chat: history database {path} is a directory, not a database; move it away");
            return 1;
        }
        try
        {
            store = SqliteMessageStore.Open(path, mustExist: true);
        }
        catch (MessageStoreException e)
        {
            await error.WriteLineAsync($"echo-chat: {e.Message}");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"echo-chat: cannot open history database {path}: {PrivateFiles.Reason(e)}");
            return 1;
        }
        await using (store)
        {
            if (store.Problem is { } problem)
            {
                await error.WriteLineAsync($"echo-chat: {problem}");
                if (!store.IsAvailable)
                    return 1;
            }
            HistoryCursor cursor = since is { } from ? new HistoryCursor(from.ToUnixTimeMilliseconds(), "") : HistoryCursor.Start;
            while (true)
            {
                IReadOnlyList<ChatMessage> page;
                try
                {
                    page = await store.AfterAsync(room, cursor, Page, cancellationToken);
                }
                catch (MessageStoreException e)
                {
                    await error.WriteLineAsync($"echo-chat: {e.Message}");
                    return 1;
                }
                foreach (ChatMessage message in page)
                {
                    bool verified = message.Origin != MessageOrigin.EchoGo && SignedRoomMessage.Verify(message);
                    await output.WriteLineAsync(json ? Json(message, verified) : Plain(message, verified));
                }
                if (page.Count < Page)
                    break;
                cursor = HistoryCursor.Of(page[^1]);
            }
            await output.FlushAsync(cancellationToken);
            return 0;
        }
    }

    /// <summary>Reads a --since value: an ISO 8601 date or time (UTC unless it says otherwise).</summary>
    public static DateTimeOffset ParseSince(string text) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal, out DateTimeOffset since)
            ? since
            : throw new ArgumentException($"--since {text}: not a date or time (e.g. 2026-01-31 or 2026-01-31T12:00:00Z)");

    private static string Timestamp(ChatMessage message) =>
        message.Timestamp.ToUniversalTime().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture);

    private static string Plain(ChatMessage message, bool verified) =>
        $"{Timestamp(message)} {(message.Action ? $"* {SafeText.ForDisplay(message.SenderNick)}" : $"<{SafeText.ForDisplay(message.SenderNick)}>")} {SafeText.ForDisplay(message.Text)}" +
        (verified ? "" : "  (unverified)");

    private static string Json(ChatMessage message, bool verified)
    {
        ArrayBufferWriter<byte> buffer = new(256);
        using (Utf8JsonWriter writer = new(buffer, JsonOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("from", message.SenderId);
            writer.WriteString("nick", message.SenderNick);
            writer.WriteString("text", message.Text);
            writer.WriteString("ts", Timestamp(message));
            writer.WriteString("id", message.Id);
            writer.WriteBoolean("verified", verified);
            if (message.Action)
                writer.WriteBoolean("action", true);
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
