using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Release;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Engine;

internal sealed record LocalConvergeResult(
    long Generation, ConvergeOutcome Outcome, ReleaseRef? RunningRelease, string? Error, DateTimeOffset StartedAt, DateTimeOffset FinishedAt)
{
    public bool Success => Error is null && Outcome.Success && Transition is not { Outcome: not TransitionOutcome.Updated };

    /// <summary>The release transition this generation ran (or ran before: a journaled one is never run twice).</summary>
    public TransitionRecord? Transition { get; init; }

    /// <summary>How the profile sized this host (workers, memory limits, PostgreSQL settings), one line per decision.</summary>
    public IReadOnlyList<string> Explanation { get; init; } = [];
}

/// <summary>
/// Compiles a desired host with the profile and runs it, holding the host-wide converge lock so
/// the service and a manual `converge` never apply at the same time.
/// </summary>
internal sealed class LocalConverger(ProfileEnvironment environment, ConvergeEngine engine, string lockPath, TimeProvider time, ILogger<LocalConverger> logger)
{
    /// <summary>The host-wide converge lock for work besides converges (drift checks and corrections); null while another holds it.</summary>
    public IDisposable? TryLock() => ConvergeLock.TryAcquire(lockPath);

    public TransitionJournal Transitions { get; } = new(Path.Combine(environment.StateDirectory, "transition.json"));

    /// <summary>
    /// The host as it must be converged: unchanged, unless this generation's transition to its release
    /// ended without updating; then the release that was put back is kept (drift and resent converges too).
    /// </summary>
    public DesiredHost Effective(DesiredHost host)
    {
        try
        {
            return KeepReverted(host, Transitions.Load());
        }
        catch (InvalidDataException e)
        {
            // Callers (drift) treat an uncompilable spec as "not measured": never correct against a guess.
            throw new InvalidOperationException(e.Message, e);
        }
    }

    public static DesiredHost KeepReverted(DesiredHost host, TransitionRecord? journal) =>
        TransitionDecision.Decide(journal, host.Generation, host.Odoo.Release, null) is TransitionDecision.Ended { Record: { Outcome: not TransitionOutcome.Updated } ended }
            ? host with { Odoo = host.Odoo with { Release = ended.FromRelease, Artifact = null, ReleaseKept = true } }
            : host;

    /// <summary>
    /// Prefetches a release (tree and venv) without switching, under the converge lock so it never
    /// races a converge over the same directory. AlreadyStaged when nothing had to change.
    /// </summary>
    public async Task<(bool AlreadyStaged, string? Error)> StageAsync(
        ReleaseRef release, ReleaseArtifactRef? artifact, string sourceUrl, string? wheelhouse, CancellationToken ct)
    {
        using var hostLock = ConvergeLock.TryAcquire(lockPath)
            ?? throw new ConvergeBusyException($"another converge holds {lockPath}; staging waits for it");
        IReadOnlyList<IResource> resources;
        try
        {
            resources = OdooProfile.StageResources(release, artifact, sourceUrl, wheelhouse, environment);
        }
        catch (SpecValidationException e)
        {
            return (false, e.Message);
        }

        var check = await engine.RunAsync(resources, ConvergeMode.Check, ct);
        if (check.Results.All(r => r.Status == ResourceStatus.Unchanged))
        {
            return (true, null);
        }

        var staged = await engine.RunAsync(resources, ConvergeMode.Apply, ct);
        return (false, staged.Success ? null : staged.Error);
    }

    /// <summary>At agent start, under the converge lock: reverts a transition the agent was killed in; null when there was none.</summary>
    public async Task<TransitionRecord?> RecoverAsync(CancellationToken ct)
    {
        if (!TransitionDecision.MustRecover(Transitions.Load()))
        {
            return null;
        }

        using var hostLock = ConvergeLock.TryAcquire(lockPath)
            ?? throw new ConvergeBusyException($"another converge holds {lockPath}; the interrupted release transition is reverted when it is done");
        var cluster = OdooProfile.LocalCluster(environment.Facts());
        return await NewTransition(cluster).RecoverAsync(ct);
    }

