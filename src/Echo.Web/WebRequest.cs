using System.Text.Json;
using Echo.Core.Conversations;

namespace Echo.Web;

/// <summary>What a page asks for over its WebSocket: <c>{"type": "...", ...}</c>.</summary>
internal abstract record WebRequest
{
    /// <summary>
    /// A typed line: text or a slash command, as in the TUI, typed in <paramref name="Conversation"/>
    /// (text goes to a direct conversation's peer, else to the current room).
    /// <c>{"type":"line","text":…,"conversation":"@peer id"}</c>, the conversation optional.
    /// </summary>
    public sealed record Line(string Text, ConversationId? Conversation = null) : WebRequest;

    /// <summary>Text, never a command, for <paramref name="Conversation"/> (the current room when null). <c>{"type":"send","text":…,"conversation":…}</c></summary>
    public sealed record Send(string Text, ConversationId? Conversation = null) : WebRequest;

    /// <summary><c>{"type":"join","room":…}</c></summary>
    public sealed record Join(string Room) : WebRequest;

    /// <summary><c>{"type":"leave","room":…}</c>; without a room, the current one.</summary>
    public sealed record Leave(string? Room) : WebRequest;

    /// <summary><c>{"type":"switch","room":…}</c></summary>
    public sealed record Switch(string Room) : WebRequest;

    /// <summary><c>{"type":"nick","nick":…}</c></summary>
    public sealed record Nick(string Name) : WebRequest;

    /// <summary><c>{"type":"connect","address":…}</c> (a multiaddr).</summary>
    public sealed record Connect(string Address) : WebRequest;

    /// <summary>A direct message: <c>{"type":"dm","to":…,"text":…}</c>, to a peer id or a nick.</summary>
    public sealed record Direct(string To, string Text) : WebRequest;

    /// <summary>Download an offered file: <c>{"type":"get","id":…}</c>.</summary>
    public sealed record Get(string Id) : WebRequest;

    /// <summary>Stop a download (it resumes with get): <c>{"type":"cancel","id":…}</c>.</summary>
    public sealed record Cancel(string Id) : WebRequest;

    /// <summary>
    /// Stored messages of a room older than the page's oldest one (its time and id):
    /// <c>{"type":"older","room":…,"ts":…,"id":…}</c>; answered to this page only.
    /// </summary>
    public sealed record Older(string Room, DateTimeOffset Before, string BeforeId) : WebRequest;

    /// <summary>Reads one request; throws <see cref="FormatException"/> saying what is wrong.</summary>
    public static WebRequest Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            Utf8JsonReader reader = new(json, new JsonReaderOptions { MaxDepth = 4 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new FormatException($"a request must be JSON: {e.Message}");
        }
        using (document)
            return Parse(document.RootElement);
    }

    private static WebRequest Parse(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new FormatException("a request is a JSON object");
        string type = Field(root, "type") ?? throw new FormatException("the request has no type");
        return type switch
        {
            "line" => new Line(Required(root, "text"), ConversationOf(root)),
            "send" => new Send(Required(root, "text"), ConversationOf(root)),
            "join" => new Join(Required(root, "room")),
            "leave" => new Leave(Field(root, "room")),
            "switch" => new Switch(Required(root, "room")),
            "nick" => new Nick(Required(root, "nick")),
            "connect" => new Connect(Required(root, "address")),
            "dm" => new Direct(Required(root, "to"), Required(root, "text")),
            "get" => new Get(Required(root, "id")),
            "cancel" => new Cancel(Required(root, "id")),
            "older" => new Older(Required(root, "room"), Time(Required(root, "ts")), Required(root, "id")),
            _ => throw new FormatException($"unknown request type '{Core.Chat.SafeText.ForDisplay(type)}'"),
        };
    }

    private static DateTimeOffset Time(string text) =>
        DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal,
            out DateTimeOffset time)
            ? time
            : throw new FormatException("'ts' must be an ISO 8601 time");

    private static ConversationId? ConversationOf(JsonElement root) =>
        Field(root, "conversation") is { } key
            ? ConversationId.TryParse(key) ?? throw new FormatException("'conversation' must be \"#room\" or \"@peer id\"")
            : null;

    private static string Required(JsonElement root, string name) =>
        Field(root, name) ?? throw new FormatException($"the request has no '{name}'");

    private static string? Field(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value)
            ? value.ValueKind == JsonValueKind.String ? value.GetString() : throw new FormatException($"'{name}' must be a string")
            : null;
}
