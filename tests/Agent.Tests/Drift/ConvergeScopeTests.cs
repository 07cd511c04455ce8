using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Drift;

/// <summary>The engine hooks drift uses: a run restricted to some resources, isolated checks, dependents.</summary>
public sealed class ConvergeScopeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    /// <summary>A flag that must be set, and that "restarts" (changes) whenever a dependency changed, like a service after its config.</summary>
    private sealed class Node(string id, List<string> applied) : Resource<Node.Observed>
    {
        internal sealed record Observed(bool Set) : Observation;

        public bool Set { get; set; } = true;

        public override string Id => id;

        public override string Kind => "node";

        protected override Task<Observed> ObserveTypedAsync(CancellationToken ct) => Task.FromResult(new Observed(Set));

        protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies) =>
            !observed.Set ? new Change($"set {id}")
            : changedDependencies.Count > 0 ? new Change($"restart {id} ({string.Join(", ", changedDependencies.Order(StringComparer.Ordinal))} changed)")
            : null;

        public override Task<string?> ApplyAsync(Change change, CancellationToken ct)
        {
            applied.Add($"{id}: {change.Description}");
            Set = true;
            return Task.FromResult<string?>(null);
        }
    }

    // conf <- service <- health ; packages <- conf ; other independent
    private static (Node Packages, Node Conf, Node Service, Node Health, Node Other, IResource[] All) Graph(List<string> applied)
    {
        var packages = new Node("packages", applied);
        var conf = new Node("conf", applied) { DependsOn = ["packages"] };
        var service = new Node("service", applied) { DependsOn = ["conf"] };
        var health = new Node("health", applied) { DependsOn = ["service"] };
        var other = new Node("other", applied);
        return (packages, conf, service, health, other, [health, service, conf, packages, other]);
    }

    private static ConvergeScope Scope(params string[] ids) => new(new HashSet<string>(ids, StringComparer.Ordinal));

    [Fact]
    public void WithDependents_ConfigFile_AddsEverythingDownstreamOnly()
    {
        var (_, _, _, _, _, all) = Graph([]);

        Assert.Equal(["conf", "health", "service"], ConvergeEngine.WithDependents(all, ["conf"]).Order(StringComparer.Ordinal));
        Assert.Equal(["other"], ConvergeEngine.WithDependents(all, ["other"]));
        Assert.Equal(["conf", "health", "packages", "service"], ConvergeEngine.WithDependents(all, ["packages"]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunAsync_ApplyScope_RunsOnlyScopeAndDependentsReactToTheCorrection()
    {
        var applied = new List<string>();
        var (packages, conf, _, _, other, all) = Graph(applied);
        conf.Set = false;
        other.Set = false;
        packages.Set = false;

        var outcome = await NewEngine().RunAsync(all, ConvergeMode.Apply, Scope("conf", "service", "health"), Ct);

        // packages and other are outside the scope: neither observed into the result nor applied.
        Assert.Equal(["conf", "service", "health"], outcome.Results.Select(r => r.Id));
        Assert.Equal(["conf: set conf", "service: restart service (conf changed)", "health: restart health (service changed)"], applied);
        Assert.False(packages.Set);
        Assert.False(other.Set);
    }

    [Fact]
    public async Task RunAsync_IsolatedCheck_OnlyWhatDriftedByItselfIsChanged()
    {
        var applied = new List<string>();
        var (_, conf, _, _, _, all) = Graph(applied);
        conf.Set = false;

        var isolated = await NewEngine().RunAsync(all, ConvergeMode.Check, new ConvergeScope(all.Select(r => r.Id).ToHashSet()) { Isolated = true }, Ct);
        var plain = await NewEngine().RunAsync(all, ConvergeMode.Check, Ct);

        Assert.Equal(["conf"], isolated.Results.Where(r => r.Status == ResourceStatus.Changed).Select(r => r.Id));
        Assert.Equal(["conf", "health", "service"], plain.Results.Where(r => r.Status == ResourceStatus.Changed).Select(r => r.Id).Order(StringComparer.Ordinal));
        Assert.Empty(applied);
    }
}
