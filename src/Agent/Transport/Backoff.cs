namespace OdooFleet.Agent.Transport;

/// <summary>
/// Exponential backoff with full jitter: the n-th delay is uniform in [0, min(cap, initial·2ⁿ)],
/// so a controller restart does not make every agent reconnect at the same instant.
/// </summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan cap, Random random, TimeProvider time)
{
    private int attempt;

    public static Backoff Default(TimeProvider time) =>
        new(TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(30), Random.Shared, time);

    /// <summary>The upper bound of the next delay.</summary>
    public TimeSpan NextCeiling
    {
        get
        {
            // 2^30 half-seconds is far beyond any cap; stop doubling before it overflows.
            var factor = Math.Pow(2, Math.Min(attempt, 30));
            return TimeSpan.FromTicks((long)Math.Min(cap.Ticks, initial.Ticks * factor));
        }
    }

    public TimeSpan Next()
    {
        var ceiling = NextCeiling;
        attempt++;
        return TimeSpan.FromTicks((long)(ceiling.Ticks * random.NextDouble()));
    }

    /// <summary>Call after a success: the next failure starts from the initial delay again.</summary>
    public void Reset() => attempt = 0;

    public Task DelayAsync(CancellationToken ct) => Task.Delay(Next(), time, ct);
}
