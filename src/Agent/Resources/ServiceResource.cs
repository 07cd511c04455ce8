using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A systemd service that is enabled and active. Reloads systemd only when one of
/// <paramref name="reloadOn"/> changed in this converge, restarts when one of
/// <paramref name="restartOn"/> did (new release, config or unit), and reloads the service itself
/// (`systemctl reload`, e.g. nginx after a site changed) when one of
/// <see cref="ReloadServiceOn"/> did and no restart or start is due anyway.
/// </summary>
internal sealed class ServiceResource(ICommandRunner runner, string unit, IReadOnlySet<string> reloadOn, IReadOnlySet<string> restartOn)
    : Resource<ServiceResource.Observed>
{
    internal sealed record Observed(string Enabled, string Active) : Observation;

    private sealed record ServiceChange(string Description, bool DaemonReload, bool Enable, bool Restart, bool Start) : Change(Description)
    {
        public bool ReloadService { get; init; }
    }

    /// <summary>Resources whose change needs `systemctl reload` of this service (its own config, read on SIGHUP).</summary>
    public IReadOnlySet<string> ReloadServiceOn { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Waits after `systemctl reload` until the service serves with what it re-read (nginx); null = the signal is enough.</summary>
    public NginxReloadWatch? ReloadWatch { get; init; }

    public override string Id => $"service:{unit}";

    public override string Kind => "service";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        // Both print their answer and exit non-zero for "disabled"/"inactive": the text is what counts.
        var enabled = await runner.RunAsync(Systemctl("is-enabled", "--", unit), ct);
        var active = await runner.RunAsync(Systemctl("is-active", "--", unit), ct);
        if (enabled.ExitCode == CommandResult.NotFoundExitCode || enabled.TimedOut)
        {
            throw new CommandFailedException(enabled.Describe(Systemctl("is-enabled", "--", unit)));
        }

        return new Observed(FirstLine(enabled.Stdout), FirstLine(active.Stdout));
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var reload = changedDependencies.Overlaps(reloadOn);
        var restartBecause = changedDependencies.Where(restartOn.Contains).Order(StringComparer.Ordinal).ToList();
        var enable = observed.Enabled != "enabled";
        var start = observed.Active != "active";
        var restart = restartBecause.Count > 0 && !start;
        var reloadBecause = changedDependencies.Where(ReloadServiceOn.Contains).Order(StringComparer.Ordinal).ToList();
        var reloadService = reloadBecause.Count > 0 && !start && !restart;
        if (!reload && !enable && !start && !restart && !reloadService)
        {
            return null;
        }

        var parts = new List<string>();
        if (reload)
        {
            parts.Add("daemon-reload");
        }

        if (enable)
        {
            parts.Add($"enable (was {observed.Enabled})");
        }

        if (start)
        {
            parts.Add($"start (was {observed.Active})");
        }

        if (restart)
        {
            parts.Add($"restart ({string.Join(", ", restartBecause)} changed)");
        }

        if (reloadService)
        {
            parts.Add($"reload ({string.Join(", ", reloadBecause)} changed)");
        }

        return new ServiceChange($"{unit}: {string.Join(", ", parts)}", reload, enable, restart, start) { ReloadService = reloadService };
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var plan = (ServiceChange)change;
        if (plan.DaemonReload)
        {
            await runner.RunCheckedAsync(Systemctl("daemon-reload"), ct);
        }

        if (plan.Enable)
        {
            await runner.RunCheckedAsync(Systemctl("enable", "--quiet", "--", unit), ct);
        }

        if (plan.Restart || plan.Start)
        {
            await runner.RunCheckedAsync(Systemctl(plan.Restart ? "restart" : "start", "--", unit), ct);
        }
        else if (plan.ReloadService)
        {
            Task Reload() => runner.RunCheckedAsync(Systemctl("reload", "--", unit), ct);
            await (ReloadWatch is { } watch ? watch.ReloadAsync(Reload, ct) : Reload());
        }

        return null;
    }

    private static CommandSpec Systemctl(params string[] arguments) => new("systemctl", arguments) { Timeout = TimeSpan.FromMinutes(3) };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim() is { Length: > 0 } line ? line : "unknown";
}
