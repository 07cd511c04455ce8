using System.Security.Cryptography;
using Google.Protobuf;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Secrets;

namespace OdooFleet.Controller.Messaging;

/// <summary>
/// The fleet's command signing key (ECDSA P-256), kept in the secret store so every controller
/// signs with the same key. Agents get its public half at enrollment and refuse any command on
/// their queue that it did not sign: the broker alone cannot make a host act.
/// </summary>
internal sealed class CommandSigner(SecretStore secrets) : IDisposable
{
    public const string SecretName = "signing/commands";

    private readonly SemaphoreSlim gate = new(1, 1);

    /// <summary>One ECDsa instance is not documented as safe for concurrent use.</summary>
    private readonly Lock signing = new();
    private SigningKey? key;

    /// <summary>Lowercase hex of the first 8 bytes of SHA-256 of a SubjectPublicKeyInfo: the key id agents match.</summary>
    public static string KeyIdOf(ReadOnlySpan<byte> publicKeyInfo) =>
        Convert.ToHexStringLower(SHA256.HashData(publicKeyInfo)[..8]);

    /// <summary>SubjectPublicKeyInfo (DER) of the signing key and its key id.</summary>
    public async Task<(byte[] PublicKeyInfo, string KeyId)> GetPublicKeyAsync(CancellationToken ct)
    {
        var k = await GetKeyAsync(ct);
        return (k.PublicKeyInfo.ToArray(), k.KeyId);
    }

    /// <summary>Sets AgentIdentity.command_signing_key and command_signing_key_id (enrollment and renewal answers).</summary>
    public async Task AddPublicKeyAsync(AgentIdentity identity, CancellationToken ct)
    {
        var k = await GetKeyAsync(ct);
        identity.CommandSigningKey = ByteString.CopyFrom(k.PublicKeyInfo);
        identity.CommandSigningKeyId = k.KeyId;
    }

    /// <summary>Serializes <paramref name="command"/> once and signs exactly those bytes (IEEE P1363 r||s).</summary>
    public async Task<SignedHostCommand> SignAsync(HostCommand command, CancellationToken ct)
    {
        var k = await GetKeyAsync(ct);
        var bytes = command.ToByteArray();
        byte[] signature;
        lock (signing)
        {
            signature = k.Key.SignData(bytes, HashAlgorithmName.SHA256);
        }

        return new SignedHostCommand
        {
            Command = ByteString.CopyFrom(bytes),
            Signature = ByteString.CopyFrom(signature),
            KeyId = k.KeyId,
        };
    }

    public void Dispose()
    {
        key?.Key.Dispose();
        gate.Dispose();
    }

    private async Task<SigningKey> GetKeyAsync(CancellationToken ct)
    {
        if (key is { } loaded)
        {
            return loaded;
        }

        // Loaded on first use rather than at construction: a database that is down then is retried on the next call.
        await gate.WaitAsync(ct);
        try
        {
            if (key is null)
            {
                var pkcs8 = await secrets.GetOrAddAsync(SecretName, NewKey, ct);
                try
                {
                    var ecdsa = ECDsa.Create();
                    ecdsa.ImportPkcs8PrivateKey(pkcs8, out _);
                    var spki = ecdsa.ExportSubjectPublicKeyInfo();
                    key = new SigningKey(ecdsa, spki, KeyIdOf(spki));
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(pkcs8);
                }
            }

            return key;
        }
        finally
        {
            gate.Release();
        }
    }

    private static byte[] NewKey()
    {
        using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return ecdsa.ExportPkcs8PrivateKey();
    }

    private sealed record SigningKey(ECDsa Key, byte[] PublicKeyInfo, string KeyId);
}
