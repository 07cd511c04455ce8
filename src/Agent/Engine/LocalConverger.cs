using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Engine;

internal sealed record LocalConvergeResult(
    long Generation, ConvergeOutcome Outcome, ReleaseRef? RunningRelease, string? Error, DateTimeOffset StartedAt, DateTimeOffset FinishedAt)
{
    public bool Success => Error is null && Outcome.Success;

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

    public async Task<LocalConvergeResult> RunAsync(DesiredHost host, ConvergeMode mode, CancellationToken ct)
    {
        var started = time.GetUtcNow();
        using var hostLock = ConvergeLock.TryAcquire(lockPath)
            ?? throw new ConvergeBusyException($"another converge holds {lockPath} (the agent service or a manual `odoofleet-agent converge`); try again when it is done");
        ConvergeOutcome outcome;
        string? error = null;
        IReadOnlyList<string> explanation = [];
        try
        {
            // Everything is rendered and validated here, before anything is touched.
            var profile = OdooProfile.Compile(host, environment, persistSecrets: mode == ConvergeMode.Apply);
            explanation = profile.Explanation;
            outcome = await engine.RunAsync(profile.Resources, mode, ct);
        }
        catch (Exception e) when (e is SpecValidationException or InvalidOperationException)
        {
            logger.LogError("generation {Generation}: {Error}", host.Generation, e.Message);
            outcome = new ConvergeOutcome([]);
            error = e.Message;
        }

        return new LocalConvergeResult(
            host.Generation, outcome, OdooProfile.RunningRelease(environment.Paths, environment.Layout), error ?? outcome.Error, started, time.GetUtcNow())
        {
            Explanation = explanation,
        };
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