    private ReleaseTransition NewTransition(PostgresCluster cluster) => new(
        new TransitionContext(
            environment.Paths, environment.Runner, environment.Http, time, environment.Layout, new Psql(environment.Runner, cluster),
            Path.Combine(environment.StateDirectory, "rollout-backups"))
        {
            HealthInterval = environment.HealthInterval,
        },
        Transitions,
        logger);

    public async Task<LocalConvergeResult> RunAsync(DesiredHost host, ConvergeMode mode, CancellationToken ct)
    {
        var started = time.GetUtcNow();
        using var hostLock = ConvergeLock.TryAcquire(lockPath)
            ?? throw new ConvergeBusyException($"another converge holds {lockPath} (the agent service or a manual `odoofleet-agent converge`); try again when it is done");
        ConvergeOutcome outcome;
        string? error = null;
        IReadOnlyList<string> explanation = [];
        TransitionRecord? transition = null;
        try
        {
            var journaled = Transitions.Load();
            var decision = TransitionDecision.Decide(journaled, host.Generation, host.Odoo.Release, OdooProfile.RunningRelease(environment.Paths, environment.Layout));
            if (decision is TransitionDecision.Ended ended)
            {
                transition = ended.Record;
                host = KeepReverted(host, journaled);
            }

            // Everything is rendered and validated here, before anything is touched.
            var profile = OdooProfile.Compile(host, environment, persistSecrets: mode == ConvergeMode.Apply);
            if (mode == ConvergeMode.Apply && decision is TransitionDecision.Run run && profile.Cluster is { } cluster)
            {
                // A release change on a running host: the transition switches, migrates and restarts; the
                // graph then finds the release in place (no second restart) or keeps the one put back.
                var request = new TransitionRequest(host.Generation, run.From, run.To, host.Odoo.Gate, host.Odoo.HttpPort);
                transition = await NewTransition(cluster).RunAsync(request, token => StageAsync(profile, token), ct);
                host = KeepReverted(host, transition);
                profile = OdooProfile.Compile(host, environment, persistSecrets: true);
            }

            explanation = profile.Explanation;
            outcome = await engine.RunAsync(profile.Resources, mode, ct);
        }
        catch (InvalidDataException e)
        {
            logger.LogError("generation {Generation}: {Error}", host.Generation, e.Message);
            outcome = new ConvergeOutcome([]);
            error = e.Message;
        }
        catch (Exception e) when (e is SpecValidationException or InvalidOperationException)
        {
            logger.LogError("generation {Generation}: {Error}", host.Generation, e.Message);
            outcome = new ConvergeOutcome([]);
            error = e.Message;
        }

        if (error is null && transition is { Outcome: not TransitionOutcome.Updated } failed)
        {
            error = $"release change {failed.From} -> {failed.To} {failed.Outcome.ToString()!.ToUpperInvariant()} in {failed.Phase}: {failed.Reason}";
        }

        return new LocalConvergeResult(
            host.Generation, outcome, OdooProfile.RunningRelease(environment.Paths, environment.Layout), error ?? outcome.Error, started, time.GetUtcNow())
        {
            Explanation = explanation,
            Transition = transition,
        };
    }

    /// <summary>The transition's stage phase: the release tree and its venv, through the engine; the error, or null.</summary>
    private async Task<string?> StageAsync(CompiledProfile profile, CancellationToken ct)
    {
        var staged = await engine.RunAsync(profile.Resources, ConvergeMode.Apply, new ConvergeScope(profile.StageIds), ct);
        return staged.Success ? null : staged.Error;
    }
}

internal sealed class ConvergeBusyException(string message) : Exception(message);

/// <summary>An exclusive advisory lock (flock via FileShare.None) on a lock file.</summary>
internal sealed class ConvergeLock : IDisposable
{
    private readonly FileStream stream;

    private ConvergeLock(FileStream stream) => this.stream = stream;

    public static ConvergeLock? TryAcquire(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        try
        {
            return new ConvergeLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public void Dispose() => stream.Dispose();
}
