namespace Echo.Net.Identity;

/// <summary>Key algorithms of the libp2p key encoding; the numbers are the wire values.</summary>
public enum KeyType
{
    Rsa = 0,
    Ed25519 = 1,
    Secp256k1 = 2,
    Ecdsa = 3,
}
