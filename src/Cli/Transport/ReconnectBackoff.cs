namespace OdooFleet.Cli.Transport;

/// <summary>Exponential backoff with jitter, so CLIs watching through a controller restart do not reconnect in lockstep.</summary>
internal static class ReconnectBackoff
{
    public static readonly TimeSpan First = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan Cap = TimeSpan.FromSeconds(10);

    /// <param name="attempt">1 for the first reconnect.</param>
    /// <param name="jitter">0..1; 0.5 gives the nominal delay, the range is ±25%.</param>
    public static TimeSpan Delay(int attempt, double jitter)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 16);
        var nominal = Math.Min(Cap.TotalMilliseconds, First.TotalMilliseconds * Math.Pow(2, exponent));
        return TimeSpan.FromMilliseconds(nominal * (0.75 + (Math.Clamp(jitter, 0, 1) * 0.5)));
    }

#pragma warning disable CA5394 // Jitter, not security: Random.Shared is the right tool.
    public static TimeSpan Jittered(int attempt) => Delay(attempt, Random.Shared.NextDouble());
#pragma warning restore CA5394
}
