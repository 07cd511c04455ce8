using System.Globalization;
using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Planning;

/// <summary>A host a rollout may touch, and the release it moves that host to.</summary>
internal sealed record RolloutTarget(string HostId, string Name, OdooRelease Release);

/// <summary>A host as the planner sees it.</summary>
internal sealed record PlannableHost(string HostId, string Name, IReadOnlyDictionary<string, string> Labels);

/// <summary>What the caller asked for, as given (empty or zero = the default).</summary>
internal sealed record RolloutOptions(
    IReadOnlyDictionary<string, string> Selector,
    int Canary,
    string Batch,
    string MaxFailures,
    int HealthTimeoutSeconds,
    int MinHealthySeconds,
    bool PauseAfterCanary,
    bool NoBackup,
    OfflinePolicy Offline);

internal sealed record PlannedBatch(int Index, bool Canary, IReadOnlyList<RolloutTarget> Hosts);

internal sealed record RolloutPlan(RolloutPolicy Policy, IReadOnlyList<PlannedBatch> Batches);

/// <summary>"N" hosts or "P%" of the targets.</summary>
internal readonly record struct HostShare(int Value, bool IsPercent)
{
    /// <summary>
    /// Hosts this share is of <paramref name="total"/>. A batch rounds up (10% of 5 hosts is one
    /// host, never zero); a failure budget rounds down (10% of 5 tolerates none).
    /// </summary>
    public int Of(int total, bool roundUp) =>
        !IsPercent ? Math.Min(Value, total)
        : roundUp ? (int)Math.Ceiling(total * Value / 100.0)
        : total * Value / 100;

    public override string ToString() => IsPercent ? $"{Value}%" : Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Pure: targets (matching hosts, ordered by name) and options -> the resolved policy and the
/// batches. The canary, if any, is batch 0; the rest go in batches of N hosts or P% of the targets.
/// </summary>
internal static class RolloutPlanner
{
    public const string DefaultBatch = "25%";
    public const string DefaultMaxFailures = "0";
    public const int DefaultHealthTimeoutSeconds = 300;
    public const int DefaultMinHealthySeconds = 10;
    public const int MaxHealthTimeoutSeconds = 86400;
    private const int MaxCount = 100_000;

    /// <summary>The hosts whose labels carry every selector pair, ordered by name.</summary>
    public static IReadOnlyList<PlannableHost> Select(IEnumerable<PlannableHost> hosts, IReadOnlyDictionary<string, string> selector) =>
        [.. hosts
            .Where(h => selector.All(s => h.Labels.TryGetValue(s.Key, out var value) && value == s.Value))
            .OrderBy(h => h.Name, StringComparer.Ordinal)];

    /// <summary>Parses "N" or "P%"; the error names the field, the rule and an example.</summary>
    public static (HostShare? Share, string? Error) ParseShare(string field, string text, bool allowZero)
    {
        var min = allowZero ? 0 : 1;
        var rule = $"{field}: \"{Printable(text)}\" must be a host count (e.g. {(allowZero ? 0 : 5)}) or a percentage {min}%..100% (e.g. 10%)";
        var trimmed = text.Trim();
        var percent = trimmed.EndsWith('%');
        var digits = percent ? trimmed[..^1] : trimmed;
        if (digits.Length is 0 or > 6 || !digits.All(char.IsAsciiDigit))
        {
            return (null, rule);
        }

        var value = int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        if (value < min || (percent && value > 100) || value > MaxCount)
        {
            return (null, rule);
        }

        return (new HostShare(value, percent), null);
    }

    /// <summary>The plan, or every error in the options (each naming its field, the rule and a fix).</summary>
    public static (RolloutPlan? Plan, IReadOnlyList<string> Errors) Plan(IReadOnlyList<RolloutTarget> targets, RolloutOptions options)
    {
        var errors = new List<string>();
        var batchText = options.Batch.Length == 0 ? DefaultBatch : options.Batch;
        var maxFailuresText = options.MaxFailures.Length == 0 ? DefaultMaxFailures : options.MaxFailures;
        var (batch, batchError) = ParseShare("batch", batchText, allowZero: false);
        var (maxFailures, maxFailuresError) = ParseShare("max_failures", maxFailuresText, allowZero: true);
        errors.AddRange(new[] { batchError, maxFailuresError }.OfType<string>());
        if (options.Canary < 0 || options.Canary > targets.Count)
        {
            errors.Add($"canary: {options.Canary} must be 0..{targets.Count} (the number of target hosts); e.g. --canary 1");
        }

        var healthTimeout = options.HealthTimeoutSeconds == 0 ? DefaultHealthTimeoutSeconds : options.HealthTimeoutSeconds;
        var minHealthy = options.MinHealthySeconds == 0 ? DefaultMinHealthySeconds : options.MinHealthySeconds;
        if (healthTimeout is < 1 or > MaxHealthTimeoutSeconds)
        {
            errors.Add($"health_timeout: {options.HealthTimeoutSeconds} s must be 1 s..24 h (e.g. --health-timeout 5m)");
        }
        else if (minHealthy < 1 || minHealthy > healthTimeout)
        {
            errors.Add($"min_healthy: {options.MinHealthySeconds} s must be at least 1 s and at most the health timeout ({healthTimeout} s); e.g. --min-healthy 10s");
        }

        if (options.PauseAfterCanary && options.Canary == 0)
        {
            errors.Add("pause_after_canary: needs a canary batch; add e.g. --canary 1 or drop --pause-after-canary");
        }

        if (targets.Count == 0)
        {
            errors.Add("selector: no host matches; check the labels with `fleet hosts` or drop --selector");
        }

        if (errors.Count > 0)
        {
            return (null, errors);
        }

        var policy = new RolloutPolicy(
            new SortedDictionary<string, string>(options.Selector.ToDictionary(), StringComparer.Ordinal),
            options.Canary,
            batch!.Value.ToString(),
            maxFailures!.Value.ToString(),
            maxFailures.Value.Of(targets.Count, roundUp: false),
            healthTimeout,
            minHealthy,
            options.PauseAfterCanary,
            options.NoBackup,
            options.Offline);
        var batches = new List<PlannedBatch>();
        if (options.Canary > 0)
        {
            batches.Add(new PlannedBatch(0, true, [.. targets.Take(options.Canary)]));
        }

        var size = Math.Max(1, batch.Value.Of(targets.Count, roundUp: true));
        foreach (var chunk in targets.Skip(options.Canary).Chunk(size))
        {
            batches.Add(new PlannedBatch(batches.Count, false, chunk));
        }

        return (new RolloutPlan(policy, batches), []);
    }

    private static string Printable(string value) => UntrustedText.Printable(value, 32);
}
