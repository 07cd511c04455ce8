using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Agent.Tests.Resources;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Drift;

/// <summary>
/// The monitor against a temp root with real files and a real file watch: odoo.conf (a real
/// FileResource) and odoo.service (a real ServiceResource whose systemctl answers are scripted),
/// restarted when the file changes. Time is a FakeTimeProvider; file-watch effects are awaited by
/// polling with a deadline.
/// </summary>
public sealed class DriftMonitorTests : IAsyncDisposable
{
    private const string ConfPath = "/etc/odoo.conf";
    private const string ConfId = "file:/etc/odoo.conf";
    private const string Desired = "[options]\nworkers = 5\nmax_cron_threads = 1\n";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero); // a Monday

    private readonly TempDirectory root = new();
    private readonly TempDirectory state = new();
    private readonly HttpClient http = new();
    private readonly FakeTimeProvider time = new(Now);
    private ScriptedCommandRunner systemctl = new();
    private Journal? journal;
    private DriftJournal? drift;
    private DriftMonitor? monitor;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string LivePath => root.Combine("etc", "odoo.conf");

    private string DriftPath => state.Combine("drift.json");

    public async ValueTask DisposeAsync()
    {
        if (monitor is not null)
        {
            await monitor.StopAsync(CancellationToken.None);
            monitor.Dispose();
        }

        drift?.Dispose();
        journal?.Dispose();
        http.Dispose();
        root.Dispose();
        state.Dispose();
    }

    private IReadOnlyList<IResource> Graph(HostPaths paths)
    {
        var conf = new FileResource(paths, systemctl, ConfPath, Encoding.UTF8.GetBytes(Desired), FileModes.Mode0640, ownership: null);
        var service = new ServiceResource(systemctl, "odoo.service", new HashSet<string>(), new HashSet<string> { ConfId }) { DependsOn = [ConfId] };
        return [conf, service];
    }

    /// <summary>The host as a successful converge of generation 4 left it, then the monitor started.</summary>
    private Task StartAsync(Proto.DriftPolicy? policy = null, long appliedGeneration = 4, params string[] isActive) =>
        StartAsync(policy, appliedGeneration, unitPoll: null, isActive);

    private async Task StartAsync(Proto.DriftPolicy? policy, long appliedGeneration, TimeSpan? unitPoll, params string[] isActive)
    {
        systemctl = new ScriptedCommandRunner()
            .On("systemctl is-enabled -- odoo.service", "enabled\n")
            .On("systemctl is-active -- odoo.service", [.. (isActive.Length == 0 ? ["active"] : isActive).Select(a => new CommandResult(a == "active" ? 0 : 3, a + "\n", "", false))])
            .On("systemctl restart -- odoo.service", "")
            .On("systemctl start -- odoo.service", "");
        Directory.CreateDirectory(root.Combine("etc"));
        await File.WriteAllTextAsync(LivePath, Desired, Ct);
        File.SetUnixFileMode(LivePath, FileModes.Mode0640);
        var spec = new Proto.HostSpec { HostId = "h-3kq9t2mzpa", Generation = 4, Odoo = new Proto.OdooSpec(), Drift = policy };
        await SpecCache.SaveAsync(state.Combine("spec.json"), spec, Ct);
        journal = await Journal.OpenAsync(state.Combine("journal.json"), time, Ct);
        await journal.RecordConvergeAsync(new LastConverge { Generation = appliedGeneration, Success = true, Reported = true }, Ct);
        drift = DriftJournal.Open(DriftPath, DriftJournal.DefaultCapacity, time, NullLogger.Instance);

        var paths = new HostPaths(root.Path);
        var environment = new ProfileEnvironment(paths, systemctl, http, time, () => new ProfileFacts("web-01", 2, 4L << 30, "debian", "12"))
        {
            StateDirectory = state.Path,
        };
        var engine = new ConvergeEngine(time, NullLogger<ConvergeEngine>.Instance);
        var converger = new LocalConverger(environment, engine, state.Combine("converge.lock"), time, NullLogger<LocalConverger>.Instance);
        var options = new DriftMonitorOptions
        {
            SpecCachePath = state.Combine("spec.json"), Paths = paths, Compile = _ => Graph(paths), UnitPollInterval = unitPoll ?? TimeSpan.FromSeconds(5),
        };
        monitor = new DriftMonitor(options, journal, converger, engine, systemctl, drift, time, NullLogger<DriftMonitor>.Instance);
        await monitor.StartAsync(Ct);
        await WaitUntilAsync(() => monitor.Rounds >= 1, "the startup round");
    }

    /// <summary>Polls <paramref name="condition"/>, moving fake time on by the debounce each turn, until it holds or 15 s (real) pass.</summary>
    private async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), $"timed out waiting for {what}");
            time.Advance(TimeSpan.FromMilliseconds(200));
            await Task.Delay(TimeSpan.FromMilliseconds(10), Ct);
        }
    }

    private List<DriftEvent> Events => drift!.Current.Entries.Select(e => e.Event).ToList();

    private int Restarts => systemctl.Lines.ToArray().Count(l => l == "systemctl restart -- odoo.service");

    [Fact]
    public async Task HandEdit_PolicyCorrect_PutBackWithDiffAndRestart()
    {
        await StartAsync();
        Assert.Empty(Events);

        var edited = Stopwatch.StartNew();
        await File.WriteAllTextAsync(LivePath, "[options]\nworkers = 9\nmax_cron_threads = 1\n", Ct);
        await WaitUntilAsync(() => Events.Count == 1 && File.ReadAllText(LivePath) == Desired, "the edit to be put back");
        TestContext.Current.SendDiagnosticMessage($"file drift detected and corrected in {edited.ElapsedMilliseconds} ms");

        var evt = Assert.Single(Events);
        Assert.Equal(ConfId, evt.ResourceId);
        Assert.Equal("file", evt.Kind);
        Assert.Equal(4, evt.Generation);
        Assert.Equal(DriftAction.Corrected, evt.Action);
        Assert.Equal(DriftMonitor.TriggerFile, evt.Trigger);
        Assert.NotNull(evt.CorrectedAt);
        Assert.Equal("update /etc/odoo.conf: content", evt.Actual);
        Assert.Contains("-workers = 9", evt.Diff, StringComparison.Ordinal);
        Assert.Contains("+workers = 5", evt.Diff, StringComparison.Ordinal);
        Assert.False(evt.Recurred);
        // Read before the correction: accepting it would make the edit the desired value.
        Assert.Equal([new DriftPatch("odoo.workers", "9")], evt.Accept);
        Assert.Equal(1, Restarts);
    }

    [Fact]
    public async Task HandEdit_EventsSurviveAgentRestart()
    {
        await StartAsync();
        await File.WriteAllTextAsync(LivePath, "[options]\nworkers = 9\n", Ct);
        await WaitUntilAsync(() => Events.Count == 1, "the drift event");
        var recorded = Events;
        await monitor!.StopAsync(CancellationToken.None);
        drift!.Dispose();

        using var reopened = DriftJournal.Open(DriftPath, DriftJournal.DefaultCapacity, time, NullLogger.Instance);

        Assert.Equivalent(recorded, reopened.Unacknowledged(10), strict: true);
        drift = null;
    }

    [Fact]
    public async Task HandEdit_PolicyReport_LeftAsEditedAndReportedOnce()
    {
        await StartAsync(new Proto.DriftPolicy { Modes = { [ConfId] = Proto.DriftMode.Report } });
        const string edit = "[options]\nworkers = 9\n";

        await File.WriteAllTextAsync(LivePath, edit, Ct);
        await WaitUntilAsync(() => Events.Count == 1, "the drift event");
        // Found again (a second write, same content): not a second event.
        var rounds = monitor!.Rounds;
        await File.WriteAllTextAsync(LivePath, edit, Ct);
        await WaitUntilAsync(() => monitor.Rounds > rounds, "the next round");

        var evt = Assert.Single(Events);
        Assert.Equal(DriftAction.Reported, evt.Action);
        Assert.Null(evt.CorrectedAt);
        Assert.Contains("+workers = 5", evt.Diff, StringComparison.Ordinal);
        // max_cron_threads was removed too, and no spec value says "absent": not acceptable.
        Assert.Empty(evt.Accept);
        Assert.Equal(edit, await File.ReadAllTextAsync(LivePath, Ct));
        Assert.Equal(0, Restarts);
    }

    [Fact]
    public async Task HandEdit_InMaintenanceWindow_SuppressedAndLeftAsEdited()
    {
        await StartAsync(new Proto.DriftPolicy { Maintenance = { new Proto.MaintenanceWindow { Days = "mon", Start = "11:00", DurationMinutes = 120 } } });

        await File.WriteAllTextAsync(LivePath, "[options]\nworkers = 9\n", Ct);
        await WaitUntilAsync(() => Events.Count == 1, "the drift event");

        var evt = Assert.Single(Events);
        Assert.Equal(DriftAction.Suppressed, evt.Action);
        Assert.Null(evt.CorrectedAt);
        Assert.Equal("[options]\nworkers = 9\n", await File.ReadAllTextAsync(LivePath, Ct));
        Assert.Equal(0, Restarts);
    }

    [Fact]
    public async Task RewrittenAgainAndAgain_FlappingBacksOffInsteadOfLooping()
    {
        await StartAsync();
        const string rogue = "[options]\nworkers = 64\n";

        // Three corrections within the window: the third one says FLAPPING.
        for (var i = 1; i <= 3; i++)
        {
            await File.WriteAllTextAsync(LivePath, rogue, Ct);
            await WaitUntilAsync(() => Events.Count == i && File.ReadAllText(LivePath) == Desired, $"correction {i}");
        }

        // The fourth is left alone: correction backs off for a minute.
        await File.WriteAllTextAsync(LivePath, rogue, Ct);
        await WaitUntilAsync(() => Events.Count == 4, "the backed-off drift");
        var rounds = monitor!.Rounds;
        await File.WriteAllTextAsync(LivePath, rogue, Ct);
        await WaitUntilAsync(() => monitor.Rounds > rounds, "the next round");
        Assert.Equal(rogue, await File.ReadAllTextAsync(LivePath, Ct));
        Assert.Equal(4, Events.Count);

        // A minute later the backed-off correction comes due once.
        time.Advance(TimeSpan.FromMinutes(1));
        await WaitUntilAsync(() => Events.Count == 5 && File.ReadAllText(LivePath) == Desired, "the correction after the backoff");

        Assert.Equal(
            [DriftAction.Corrected, DriftAction.Corrected, DriftAction.Flapping, DriftAction.Flapping, DriftAction.Flapping],
            Events.Select(e => e.Action));
        Assert.Equal([true, true, true, false, true], Events.Select(e => e.CorrectedAt is not null));
        Assert.Equal([false, true, true, true, true], Events.Select(e => e.Recurred));
        // The retry timer, or a late watch event of the last rewrite joining the same round.
        Assert.Contains(Events[^1].Trigger, new[] { DriftMonitor.TriggerRetry, DriftMonitor.TriggerFile });
        Assert.Equal(4, Restarts);
    }

    [Fact]
    public async Task HandEdit_SpecNotAppliedYet_NoDrift()
    {
        // spec.json holds generation 4 but the journal says 3 converged: 4 is on its way, not drift.
        await StartAsync(appliedGeneration: 3);

        await File.WriteAllTextAsync(LivePath, "[options]\nworkers = 9\n", Ct);
        var rounds = monitor!.Rounds;
        time.Advance(TimeSpan.FromMinutes(5));
        await WaitUntilAsync(() => monitor.Rounds > rounds, "the periodic round");

        Assert.Empty(Events);
        Assert.Equal("[options]\nworkers = 9\n", await File.ReadAllTextAsync(LivePath, Ct));
    }

    [Fact]
    public async Task ConvergeHoldsTheLock_RoundWaitsAndChecksAfterwards()
    {
        await StartAsync();
        var lockPath = state.Combine("converge.lock");
        var converge = ConvergeLock.TryAcquire(lockPath);
        Assert.NotNull(converge);

        await File.WriteAllTextAsync(LivePath, "[options]\nworkers = 9\n", Ct);
        var rounds = monitor!.Rounds;
        await WaitUntilAsync(() => monitor.Rounds > rounds, "a round that finds the lock held");
        Assert.Empty(Events);
        converge.Dispose();

        await WaitUntilAsync(() => Events.Count == 1 && File.ReadAllText(LivePath) == Desired, "the retried round");
        Assert.Equal(DriftAction.Corrected, Events[0].Action);
    }

    [Fact]
    public async Task UnitStopped_FoundByThePollAndStartedAgain()
    {
        // is-active answers in turn: startup check, first poll, second poll (stopped), the check, the correction's observe, then active.
        await StartAsync(isActive: ["active", "active", "inactive", "inactive", "inactive", "active"]);

        await WaitUntilAsync(() => Events.Count == 1, "the unit drift");

        var evt = Assert.Single(Events);
        Assert.Equal("service:odoo.service", evt.ResourceId);
        Assert.Equal(DriftMonitor.TriggerUnit, evt.Trigger);
        Assert.Equal(DriftAction.Corrected, evt.Action);
        Assert.Equal("odoo.service: start (was inactive)", evt.Actual);
        Assert.Contains("systemctl start -- odoo.service", systemctl.Lines.ToArray());
        Assert.Equal(0, Restarts);
    }

    [Fact]
    public async Task UnitStopped_InvocationLinkRemoved_FoundAtOnceWithoutWaitingForThePoll()
    {
        // systemd's /run/systemd/units/invocation:<unit> link goes away when the unit stops.
        var units = root.Combine("run", "systemd", "units");
        Directory.CreateDirectory(units);
        File.CreateSymbolicLink(Path.Combine(units, "invocation:odoo.service"), "0123456789abcdef0123456789abcdef");
        File.CreateSymbolicLink(Path.Combine(units, "invocation:cron.service"), "fedcba9876543210fedcba9876543210");
        // The poll every hour never comes within the test: only the link's removal can start the check.
        await StartAsync(null, 4, TimeSpan.FromHours(1), "active", "inactive", "inactive", "inactive", "active");

        var stopped = time.GetUtcNow();
        File.Delete(Path.Combine(units, "invocation:odoo.service"));
        await WaitUntilAsync(() => Events.Count == 1, "the unit drift");

        var evt = Assert.Single(Events);
        // Not the periodic round (4.5-5 min away): the watch.
        Assert.InRange(evt.DetectedAt - stopped, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.Equal("service:odoo.service", evt.ResourceId);
        Assert.Equal(DriftMonitor.TriggerUnit, evt.Trigger);
        Assert.Equal(DriftAction.Corrected, evt.Action);
        Assert.Contains("systemctl start -- odoo.service", systemctl.Lines.ToArray());
    }
}
