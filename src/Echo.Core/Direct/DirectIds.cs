using System.Security.Cryptography;

namespace Echo.Core.Direct;

/// <summary>Ids of direct messages and file offers: 128 random bits as 32 lowercase hex digits.</summary>
public static class DirectIds
{
    public const int Length = 32;

    public static string New() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(Length / 2));

    /// <summary>True for exactly 32 lowercase hex digits: safe as a file name and in a path.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: Length } && id.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');
}
