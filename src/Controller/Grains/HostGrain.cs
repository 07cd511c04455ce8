using Microsoft.Extensions.Options;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Hosting;
using OdooFleet.Controller.Messaging;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Grains;

[GenerateSerializer, Immutable]
internal sealed record SpecChange([property: Id(0)] long Generation, [property: Id(1)] bool Changed);

/// <summary>
/// One per host: the writer of single-host desired-state changes, and their command sender. A rollout
/// writes a whole batch's desired releases in one statement instead (HostStore.SetDesiredReleasesAsync);
/// both are row-atomic, compare-and-set on the release, so neither can lose the other's change.
/// </summary>
internal interface IHostGrain : IGrainWithStringKey
{
    /// <summary>Makes the release desired (idempotent) and tells the agent when that bumped the generation.</summary>
    Task<SpecChange> SetDesiredRelease(OdooRelease release, string cause);

    /// <summary>
    /// Makes the release desired, fetched from <paramref name="artifact"/> and applied under
    /// <paramref name="gate"/> (idempotent: only a different release bumps the generation).
    /// </summary>
    Task<SpecChange> SetDesiredRelease(OdooRelease release, ReleaseArtifact? artifact, ReleaseGate? gate, string cause);

    /// <summary>Sends Converge for the current desired generation again (level-based, harmless if duplicated).</summary>
    Task ResendConverge();

    /// <summary>
    /// Applies a profile change (validated by the caller) atomically; a real change bumps the
    /// generation and tells the agent, an identical one changes nothing.
    /// </summary>
    Task<ProfileUpdate> Configure(ProfileChange change, string cause);

    /// <summary>Asks the agent for a plan of its current spec; the answer arrives through ReportPlan.</summary>
    Task SendPlan(string requestId);
}

internal sealed partial class HostGrain(
    HostStore hosts, HostCommandPublisher commands, IOptions<FleetOptions> options, TimeProvider time, ILogger<HostGrain> logger)
    : Grain, IHostGrain
{
    private string HostId => this.GetPrimaryKeyString();

    public Task<SpecChange> SetDesiredRelease(OdooRelease release, string cause) => SetDesiredRelease(release, null, null, cause);

    public async Task<SpecChange> SetDesiredRelease(OdooRelease release, ReleaseArtifact? artifact, ReleaseGate? gate, string cause)
    {
        var eventJson = Json.Serialize(new { release.Series, release.Commit, cause });
        // Persisted before announced: the generation bump commits first, then the message goes out.
        var change = await hosts.SetDesiredReleasesAsync([HostId], release, artifact, gate, eventJson, time.GetUtcNow(), CancellationToken.None);
        if (!change.TryGetValue(HostId, out var result))
        {
            throw new InvalidOperationException($"host {HostId} does not exist");
        }

        // Unchanged but not yet applied (e.g. the broker was down when it changed): tell the host
        // again. Converge is level-based, so a duplicate is harmless and a missing one is not.
        if (result.NeedsConverge)
        {
            await commands.TrySendConvergeAsync(HostId, result.Generation, CancellationToken.None);
        }

        return new SpecChange(result.Generation, result.Changed);
    }

    public async Task<ProfileUpdate> Configure(ProfileChange change, string cause)
    {
        var defaults = options.Value.ProfileDefaults;
        var update = await hosts.UpdateProfileAsync(
            HostId, current => ProfileRules.Apply(current, change, defaults), cause, time.GetUtcNow(), CancellationToken.None);
        if (update.Changed)
        {
            LogConfigured(logger, HostId, update.Generation, cause);
            await commands.TrySendConvergeAsync(HostId, update.Generation, CancellationToken.None);
        }

        return update;
    }

    public Task SendPlan(string requestId) => commands.SendPlanAsync(HostId, requestId, CancellationToken.None);

    public async Task ResendConverge()
    {
        var host = await hosts.FindAsync(HostId, CancellationToken.None)
            ?? throw new InvalidOperationException($"host {HostId} does not exist");
        await commands.SendConvergeAsync(HostId, host.DesiredGeneration, CancellationToken.None);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Host {HostId} profile changed by {Cause}: desired generation {Generation}")]
    private static partial void LogConfigured(ILogger logger, string hostId, long generation, string cause);
}
