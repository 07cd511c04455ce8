using Google.Protobuf;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Controller.Security;

/// <summary>Builds the identity an agent gets at enrollment and on renewal: one place, so both answers carry the same trust material.</summary>
internal sealed class AgentIdentityFactory(FleetCertificateAuthority authority)
{
    public AgentIdentity Create(IssuedClientCertificate certificate) => new()
    {
        Certificate = ByteString.CopyFrom(certificate.Der),
        CaCertificate = ByteString.CopyFrom(authority.CaCertificate.RawData),
    };
}
