using Google.Protobuf;
using OdooFleet.Contracts.V1;
using OdooFleet.Controller.Messaging;

namespace OdooFleet.Controller.Security;

/// <summary>
/// Builds the identity an agent gets at enrollment and on renewal: one place, so both answers carry
/// the same trust material (its certificate, the fleet CA, and the key that signs its commands, so a
/// rotated signing key reaches agents with their next renewal).
/// </summary>
internal sealed class AgentIdentityFactory(FleetCertificateAuthority authority, CommandSigner signer)
{
    public async Task<AgentIdentity> CreateAsync(IssuedClientCertificate certificate, CancellationToken ct)
    {
        var identity = new AgentIdentity
        {
            Certificate = ByteString.CopyFrom(certificate.Der),
            CaCertificate = ByteString.CopyFrom(authority.CaCertificate.RawData),
        };
        await signer.AddPublicKeyAsync(identity, ct);
        return identity;
    }
}
