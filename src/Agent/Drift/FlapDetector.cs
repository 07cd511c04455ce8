namespace OdooFleet.Agent.Drift;

/// <summary>One earlier drift of a resource: when it was found and whether the agent put it back.</summary>
internal readonly record struct DriftDetection(DateTimeOffset At, bool Corrected);

/// <summary>When a resource counts as flapping and how correction backs off.</summary>
internal sealed record FlapSettings
{
    public static readonly FlapSettings Default = new();

    /// <summary>This many corrections within <see cref="Window"/> make a resource flapping.</summary>
    public int Threshold { get; init; } = 3;

    public TimeSpan Window { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>First pause after flapping began; doubles with every further correction.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMinutes(1);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromHours(1);

    /// <summary>No drift for this long ends an episode: the resource is no longer flapping.</summary>
    public TimeSpan QuietWindow { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>What to do about a drift found now.</summary>
/// <param name="Flapping">The resource keeps drifting back: the event says FLAPPING.</param>
/// <param name="MayCorrect">Correction is allowed now (false while backing off).</param>
/// <param name="NextCorrectionAt">While backing off, when a correction is allowed again.</param>
/// <param name="Recurred">The same resource drifted before within the flapping window.</param>
internal readonly record struct FlapDecision(bool Flapping, bool MayCorrect, DateTimeOffset? NextCorrectionAt, bool Recurred);

/// <summary>
/// Flapping as a pure function of a resource's earlier drifts. An episode is a run of drifts with
/// no gap of <see cref="FlapSettings.QuietWindow"/> or more (nor since the last one). Within an
/// episode, the correction that makes <see cref="FlapSettings.Threshold"/> corrections within
/// <see cref="FlapSettings.Window"/> starts flapping; from then on the k-th further correction
/// waits min(initial·2^k, max) after the one before, so something on the host that fights the
/// agent is met at most once an hour instead of in a loop.
/// </summary>
internal static class FlapDetector
{
    /// <param name="history">The resource's earlier drifts, oldest first (not including the one found now).</param>
    public static FlapDecision Decide(IReadOnlyList<DriftDetection> history, DateTimeOffset now, FlapSettings settings)
    {
        var recurred = history.Count > 0 && now - history[^1].At < settings.Window;
        var corrections = CurrentEpisodeCorrections(history, now, settings.QuietWindow);
        var started = FlappingStartedAt(corrections, settings);
        if (started < 0)
        {
            // Not flapping yet: correcting now may be the correction that starts it.
            var recent = corrections.Count(c => now - c < settings.Window);
            return new FlapDecision(recent + 1 >= settings.Threshold, true, null, recurred);
        }

        var since = corrections.Count - 1 - started;
        var delay = Backoff(since, settings);
        var next = corrections[^1] + delay;
        return now >= next
            ? new FlapDecision(true, true, null, recurred)
            : new FlapDecision(true, false, next, recurred);
    }

    /// <summary>Longest history kept per resource: days of a resource flapping at the 1 h cap.</summary>
    public const int MaxHistory = 256;

    /// <summary>
    /// Appends <paramref name="detection"/> to <paramref name="history"/>, compacted: a drift found
    /// again and again while correction backs off (every second, for a process fighting the agent)
    /// replaces the previous uncorrected one when that keeps every gap below the quiet window, so
    /// the decision is unchanged and the history stays small.
    /// </summary>
    public static void Record(List<DriftDetection> history, DriftDetection detection, FlapSettings settings)
    {
        if (!detection.Corrected && history.Count >= 2
            && !history[^1].Corrected && !history[^2].Corrected
            && detection.At - history[^2].At < settings.QuietWindow)
        {
            history[^1] = detection;
            return;
        }

        history.Add(detection);
        if (history.Count > MaxHistory)
        {
            history.RemoveRange(0, history.Count - MaxHistory);
        }
    }

    /// <summary>The pause after the flapping-starting correction followed by <paramref name="since"/> more.</summary>
    public static TimeSpan Backoff(int since, FlapSettings settings)
    {
        // 2^20 minutes is far past any cap; stop doubling before it overflows.
        var factor = Math.Pow(2, Math.Min(since, 20));
        return TimeSpan.FromTicks((long)Math.Min(settings.MaxBackoff.Ticks, settings.InitialBackoff.Ticks * factor));
    }

    private static List<DateTimeOffset> CurrentEpisodeCorrections(IReadOnlyList<DriftDetection> history, DateTimeOffset now, TimeSpan quiet)
    {
        var corrections = new List<DateTimeOffset>();
        if (history.Count == 0 || now - history[^1].At >= quiet)
        {
            return corrections;
        }

        var start = history.Count - 1;
        while (start > 0 && history[start].At - history[start - 1].At < quiet)
        {
            start--;
        }

        for (var i = start; i < history.Count; i++)
        {
            if (history[i].Corrected)
            {
                corrections.Add(history[i].At);
            }
        }

        return corrections;
    }

    /// <summary>Index of the correction that started flapping in this episode, or -1.</summary>
    private static int FlappingStartedAt(List<DateTimeOffset> corrections, FlapSettings settings)
    {
        for (var i = settings.Threshold - 1; i < corrections.Count; i++)
        {
            if (corrections[i] - corrections[i - settings.Threshold + 1] < settings.Window)
            {
                return i;
            }
        }

        return -1;
    }
}
