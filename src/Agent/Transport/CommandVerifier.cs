using System.Security.Cryptography;

namespace OdooFleet.Agent.Transport;

/// <summary>The controller's command signing public key (ECDSA P-256) and its key id.</summary>
internal sealed class CommandVerifier : IDisposable
{
    private readonly ECDsa key;

    /// <summary>Throws <see cref="IdentityException"/> if the key is not P-256 or <paramref name="keyId"/> is not its id.</summary>
    public CommandVerifier(byte[] subjectPublicKeyInfo, string keyId)
    {
        FleetTrust.CheckSigningKey(subjectPublicKeyInfo, keyId);
        key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
        KeyId = keyId;
        SubjectPublicKeyInfo = subjectPublicKeyInfo;
    }

    public string KeyId { get; }

    public byte[] SubjectPublicKeyInfo { get; }

    /// <summary>True if <paramref name="signature"/> is this key's IEEE P1363 (r||s) ECDSA signature of SHA-256(<paramref name="data"/>).</summary>
    public bool Verify(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature) =>
        key.VerifyData(data, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    public void Dispose() => key.Dispose();
}
