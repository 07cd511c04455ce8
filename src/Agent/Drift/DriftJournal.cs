using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Drift;

/// <summary>An event in the drift journal and whether the controller has acknowledged it.</summary>
internal sealed record DriftJournalEntry(DriftEvent Event, bool Acknowledged);

internal sealed record DriftJournalState
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>Oldest first.</summary>
    public IReadOnlyList<DriftJournalEntry> Entries { get; init; } = [];

    /// <summary>Unacknowledged events dropped because the journal was full of them (the controller was away that long).</summary>
    public long Overflowed { get; init; }
}

/// <summary>
/// The drift events of this host, durable across agent restarts (JSON under the state directory,
/// written atomically on every change). Events stay until the controller acknowledged them; the
/// acknowledged ones are kept as local history and are the first to go when the journal is full.
/// When it is full of unacknowledged events, the oldest of those is dropped, counted and logged:
/// never silently.
/// </summary>
internal sealed partial class DriftJournal : IDisposable
{
    public const int DefaultCapacity = 10_000;

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly int capacity;
    private readonly ILogger logger;
    private DriftJournalState state;
    private TaskCompletionSource added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DriftJournal(string path, int capacity, DriftJournalState state, ILogger logger)
    {
        Path = path;
        this.capacity = capacity;
        this.state = state;
        this.logger = logger;
    }

    public string Path { get; }

    public DriftJournalState Current => Volatile.Read(ref state);

    /// <summary>Completes when events are added next (the reporter waits on it to send them).</summary>
    public Task NextAddition => Volatile.Read(ref added).Task;

    /// <summary>Loads the journal (once, at agent start).</summary>
    public static DriftJournal Open(string path, int capacity, TimeProvider time, ILogger logger)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        if (!File.Exists(path))
        {
            return new DriftJournal(path, capacity, new DriftJournalState(), logger);
        }

        try
        {
            var loaded = JsonSerializer.Deserialize(File.ReadAllBytes(path), DriftJsonContext.Default.DriftJournalState);
            if (loaded is not null && loaded.Version == DriftJournalState.CurrentVersion)
            {
                return new DriftJournal(path, capacity, loaded, logger);
            }
        }
        catch (JsonException)
        {
            // Handled below: the evidence is kept beside it.
        }

        var aside = $"{path}.corrupt-{time.GetUtcNow():yyyyMMddTHHmmssZ}";
        File.Move(path, aside, overwrite: true);
        LogCorrupt(logger, path, aside);
        return new DriftJournal(path, capacity, new DriftJournalState(), logger);
    }

    public void Dispose() => gate.Dispose();

    /// <summary>The oldest unacknowledged events, at most <paramref name="max"/>.</summary>
    public IReadOnlyList<DriftEvent> Unacknowledged(int max) =>
        Current.Entries.Where(e => !e.Acknowledged).Take(max).Select(e => e.Event).ToList();

    public async Task AddAsync(IReadOnlyList<DriftEvent> events, CancellationToken ct)
    {
        if (events.Count == 0)
        {
            return;
        }

        var dropped = 0;
        await UpdateAsync(
            s =>
            {
                var entries = s.Entries.Concat(events.Select(e => new DriftJournalEntry(e, false))).ToList();
                // Acknowledged history goes first, oldest first; then the oldest unacknowledged.
                for (var i = 0; i < entries.Count && entries.Count > capacity;)
                {
                    if (entries[i].Acknowledged)
                    {
                        entries.RemoveAt(i);
                    }
                    else
                    {
                        i++;
                    }
                }

                dropped = Math.Max(0, entries.Count - capacity);
                entries.RemoveRange(0, dropped);

                return s with { Entries = entries, Overflowed = s.Overflowed + dropped };
            },
            ct);
        if (dropped > 0)
        {
            LogOverflow(logger, dropped, capacity, Current.Overflowed);
        }

        Interlocked.Exchange(ref added, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>Marks the events the controller stored; unknown ids are ignored.</summary>
    public Task AcknowledgeAsync(IReadOnlyCollection<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return Task.CompletedTask;
        }

        var set = ids.ToHashSet(StringComparer.Ordinal);
        return UpdateAsync(
            s => s with { Entries = s.Entries.Select(e => !e.Acknowledged && set.Contains(e.Event.Id) ? e with { Acknowledged = true } : e).ToList() },
            ct);
    }

    private async Task UpdateAsync(Func<DriftJournalState, DriftJournalState> change, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            var next = change(state);
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!);
            var bytes = JsonSerializer.SerializeToUtf8Bytes(next, DriftJsonContext.Default.DriftJournalState);
            await AtomicFile.WriteAsync(Path, bytes, UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
            Volatile.Write(ref state, next);
        }
        finally
        {
            gate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "drift journal full ({Capacity} unacknowledged events): dropped the {Dropped} oldest, {Total} dropped so far; the controller has not acknowledged drift reports for a long time")]
    private static partial void LogOverflow(ILogger logger, int dropped, int capacity, long total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "drift journal {Path} was unreadable and was moved to {Aside}; starting from an empty drift journal")]
    private static partial void LogCorrupt(ILogger logger, string path, string aside);
}

[JsonSourceGenerationOptions(
    WriteIndented = false,
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UseStringEnumConverter = true)]
[JsonSerializable(typeof(DriftJournalState))]
internal sealed partial class DriftJsonContext : JsonSerializerContext;
