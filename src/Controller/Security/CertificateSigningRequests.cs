using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace OdooFleet.Controller.Security;

/// <summary>A certificate request the controller will not sign; the message names the rule and the fix.</summary>
internal sealed class CertificateRequestException(string message) : Exception(message);

/// <summary>
/// Reads agents' PKCS#10 requests. Only the public key is taken: subject, extensions and
/// attributes come from the controller, whatever the request asks for.
/// </summary>
internal static class CertificateSigningRequests
{
    public const int MaxLength = 16 * 1024;

    private const string EcPublicKey = "1.2.840.10045.2.1";
    private const string RsaEncryption = "1.2.840.113549.1.1.1";
    private const string NistP256 = "1.2.840.10045.3.1.7";
    private const string NistP384 = "1.3.132.0.34";
    private const int MinRsaBits = 2048;
    private const int MaxRsaBits = 16384;

    private const string Fix = "the agent makes a fresh ECDSA P-256 key and a DER PKCS#10 request for it; upgrade the agent";

    /// <summary>The request's public key, once its signature proved the caller holds the private key.</summary>
    public static PublicKey ReadPublicKey(ReadOnlySpan<byte> der)
    {
        if (der.IsEmpty)
        {
            throw new CertificateRequestException($"is required; {Fix}");
        }

        if (der.Length > MaxLength)
        {
            throw new CertificateRequestException($"is larger than {MaxLength / 1024} KiB; {Fix}");
        }

        CertificateRequest request;
        try
        {
            // Default options verify the request's self-signature and load no extensions.
            request = CertificateRequest.LoadSigningRequest(
                der, HashAlgorithmName.SHA256, out var consumed, CertificateRequestLoadOptions.Default, RSASignaturePadding.Pkcs1);
            if (consumed != der.Length)
            {
                throw new CertificateRequestException($"has {der.Length - consumed} bytes after the PKCS#10 request; {Fix}");
            }
        }
        catch (CryptographicException)
        {
            throw new CertificateRequestException($"is not a DER PKCS#10 request with a valid signature; {Fix}");
        }

        CheckKey(request.PublicKey);
        return request.PublicKey;
    }

    private static void CheckKey(PublicKey key)
    {
        switch (key.Oid.Value)
        {
            case EcPublicKey:
                var curve = NamedCurve(key);
                if (curve is not (NistP256 or NistP384))
                {
                    throw new CertificateRequestException($"ECDSA key on curve {curve ?? "(explicit parameters)"} is not accepted: use P-256 (or P-384); {Fix}");
                }

                return;
            case RsaEncryption:
                using (var rsa = key.GetRSAPublicKey())
                {
                    if (rsa is null || rsa.KeySize is < MinRsaBits or > MaxRsaBits)
                    {
                        throw new CertificateRequestException($"RSA key of {rsa?.KeySize ?? 0} bits is not accepted: use ECDSA P-256, or RSA of {MinRsaBits} to {MaxRsaBits} bits; {Fix}");
                    }
                }

                return;
            default:
                throw new CertificateRequestException($"key algorithm {key.Oid.Value} is not accepted: use ECDSA P-256 (or P-384, or RSA of at least {MinRsaBits} bits); {Fix}");
        }
    }

    /// <summary>The namedCurve OID from the key's algorithm parameters, or null for anything else.</summary>
    private static string? NamedCurve(PublicKey key)
    {
        if (key.EncodedParameters is not { RawData.Length: > 0 } parameters)
        {
            return null;
        }

        try
        {
            var reader = new AsnReader(parameters.RawData, AsnEncodingRules.DER);
            var oid = reader.ReadObjectIdentifier();
            return reader.HasData ? null : oid;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }
}
