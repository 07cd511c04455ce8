using System.Security.Cryptography;
using Grpc.Core;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Api;

/// <summary>
/// Checks "authorization: Agent &lt;host_id&gt;:&lt;secret&gt;" against the stored hash.
/// Every failure gives the same answer, so a caller learns nothing about which part was wrong.
/// </summary>
internal sealed class AgentAuthenticator(HostStore hosts)
{
    private const string Scheme = "Agent ";

    public async Task<string> AuthenticateAsync(ServerCallContext context)
    {
        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith(Scheme, StringComparison.Ordinal))
        {
            throw Denied();
        }

        var credential = header[Scheme.Length..];
        var colon = credential.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0)
        {
            throw Denied();
        }

        var hostId = credential[..colon];
        if (!Validation.IsId(hostId, 'h'))
        {
            throw Denied();
        }

        var stored = await hosts.GetAgentSecretHashAsync(hostId, context.CancellationToken);
        var presented = Identifiers.Hash(credential[(colon + 1)..]);
        if (stored is null || !CryptographicOperations.FixedTimeEquals(stored, presented))
        {
            throw Denied();
        }

        return hostId;
    }

    private static RpcException Denied() =>
        new(new Status(StatusCode.Unauthenticated, "agent credential missing or invalid; re-enroll the host with a new token"));
}
