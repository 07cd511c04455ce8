using System.Text.Json;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Transport;

/// <summary>The persisted nonce cache: each nonce with the time until which it must be remembered.</summary>
internal sealed record ReplayState
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    /// <summary>
    /// Set when the file was unreadable: commands issued before this are refused, since their nonces
    /// may have been in the lost file. Cleared once no such command can still be unexpired.
    /// </summary>
    public DateTimeOffset? RefuseIssuedBefore { get; init; }

    public Dictionary<string, DateTimeOffset> Nonces { get; init; } = new(StringComparer.Ordinal);
}

internal enum ReplayRecord
{
    Recorded,
    Replayed,
    Full,
}

/// <summary>
/// Remembers the nonce of every accepted command until it has expired (plus clock skew), in a file
/// written atomically before the command is acked, so a restart does not reopen a replay window.
/// Bounded: when full of unexpired nonces it refuses new commands rather than forget old ones.
/// </summary>
internal sealed class ReplayGuard : IDisposable
{
    public const int DefaultCapacity = 100_000;

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly string path;
    private readonly TimeProvider time;
    private readonly int capacity;
    private ReplayState state;

    private ReplayGuard(string path, TimeProvider time, int capacity, ReplayState state, string? corruptCopy)
    {
        this.path = path;
        this.time = time;
        this.capacity = capacity;
        this.state = state;
        CorruptCopy = corruptCopy;
    }

    /// <summary>Set when the file was unreadable and was moved aside.</summary>
    public string? CorruptCopy { get; }

    public int Count => Volatile.Read(ref state).Nonces.Count;

    public DateTimeOffset? RefuseIssuedBefore => Volatile.Read(ref state).RefuseIssuedBefore;

    public static async Task<ReplayGuard> OpenAsync(string path, TimeProvider time, CancellationToken ct, int capacity = DefaultCapacity)
    {
        if (!File.Exists(path))
        {
            return new ReplayGuard(path, time, capacity, new ReplayState(), null);
        }

        try
        {
            var loaded = JsonSerializer.Deserialize(await File.ReadAllBytesAsync(path, ct), AgentJsonContext.Default.ReplayState);
            if (loaded is not null && loaded.Version == ReplayState.CurrentVersion)
            {
                var nonces = new Dictionary<string, DateTimeOffset>(loaded.Nonces, StringComparer.Ordinal);
                return new ReplayGuard(path, time, capacity, Prune(loaded with { Nonces = nonces }, time.GetUtcNow()), null);
            }
        }
        catch (JsonException)
        {
            // Handled below.
        }

        // Keep the evidence; refuse everything issued before now, since any of it might be a replay.
        var aside = $"{path}.corrupt-{time.GetUtcNow():yyyyMMddTHHmmssZ}";
        File.Move(path, aside, overwrite: true);
        var fresh = new ReplayState { RefuseIssuedBefore = time.GetUtcNow() };
        await WriteAsync(path, fresh, ct);
        return new ReplayGuard(path, time, capacity, fresh, aside);
    }

    public bool HasSeen(string nonce) => Volatile.Read(ref state).Nonces.ContainsKey(nonce);

    /// <summary>Records <paramref name="nonce"/> (durably) unless it was seen before or the cache is full of unexpired nonces.</summary>
    public async Task<ReplayRecord> TryRecordAsync(string nonce, DateTimeOffset keepUntil, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            var current = Prune(state, time.GetUtcNow());
            if (current.Nonces.ContainsKey(nonce))
            {
                return ReplayRecord.Replayed;
            }

            if (current.Nonces.Count >= capacity)
            {
                return ReplayRecord.Full;
            }

            var next = current with { Nonces = new Dictionary<string, DateTimeOffset>(current.Nonces, StringComparer.Ordinal) { [nonce] = keepUntil } };
            await WriteAsync(path, next, ct);
            Volatile.Write(ref state, next);
            return ReplayRecord.Recorded;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>
    /// Forgets a nonce recorded for a command whose effect was never taken (its journal write or
    /// hand-off failed before the ack): the broker redelivers that same message, and it must then
    /// be accepted rather than refused as a replay. Never called once the effect happened.
    /// </summary>
    public async Task ForgetAsync(string nonce, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            if (!state.Nonces.ContainsKey(nonce))
            {
                return;
            }

            var kept = new Dictionary<string, DateTimeOffset>(state.Nonces, StringComparer.Ordinal);
            kept.Remove(nonce);
            var next = state with { Nonces = kept };
            await WriteAsync(path, next, ct);
            Volatile.Write(ref state, next);
        }
        finally
        {
            gate.Release();
        }
    }

    private static async Task WriteAsync(string path, ReplayState state, CancellationToken ct)
    {
        PrivateDirectory.Ensure(path);
        await AtomicFile.WriteAsync(
            path, JsonSerializer.SerializeToUtf8Bytes(state, AgentJsonContext.Default.ReplayState), UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
    }

    /// <summary>Drops nonces whose commands can no longer be accepted (the file catches up at the next record).</summary>
    private static ReplayState Prune(ReplayState current, DateTimeOffset now)
    {
        var floor = current.RefuseIssuedBefore is { } before && now > before + HostCommandDecoder.MaxLifetime + HostCommandDecoder.ClockSkew
            ? null
            : current.RefuseIssuedBefore;
        if (floor == current.RefuseIssuedBefore && current.Nonces.Values.All(until => until >= now))
        {
            return current;
        }

        var kept = current.Nonces.Where(p => p.Value >= now).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        return current with { Nonces = kept, RefuseIssuedBefore = floor };
    }

    public void Dispose() => gate.Dispose();
}
