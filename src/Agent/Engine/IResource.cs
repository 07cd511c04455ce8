namespace OdooFleet.Agent.Engine;

/// <summary>
/// One thing on the host the agent keeps true. Observe and Diff never mutate (check mode is the
/// same path minus Apply); Apply makes the diff true and may assume Observe ran just before.
/// </summary>
internal interface IResource
{
    /// <summary>Unique within a converge, "kind:name", e.g. "file:/etc/odoo.conf".</summary>
    string Id { get; }

    string Kind { get; }

    /// <summary>Ids of resources that must be converged first; a failed one skips this one.</summary>
    IReadOnlyList<string> DependsOn { get; }

    /// <summary>
    /// Whether the engine may observe this resource early, in parallel with others (observation
    /// never mutates; false for observations that wait, like a health check's polling).
    /// </summary>
    bool CanPrefetch { get; }

    Task<Observation> ObserveAsync(CancellationToken ct);

    /// <summary>
    /// What must change, or null if nothing. <paramref name="changedDependencies"/> holds the
    /// dependencies that changed (or would change, in check mode) in this converge, for resources
    /// that react to others (restart a service when its config changed).
    /// </summary>
    Change? Diff(Observation observed, IReadOnlySet<string> changedDependencies);

    /// <summary>Makes <paramref name="change"/> true; returns a message for the report or null for the change's description.</summary>
    Task<string?> ApplyAsync(Change change, CancellationToken ct);
}

/// <summary>Base class that gives each kind a typed observation.</summary>
internal abstract class Resource<TObservation> : IResource
    where TObservation : Observation
{
    public abstract string Id { get; }

    public abstract string Kind { get; }

    public IReadOnlyList<string> DependsOn { get; init; } = [];

    public virtual bool CanPrefetch => true;

    public async Task<Observation> ObserveAsync(CancellationToken ct) => await ObserveTypedAsync(ct);

    public Change? Diff(Observation observed, IReadOnlySet<string> changedDependencies) =>
        Diff((TObservation)observed, changedDependencies);

    public abstract Task<string?> ApplyAsync(Change change, CancellationToken ct);

    protected abstract Task<TObservation> ObserveTypedAsync(CancellationToken ct);

    protected abstract Change? Diff(TObservation observed, IReadOnlySet<string> changedDependencies);
}

/// <summary>A resource that cannot be made true by this agent (e.g. a health check that stays red).</summary>
internal sealed class ResourceFailedException(string message) : Exception(message);
