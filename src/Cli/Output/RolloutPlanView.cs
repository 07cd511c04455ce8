using OdooFleet.Cli.Input;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>
/// A dry run's answer (state PLANNED) as the lines `fleet rollout --dry-run` prints: the policy, the
/// batches with their hosts, and what every host's step will do. Pure.
/// </summary>
internal static class RolloutPlanView
{
    public static IReadOnlyList<string> Lines(Rollout plan)
    {
        var policy = plan.Policy ?? new RolloutPolicy();
        var release = Formats.ShortRelease(plan.Release);
        var lines = new List<string>
        {
            Formats.Invariant($"dry run: {release} on {plan.Hosts.Count} host(s) in {plan.Batches.Count} batch(es); nothing was changed"),
        };
        if (Formats.Release(plan.Release) is { } full)
        {
            lines.Add($"release: {full.Series} @ {full.Commit}");
        }

        lines.Add("policy:  " + RolloutView.PolicyText(policy));
        if (plan.Message.Length > 0)
        {
            lines.Add("note:    " + PlanView.Printable(plan.Message));
        }

        if (plan.Hosts.Count == 0)
        {
            lines.Add("");
            lines.Add(policy.Selector.Count > 0
                ? "no host matches the selector; list hosts and their labels with `fleet hosts -o json`"
                : "no hosts enrolled yet; add one with `fleet token create` and `odoofleet-agent enroll` on the host");
            return lines;
        }

        lines.Add("");
        foreach (var batch in plan.Batches.OrderBy(b => b.Index))
        {
            var label = RolloutView.BatchLabel(plan, batch.Index);
            var hosts = plan.Hosts.Where(h => h.Batch == batch.Index).ToList();
            lines.Add(Formats.Invariant($"{(label == "canary" ? "canary batch" : $"batch {label}")}: {hosts.Count} host(s)"));
            foreach (var host in hosts)
            {
                lines.Add($"  {RolloutView.Name(host)}  {HostNote(plan, host)}");
            }

            if (batch.Canary && policy.PauseAfterCanary)
            {
                lines.Add("  then the rollout pauses until `fleet rollout resume ID`");
            }
        }

        lines.Add("");
        lines.Add("every host, when its batch runs:");
        lines.AddRange(Steps(policy, release).Select((step, i) => Formats.Invariant($"  {i + 1}. {step}")));
        lines.Add(Formats.Invariant(
            $"on failure: the host is put back (old code{(policy.NoBackup ? "" : ", databases whose update ran restored from the backup")}, Odoo restarted and re-checked);"));
        lines.Add(Formats.Invariant(
            $"  more than {policy.MaxFailuresHosts} failed host(s) (--max-failures {policy.MaxFailures}) stop the rollout and later batches are cancelled"));
        lines.Add(policy.Offline == OfflinePolicy.Wait
            ? Formats.Invariant($"offline hosts: their batch waits for them up to {DurationParser.Format(RolloutView.HealthTimeout(policy))}, then they count as failed")
            : "offline hosts: skipped when their batch starts (reported, not a failure)");
        lines.Add("");
        lines.Add("start it: the same command without --dry-run");
        return lines;
    }

    /// <summary>The release transition every host goes through, in order.</summary>
    public static IReadOnlyList<string> Steps(RolloutPolicy policy, string release) =>
    [
        "preflight: enough free disk, PostgreSQL active",
        policy.NoBackup
            ? "backup: none (--no-backup): a failed update cannot restore the databases"
            : "backup: pg_dump -Fc of every Odoo database on the host",
        $"stage: release {release} (built once by the controller, sha256 verified), unless prefetched before the batch",
        "switch: /opt/odoo/current to the new release (Odoo stopped)",
        "update: per database, only the installed modules whose version changed (odoo-bin -u ... --stop-after-init)",
        "restart: Odoo started again (one restart in all)",
        $"health gate: /web/health and each database's login page answer 200 without a break for {DurationParser.Format(RolloutView.MinHealthy(policy))}, within {DurationParser.Format(RolloutView.HealthTimeout(policy))}",
    ];

    private static string HostNote(Rollout plan, RolloutHost host)
    {
        var from = Formats.ShortRelease(host.FromRelease);
        var note = host.State == RolloutHostState.Unchanged || (host.FromRelease is not null && host.FromRelease.Equals(plan.Release))
            ? $"already on {from}: unchanged"
            : from == "-" ? "release unknown -> " + Formats.ShortRelease(plan.Release) : $"{from} -> {Formats.ShortRelease(plan.Release)}";
        return host.Message.Length > 0 ? $"{note} ({PlanView.Printable(host.Message)})" : note;
    }
}
