using System.Security.Cryptography;

namespace Echo.Net.Mdns;

/// <summary>
/// The name we publish under: random letters and digits, 32 to 63 of them (one DNS label), new on
/// every start. It says nothing about us: no peer id, no nick (docs/LIMITS.md, rule D-5).
/// </summary>
public static class MdnsPeerName
{
    public const int MinLength = 32;
    public const int MaxLength = 63;
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

    public static string Create() =>
        RandomNumberGenerator.GetString(Alphabet, RandomNumberGenerator.GetInt32(MinLength, MaxLength + 1));
}
