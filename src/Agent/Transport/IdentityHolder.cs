using OdooFleet.Agent.Configuration;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// The identity and signing key in use now. Renewal swaps them; TLS handshakes and command checks
/// read the current ones, so no restart is needed. The replaced objects are not disposed: a handshake
/// or check that read them just before the swap may still be using them.
/// </summary>
internal sealed class IdentityHolder(AgentIdentity identity, CommandVerifier verifier)
{
    private AgentIdentity identity = identity;
    private CommandVerifier verifier = verifier;

    public AgentIdentity Identity => Volatile.Read(ref identity);

    public CommandVerifier Verifier => Volatile.Read(ref verifier);

    public void Replace(AgentIdentity next) => Volatile.Write(ref identity, next);

    public void Replace(CommandVerifier next) => Volatile.Write(ref verifier, next);
}
