using System.Text.Json;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Release;

internal enum TransitionOutcome
{
    Updated,
    Reverted,
    Failed,
}

/// <summary>Phases, in order; the journal holds the one about to run (or the one it ended in).</summary>
internal static class TransitionPhase
{
    public const string Preflight = "preflight";
    public const string Backup = "backup";
    public const string Stage = "stage";
    public const string Switch = "switch";
    public const string Migrate = "migrate";
    public const string Restart = "restart";
    public const string Health = "health";
    public const string Revert = "revert";
    public const string Done = "done";

    /// <summary>Phases after Odoo was stopped: a failure there (or a crash) must be reverted.</summary>
    public static bool StoppedOdoo(string phase) => phase is Switch or Migrate or Restart or Health or Revert;
}

internal sealed record DatabaseRecord
{
    public required string Name { get; init; }
    public IReadOnlyList<string> Modules { get; init; } = [];
    public string? Dump { get; init; }

    /// <summary>Set before `-u` runs: from then on the database may be changed, and a revert restores it.</summary>
    public bool UpdateStarted { get; init; }

    public bool Restored { get; init; }
}

/// <summary>One release transition as journaled (transition.json): written before each phase.</summary>
internal sealed record TransitionRecord
{
    public long Generation { get; init; }
    public required string From { get; init; }
    public required string To { get; init; }
    public string? RolloutId { get; init; }
    public string Phase { get; init; } = TransitionPhase.Preflight;

    /// <summary>The phase that failed (kept while the revert runs; the report names it).</summary>
    public string? FailedPhase { get; init; }

    /// <summary>What the health checks need to run again after a restart of the agent.</summary>
    public int HttpPort { get; init; }

    public int HealthTimeoutSeconds { get; init; }

    public int MinHealthySeconds { get; init; }

    /// <summary>Null while the transition runs.</summary>
    public TransitionOutcome? Outcome { get; init; }

    public string? Reason { get; init; }
    public string? LogTail { get; init; }
    public IReadOnlyList<DatabaseRecord> Databases { get; init; } = [];
    public DateTimeOffset StartedAt { get; init; }

    /// <summary>When Odoo was stopped (null while it still serves): the start of the unavailability.</summary>
    public DateTimeOffset? StoppedAt { get; init; }

    public long UnavailableMs { get; init; }
    public int Restarts { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }

    public ReleaseRef FromRelease => ParseRelease(From);

    public ReleaseRef ToRelease => ParseRelease(To);

    public static ReleaseRef ParseRelease(string directoryName) =>
        ReleaseRef.TryParseDirectoryName(directoryName) ?? throw new InvalidDataException($"transition journal: '{directoryName}' is not a release directory name");
}

/// <summary>What a converge does about the release, decided from the journal and the host alone.</summary>
internal abstract record TransitionDecision
{
    /// <summary>No transition: a first install, the release already running, or no release.</summary>
    internal sealed record None : TransitionDecision;

    /// <summary>Run a transition from the running release to the desired one.</summary>
    internal sealed record Run(ReleaseRef From, ReleaseRef To) : TransitionDecision;

    /// <summary>This generation's transition already ended: never run it again; keep what it left (its From, unless it updated).</summary>
    internal sealed record Ended(TransitionRecord Record) : TransitionDecision;

    public static TransitionDecision Decide(TransitionRecord? journal, long generation, ReleaseRef? desired, ReleaseRef? running)
    {
        if (journal is { Outcome: not null } ended && ended.Generation == generation && desired?.DirectoryName == ended.To)
        {
            return new Ended(ended);
        }

        if (desired is null || running is null || running == desired)
        {
            return new None();
        }

        return new Run(running, desired);
    }

    /// <summary>At agent start: a journaled transition without an outcome was interrupted and must be reverted.</summary>
    public static bool MustRecover(TransitionRecord? journal) => journal is { Outcome: null };
}

/// <summary>transition.json: the current (or last) transition, written atomically (fsync, rename) before each phase.</summary>
internal sealed class TransitionJournal(string path)
{
    public string Path => path;

    public TransitionRecord? Load()
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), AgentJsonContext.Default.TransitionRecord);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path} is not a transition journal ({e.Message}); move it aside after checking /opt/odoo/current and odoo.service by hand");
        }
    }

    public async Task<TransitionRecord> WriteAsync(TransitionRecord record, CancellationToken ct)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(record, AgentJsonContext.Default.TransitionRecord);
        await AtomicFile.WriteAsync(path, bytes, UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
        return record;
    }
}
