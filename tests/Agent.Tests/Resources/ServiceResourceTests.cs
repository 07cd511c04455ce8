using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Tests.Resources;

/// <summary>
/// The service resource's decisions (reload, enable, start, restart) with systemctl replaced by a
/// recording runner: test hosts cover real systemd; here PID 1 is not systemd.
/// </summary>
public sealed class ServiceResourceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed class SystemctlRecorder(string enabled, string active) : ICommandRunner
    {
        public List<string> Commands { get; } = [];

        public Task<CommandResult> RunAsync(CommandSpec spec, CancellationToken ct)
        {
            Commands.Add(spec.ToString());
            var stdout = spec.Arguments[0] switch
            {
                "is-enabled" => enabled + "\n",
                "is-active" => active + "\n",
                _ => "",
            };
            return Task.FromResult(new CommandResult(0, stdout, "", false));
        }
    }

    /// <summary>A dependency that always reports CHANGED, standing in for a file the converge rewrote.</summary>
    private sealed class ChangedDependency(string id) : Resource<ChangedDependency.Observed>
    {
        internal sealed record Observed : Observation;

        public override string Id => id;
        public override string Kind => "test";

        protected override Task<Observed> ObserveTypedAsync(CancellationToken ct) => Task.FromResult(new Observed());

        protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) => new("rewrite");

        public override Task<string?> ApplyAsync(Change change, CancellationToken ct) => Task.FromResult<string?>(null);
    }

    private static async Task<(ResourceResult Result, List<string> Commands)> RunAsync(string enabled, string active, params string[] changed)
    {
        var runner = new SystemctlRecorder(enabled, active);
        var service = new ServiceResource(
            runner, "odoo.service",
            reloadOn: new HashSet<string> { "file:/etc/systemd/system/odoo.service" },
            restartOn: new HashSet<string> { "file:/etc/systemd/system/odoo.service", "file:/etc/odoo.conf", "symlink:/opt/odoo/current" })
        {
            DependsOn = changed,
            ReloadServiceOn = new HashSet<string> { "file:/etc/odoo-site.conf" },
        };
        IResource[] resources = [.. changed.Select(id => new ChangedDependency(id)), service];
        var outcome = await new ConvergeEngine(TimeProvider.System, NullLogger<ConvergeEngine>.Instance).RunAsync(resources, ConvergeMode.Apply, Ct);
        return (outcome.Results[^1], runner.Commands.Where(c => !c.Contains(" is-", StringComparison.Ordinal)).ToList());
    }

    [Fact]
    public async Task Apply_NothingChangedAndRunning_Unchanged()
    {
        var (result, commands) = await RunAsync("enabled", "active");
        Assert.Equal(ResourceStatus.Unchanged, result.Status);
        Assert.Empty(commands);
    }

    [Fact]
    public async Task Apply_ConfChanged_RestartsWithoutDaemonReload()
    {
        var (result, commands) = await RunAsync("enabled", "active", "file:/etc/odoo.conf");
        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(["systemctl restart -- odoo.service"], commands);
    }

    [Fact]
    public async Task Apply_UnitChangedOnNewHost_ReloadsEnablesAndStarts()
    {
        var (_, commands) = await RunAsync("disabled", "inactive", "file:/etc/systemd/system/odoo.service");
        Assert.Equal(["systemctl daemon-reload", "systemctl enable --quiet -- odoo.service", "systemctl start -- odoo.service"], commands);
    }

    [Fact]
    public async Task Apply_ReloadableConfigChanged_ReloadsService()
    {
        var (result, commands) = await RunAsync("enabled", "active", "file:/etc/odoo-site.conf");
        Assert.Equal(ResourceStatus.Changed, result.Status);
        Assert.Equal(["systemctl reload -- odoo.service"], commands);
    }

    [Fact]
    public async Task Apply_ReloadableAndRestartingConfigChanged_OnlyRestarts()
    {
        var (_, commands) = await RunAsync("enabled", "active", "file:/etc/odoo-site.conf", "file:/etc/odoo.conf");
        Assert.Equal(["systemctl restart -- odoo.service"], commands);
    }

    [Fact]
    public async Task Apply_ReloadableConfigChangedWhileStopped_StartsInsteadOfReload()
    {
        var (_, commands) = await RunAsync("enabled", "inactive", "file:/etc/odoo-site.conf");
        Assert.Equal(["systemctl start -- odoo.service"], commands);
    }
}
