using System.Text.Json;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// What the agent has promised and done, durable across crashes. Generations only grow.
/// </summary>
internal sealed record JournalState
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>Highest generation received (acked on the queue or seen in a heartbeat) and not yet converged successfully; 0 = none.</summary>
    public long PendingGeneration { get; init; }

    /// <summary>Highest generation converged successfully.</summary>
    public long AppliedGeneration { get; init; }

    /// <summary>Highest successfully applied generation whose report the controller acknowledged.</summary>
    public long ReportedGeneration { get; init; }

    public LastConverge? Last { get; init; }

    /// <summary>The generation to converge again after a restart, or 0 when nothing is owed.</summary>
    public long RecoveryGeneration()
    {
        var owed = 0L;
        if (PendingGeneration > AppliedGeneration)
        {
            owed = PendingGeneration;
        }

        if (Last is { Reported: false } last)
        {
            owed = Math.Max(owed, last.Generation);
        }

        return owed;
    }
}

internal sealed record LastConverge
{
    public long Generation { get; init; }
    public bool Success { get; init; }
    public bool Reported { get; init; }
    public DateTimeOffset StartedAt { get; init; }
    public DateTimeOffset FinishedAt { get; init; }
    public string? Error { get; init; }
    public string? RunningRelease { get; init; }
    public IReadOnlyList<JournalResult> Results { get; init; } = [];
}

internal sealed record JournalResult(string Id, string Kind, ResourceStatus Status, string Message, long DurationMs);

/// <summary>The journal file: every update is written atomically with fsync before the caller goes on.</summary>
internal sealed class Journal : IDisposable
{
    private readonly SemaphoreSlim gate = new(1, 1);
    private JournalState state;

    private Journal(string path, JournalState state, string? recoveredFrom)
    {
        Path = path;
        this.state = state;
        CorruptCopy = recoveredFrom;
    }

    public string Path { get; }

    public JournalState Current => Volatile.Read(ref state);

    /// <summary>Set when the file was unreadable and was moved aside; the agent then starts empty and converges anew.</summary>
    public string? CorruptCopy { get; }

    public static async Task<Journal> OpenAsync(string path, TimeProvider time, CancellationToken ct)
    {
        if (!File.Exists(path))
        {
            return new Journal(path, new JournalState(), null);
        }

        try
        {
            var loaded = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(path, ct), AgentJsonContext.Default.JournalState);
            if (loaded is not null && loaded.Version == JournalState.CurrentVersion)
            {
                return new Journal(path, loaded, null);
            }
        }
        catch (JsonException)
        {
            // Handled below: keep the evidence, start over (the controller's generation brings us back).
        }

        var aside = $"{path}.corrupt-{time.GetUtcNow():yyyyMMddTHHmmssZ}";
        File.Move(path, aside, overwrite: true);
        return new Journal(path, new JournalState(), aside);
    }

    public void Dispose() => gate.Dispose();

    public async Task<JournalState> UpdateAsync(Func<JournalState, JournalState> change, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            var next = change(state);
            var directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!;
            Directory.CreateDirectory(directory);
            var bytes = JsonSerializer.SerializeToUtf8Bytes(next, AgentJsonContext.Default.JournalState);
            await AtomicFile.WriteAsync(Path, bytes, UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
            Volatile.Write(ref state, next);
            return next;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Records a generation we promised to converge (before acking its message).</summary>
    public Task<JournalState> MarkPendingAsync(long generation, CancellationToken ct) =>
        UpdateAsync(s => generation > s.PendingGeneration ? s with { PendingGeneration = generation } : s, ct);

    /// <summary>Records a finished converge (not yet reported).</summary>
    public Task<JournalState> RecordConvergeAsync(LastConverge converge, CancellationToken ct) =>
        UpdateAsync(
            s => converge.Success
                ? s with
                {
                    Last = converge,
                    AppliedGeneration = Math.Max(s.AppliedGeneration, converge.Generation),
                    PendingGeneration = s.PendingGeneration <= converge.Generation ? 0 : s.PendingGeneration,
                }
                : s with { Last = converge },
            ct);

    /// <summary>Records that the controller acknowledged the report of <paramref name="generation"/>.</summary>
    public Task<JournalState> RecordReportedAsync(long generation, CancellationToken ct) =>
        UpdateAsync(
            s => s.Last is { } last && last.Generation == generation
                ? s with
                {
                    Last = last with { Reported = true },
                    ReportedGeneration = last.Success ? Math.Max(s.ReportedGeneration, generation) : s.ReportedGeneration,
                }
                : s,
            ct);
}
