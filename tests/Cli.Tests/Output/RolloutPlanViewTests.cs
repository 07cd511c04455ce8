using OdooFleet.Cli.Output;
using OdooFleet.Cli.Tests.Support;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Tests.Output;

public sealed class RolloutPlanViewTests
{
    [Fact]
    public void Lines_PlannedRollout_BatchesHostsAndEveryStepWithTheGateDurations()
    {
        var lines = RolloutPlanView.Lines(Samples.PlannedRollout());

        Assert.Equal(
            [
                "dry run: 18.0@3f2a9c1d on 4 host(s) in 3 batch(es); nothing was changed",
                $"release: 18.0 @ {Samples.Commit}",
                "policy:  selector role=web, canary 1, batches of 50%, max failures 1 (1 host(s)), healthy for 30s within 5m, backup first, offline hosts skipped, pause after canary",
                "",
                "canary batch: 1 host(s)",
                "  web-01  18.0@01234567 -> 18.0@3f2a9c1d",
                "  then the rollout pauses until `fleet rollout resume ID`",
                "batch 1: 2 host(s)",
                "  web-02  18.0@01234567 -> 18.0@3f2a9c1d",
                "  web-03  18.0@01234567 -> 18.0@3f2a9c1d",
                "batch 2: 1 host(s)",
                "  web-04  already on 18.0@3f2a9c1d: unchanged",
                "",
                "every host, when its batch runs:",
                "  1. preflight: enough free disk, PostgreSQL active",
                "  2. backup: pg_dump -Fc of every Odoo database on the host",
                "  3. stage: release 18.0@3f2a9c1d (built once by the controller, sha256 verified), unless prefetched before the batch",
                "  4. switch: /opt/odoo/current to the new release (Odoo stopped)",
                "  5. update: per database, only the installed modules whose version changed (odoo-bin -u ... --stop-after-init)",
                "  6. restart: Odoo started again (one restart in all)",
                "  7. health gate: /web/health and each database's login page answer 200 without a break for 30s, within 5m",
                "on failure: the host is put back (old code, databases whose update ran restored from the backup, Odoo restarted and re-checked);",
                "  more than 1 failed host(s) (--max-failures 1) stop the rollout and later batches are cancelled",
                "offline hosts: skipped when their batch starts (reported, not a failure)",
                "",
                "start it: the same command without --dry-run",
            ],
            lines);
    }

    [Fact]
    public void Lines_NoBackupAndWaitForOffline_SaysDatabasesCannotBeRestored()
    {
        var plan = Samples.PlannedRollout();
        plan.Policy.NoBackup = true;
        plan.Policy.Offline = OfflinePolicy.Wait;
        plan.Policy.HealthTimeoutSeconds = 0;
        plan.Policy.MinHealthySeconds = 0;

        var text = string.Join('\n', RolloutPlanView.Lines(plan));

        Assert.Contains("  2. backup: none (--no-backup): a failed update cannot restore the databases", text, StringComparison.Ordinal);
        Assert.Contains("on failure: the host is put back (old code, Odoo restarted and re-checked);", text, StringComparison.Ordinal);
        Assert.Contains("offline hosts: their batch waits for them up to 5m, then they count as failed", text, StringComparison.Ordinal);
        Assert.Contains("without a break for 10s, within 5m", text, StringComparison.Ordinal);
        Assert.DoesNotContain("restored from the backup", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Lines_SelectorMatchesNothing_SaysHowToSeeLabels()
    {
        var plan = Samples.PlannedRollout();
        plan.Hosts.Clear();
        plan.Batches.Clear();

        var lines = RolloutPlanView.Lines(plan);

        Assert.Equal("dry run: 18.0@3f2a9c1d on 0 host(s) in 0 batch(es); nothing was changed", lines[0]);
        Assert.Equal("no host matches the selector; list hosts and their labels with `fleet hosts -o json`", lines[^1]);
    }
}
