using OdooFleet.Controller.Persistence;
using OdooFleet.Controller.Secrets;

namespace OdooFleet.Controller.Messaging;

/// <summary>What removing a host did: <see cref="Removed"/> is false when it was already gone.</summary>
internal sealed record HostRemovalResult(string HostId, string HostName, bool Removed);

/// <summary>
/// Takes a host out of the fleet: its broker user goes first (RabbitMQ drops its connections, so
/// it reads no further command), then its queue, then its row together with a HostRemoved event,
/// then its Odoo master password. With the row gone every agent call and every certificate of the
/// host is refused. Each step is idempotent, so a removal that failed half-way is finished by
/// running it again.
/// </summary>
internal sealed partial class HostRemoval(HostStore hosts, BrokerUsers brokerUsers, OdooAdminPasswords adminPasswords, TimeProvider time, ILogger<HostRemoval> logger)
{
    /// <summary>Removes the host with this id or name; null if no such host exists or ever existed.</summary>
    public async Task<HostRemovalResult?> RemoveAsync(string idOrName, CancellationToken ct)
    {
        if (await hosts.FindAsync(idOrName, ct) is { } host)
        {
            await RevokeBrokerAccessAsync(host.Id, ct);
            var removed = await hosts.RemoveAsync(host.Id, Json.Serialize(new { name = host.Name, address = host.Address }), time.GetUtcNow(), ct);
            // After the row: from then on the host's spec requests are refused, so none makes the password again.
            await adminPasswords.DeleteAsync(host.Id, ct);
            LogRemoved(logger, host.Id, host.Name, removed);
            return new HostRemovalResult(host.Id, host.Name, removed);
        }

        if (await hosts.FindRemovedAsync(idOrName, ct) is { } gone)
        {
            // Again, in case a command sent just before the removal declared the queue once more.
            await RevokeBrokerAccessAsync(gone.Id, ct);
            await adminPasswords.DeleteAsync(gone.Id, ct);
            return new HostRemovalResult(gone.Id, gone.Name, false);
        }

        return null;
    }

    private async Task RevokeBrokerAccessAsync(string hostId, CancellationToken ct)
    {
        await brokerUsers.DeleteHostUserAsync(hostId, ct);
        await brokerUsers.DeleteHostQueueAsync(hostId, ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} ({Name}) removed from the fleet (row deleted now: {Removed}); its broker user, queue and Odoo master password are gone")]
    private static partial void LogRemoved(ILogger logger, string hostId, string name, bool removed);
}
