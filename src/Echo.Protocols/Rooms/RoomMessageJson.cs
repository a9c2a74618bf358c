using System.Text.Json;
using System.Text.Json.Serialization;

namespace Echo.Protocols.Rooms;

/// <summary>The JSON object as read: every field optional, Timestamp kept raw so a bad one is only ignored.</summary>
internal sealed class RoomMessageIn
{
    public string? Message { get; set; }
    public string? SenderID { get; set; }
    public string? SenderNick { get; set; }
    public JsonElement? Timestamp { get; set; }
    public JsonElement? File { get; set; }
    public JsonElement? Action { get; set; }
}

/// <summary>The JSON object as written, in go's field order.</summary>
internal sealed class RoomMessageOut
{
    public required string Message { get; init; }
    public required string SenderID { get; init; }
    public required string SenderNick { get; init; }
    public long Timestamp { get; init; }

    /// <summary>True on a <c>/me</c> action, whose <see cref="Message"/> is <c>* nick action</c>; absent otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Action { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RoomFileOut? File { get; init; }
}

/// <summary>Echo's optional file offer in a room message; other readers skip the field.</summary>
internal sealed class RoomFileOut
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public long Size { get; init; }
    public required string Sha256 { get; init; }

    /// <summary>Where the offerer listens (optional; readers that do not know it skip it).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Addrs { get; init; }
}

/// <summary>
/// Source-generated (no reflection). Names match case-insensitively when reading, as go's
/// encoding/json does; unknown fields are skipped.
/// </summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, MaxDepth = 16)]
[JsonSerializable(typeof(RoomMessageIn))]
[JsonSerializable(typeof(RoomMessageOut))]
[JsonSerializable(typeof(RoomFileOut))]
internal sealed partial class RoomMessageJson : JsonSerializerContext;
