using System.Text.Json.Serialization;

namespace Echo.Core.Files;

/// <summary>A download the user asked for, as kept next to its partial file so that it survives a restart.</summary>
/// <param name="Paused">True once the user cancelled it or it stalled: a restart does not resume it, /get does.</param>
internal sealed record PendingDownload(FileOffer Offer, string PeerId, string Nick, bool Paused = false);

/// <summary>Source-generated JSON for the files' state on disk (no reflection).</summary>
[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(PendingDownload))]
[JsonSerializable(typeof(List<OfferedFile>))]
internal sealed partial class FileStateJson : JsonSerializerContext;
