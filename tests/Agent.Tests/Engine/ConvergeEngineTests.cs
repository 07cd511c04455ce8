using Microsoft.Extensions.Logging.Abstractions;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Tests.Engine;

public sealed class ConvergeEngineTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static ConvergeEngine NewEngine() => new(TimeProvider.System, NullLogger<ConvergeEngine>.Instance);

    /// <summary>A resource whose state is a flag; records the order in which it was applied.</summary>
    private sealed class FlagResource(string id, List<string> log) : Resource<FlagResource.Observed>
    {
        internal sealed record Observed(bool Set) : Observation;

        public bool Set { get; set; }
        public bool FailApply { get; init; }
        public IReadOnlySet<string>? SeenChangedDependencies { get; private set; }

        public override string Id => id;
        public override string Kind => "flag";

        protected override Task<Observed> ObserveTypedAsync(CancellationToken ct) => Task.FromResult(new Observed(Set));

        protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
        {
            SeenChangedDependencies = changedDependencies;
            return observed.Set ? null : new Change($"set {id}");
        }

        public override Task<string?> ApplyAsync(Change change, CancellationToken ct)
        {
            log.Add(id);
            if (FailApply)
            {
                throw new ResourceFailedException($"{id} is broken");
            }

            Set = true;
            return Task.FromResult<string?>(null);
        }
    }

    private static FlagResource Flag(string id, List<string> log, params string[] dependsOn) =>
        new(id, log) { DependsOn = dependsOn };

    [Fact]
    public async Task RunAsync_DependenciesDeclaredLater_AppliesDependenciesFirst()
    {
        var log = new List<string>();
        IResource[] resources = [Flag("c", log, "b"), Flag("b", log, "a"), Flag("a", log), Flag("d", log)];
        var outcome = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        Assert.Equal(["a", "b", "c", "d"], log);
        Assert.Equal(["a", "b", "c", "d"], outcome.Results.Select(r => r.Id));
        Assert.All(outcome.Results, r => Assert.Equal(ResourceStatus.Changed, r.Status));
        Assert.True(outcome.Success);
    }

    [Fact]
    public async Task RunAsync_FailedResource_SkipsDependentsTransitivelyButNotOthers()
    {
        var log = new List<string>();
        var broken = new FlagResource("b", log) { FailApply = true, DependsOn = ["a"] };
        IResource[] resources = [Flag("a", log), broken, Flag("c", log, "b"), Flag("d", log, "c"), Flag("e", log, "a")];
        var outcome = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        var byId = outcome.Results.ToDictionary(r => r.Id);
        Assert.Equal(ResourceStatus.Failed, byId["b"].Status);
        Assert.Equal("b is broken", byId["b"].Message);
        Assert.Equal(ResourceStatus.Skipped, byId["c"].Status);
        Assert.Equal("dependency b failed", byId["c"].Message);
        Assert.Equal(ResourceStatus.Skipped, byId["d"].Status);
        Assert.Equal("dependency c was skipped", byId["d"].Message);
        Assert.Equal(ResourceStatus.Changed, byId["e"].Status);
        Assert.DoesNotContain("c", log);
        Assert.False(outcome.Success);
        Assert.Equal("b: b is broken", outcome.Error);
    }

    [Fact]
    public async Task RunAsync_SecondRun_ReportsUnchanged()
    {
        var log = new List<string>();
        IResource[] resources = [Flag("a", log), Flag("b", log, "a")];
        await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        var second = await NewEngine().RunAsync(resources, ConvergeMode.Apply, Ct);
        Assert.All(second.Results, r => Assert.Equal(ResourceStatus.Unchanged, r.Status));
    }

    [Fact]
    public async Task RunAsync_CheckMode_ReportsWouldChangeAndAppliesNothing()
    {
        var log = new List<string>();
        var b = Flag("b", log, "a");
        IResource[] resources = [Flag("a", log), b];
        var outcome = await NewEngine().RunAsync(resources, ConvergeMode.Check, Ct);
        Assert.Empty(log);
        Assert.Equal("would set a", outcome.Results[0].Message);
        Assert.Equal(["a"], b.SeenChangedDependencies!);
    }

    [Fact]
    public async Task RunAsync_ChangedDependency_IsPassedToDependentDiff()
    {
        var log = new List<string>();
        var a = Flag("a", log);
        var unchanged = new FlagResource("u", log) { Set = true };
        var c = Flag("c", log, "a", "u");
        await NewEngine().RunAsync([a, unchanged, c], ConvergeMode.Apply, Ct);
        Assert.Equal(["a"], c.SeenChangedDependencies!);
    }

    [Fact]
    public void Order_Cycle_ThrowsNamingIt()
    {
        var log = new List<string>();
        var e = Assert.Throws<InvalidOperationException>(() => ConvergeEngine.Order([Flag("a", log, "b"), Flag("b", log, "a")]));
        Assert.Contains("cycle a -> b -> a", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Order_UnknownDependency_Throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ConvergeEngine.Order([Flag("a", [], "nope")]));
        Assert.Contains("unknown 'nope'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Order_DuplicateId_Throws() =>
        Assert.Throws<InvalidOperationException>(() => ConvergeEngine.Order([Flag("a", []), Flag("a", [])]));
}
