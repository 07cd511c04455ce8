using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Tests.Support;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Transport;

/// <summary>PlanService against a real gRPC AgentService, with a real LocalConverger over a temp root.</summary>
public sealed class PlanServiceTests : IDisposable
{
    private const string HostId = "h-3kq9t2mzpa";
    private static readonly DateTimeOffset Now = new(2026, 11, 23, 12, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory root = new();
    private readonly TempDirectory state = new();
    private readonly HttpClient http = new();
    private readonly TestPki pki = new(notBefore: Now.AddDays(-1));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string LockPath => state.Combine("converge.lock");

    public void Dispose()
    {
        http.Dispose();
        pki.Dispose();
        root.Dispose();
        state.Dispose();
    }

    private PlanService NewService(string controllerUrl, TimeProvider time, out ControllerClient client)
    {
        var config = new AgentConfig
        {
            HostId = HostId,
            ControllerUrls = [controllerUrl],
            IdentityPath = state.Combine("agent-identity.pem"),
            CommandSigningKey = Convert.ToBase64String(pki.SigningKeySpki),
            CommandSigningKeyId = pki.SigningKeyId,
            Broker = new BrokerSettings { Host = "127.0.0.1", Username = "u", Password = "p", Queue = "q" },
            StateDirectory = state.Path,
            Root = root.Path,
        };
        var environment = new ProfileEnvironment(
            new HostPaths(root.Path), new ProcessCommandRunner(), http, time, () => new ProfileFacts("web-01", 2, 4L << 30, "debian", "12"))
        {
            StateDirectory = state.Path,
        };
        var converger = new LocalConverger(
            environment, new ConvergeEngine(time, NullLogger<ConvergeEngine>.Instance), LockPath, time, NullLogger<LocalConverger>.Instance);
        var identity = new IdentityHolder(pki.HostIdentity(HostId, pki.NotBefore, TimeSpan.FromDays(365)), pki.Verifier());
        client = new ControllerClient(config, identity, time, NullLogger<ControllerClient>.Instance);
        return new PlanService(config, client, converger, time, NullLogger<PlanService>.Instance);
    }

    private async Task<TestAgentController> StartControllerAsync(HostSpec spec)
    {
        var service = new FakeAgentService(HostId, pki) { Spec = spec };
        return await TestAgentController.StartAsync(service, pki);
    }

    private static HostSpec SpecWithoutRelease(long generation) => new() { HostId = HostId, Generation = generation, Odoo = new OdooSpec() };

    [Fact]
    public async Task AnswerAsync_SpecWithoutRelease_ReportsThePlanOfTheServedGeneration()
    {
        await using var controller = await StartControllerAsync(SpecWithoutRelease(7));
        var time = new FakeTimeProvider(Now);
        var service = NewService(controller.Address, time, out var client);
        using var _ = client;

        var answered = await service.AnswerAsync(new PlanRequest("p-3kq9t2mzpa", Now), Ct);

        Assert.True(answered);
        var report = Assert.Single(controller.Service.Reports);
        Assert.Equal("p-3kq9t2mzpa", report.RequestId);
        Assert.Equal(HostId, report.HostId);
        Assert.Equal(7, report.Generation);
        Assert.Equal(Now, report.StartedAt.ToDateTimeOffset());
        // The baseline profile, sized by the given facts (what this box's programs answer varies, so not Success).
        Assert.Contains(report.Explanation, line => line.StartsWith("workers = min(2 × 2 + 1 = 5", StringComparison.Ordinal));
        Assert.Contains(report.Resources, r => r.Id == "file:/etc/odoo.conf" && r.Status == Contracts.V1.ResourceStatus.Changed);
        // Read-only: nothing under the managed root, no journal and no admin hash kept in the state directory.
        Assert.Empty(Directory.EnumerateFileSystemEntries(root.Path));
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(state.Path), p => !p.EndsWith("converge.lock", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AnswerAsync_InvalidSpec_ReportsFailureNamingTheField()
    {
        var spec = new HostSpec
        {
            HostId = HostId,
            Generation = 4,
            Odoo = new OdooSpec { Release = new OdooRelease { Series = "18.0", Commit = "HEAD" }, SourceUrl = "file:///srv/odoo.git" },
        };
        await using var controller = await StartControllerAsync(spec);
        var service = NewService(controller.Address, new FakeTimeProvider(Now), out var client);
        using var _ = client;

        Assert.True(await service.AnswerAsync(new PlanRequest("p-abcdefghjk", Now), Ct));

        var report = Assert.Single(controller.Service.Reports);
        Assert.False(report.Success);
        Assert.Contains("odoo.release.commit:", report.Error, StringComparison.Ordinal);
        Assert.Equal(4, report.Generation);
        Assert.Empty(Directory.EnumerateFileSystemEntries(root.Path));
    }

    [Fact]
    public async Task AnswerAsync_ConvergeHoldsTheLock_WaitsAndAnswersOnceReleased()
    {
        await using var controller = await StartControllerAsync(SpecWithoutRelease(9));
        var time = new FakeTimeProvider(Now);
        var service = NewService(controller.Address, time, out var client);
        using var _ = client;
        var converge = ConvergeLock.TryAcquire(LockPath);
        Assert.NotNull(converge);

        var answer = service.AnswerAsync(new PlanRequest("p-abcdefghjk", Now), Ct);
        await controller.Service.SpecFetched.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        for (var i = 0; i < 3; i++)
        {
            time.Advance(PlanService.BusyRetryDelay);
            await Task.Yield();
        }

        // Deterministic whatever the timing: with the lock held, no check can have run.
        Assert.Empty(controller.Service.Reports);
        converge.Dispose();
        var giveUp = DateTime.UtcNow.AddSeconds(30);
        while (!answer.IsCompleted && DateTime.UtcNow < giveUp)
        {
            time.Advance(PlanService.BusyRetryDelay);
            await Task.WhenAny(answer, Task.Delay(TimeSpan.FromMilliseconds(20), Ct));
        }

        Assert.True(await answer.WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(9, Assert.Single(controller.Service.Reports).Generation);
    }

    [Fact]
    public async Task AnswerAsync_RequestOlderThanMaxAge_DroppedWithoutCallingTheController()
    {
        await using var controller = await StartControllerAsync(SpecWithoutRelease(2));
        var service = NewService(controller.Address, new FakeTimeProvider(Now), out var client);
        using var _ = client;

        var answered = await service.AnswerAsync(new PlanRequest("p-abcdefghjk", Now - PlanService.MaxAge - TimeSpan.FromSeconds(1)), Ct);

        Assert.False(answered);
        Assert.Equal(0, controller.Service.SpecFetches);
        Assert.Empty(controller.Service.Reports);
    }

    [Fact]
    public async Task Enqueue_ServiceRunning_AnswersThroughItsQueue()
    {
        await using var controller = await StartControllerAsync(SpecWithoutRelease(3));
        var service = NewService(controller.Address, TimeProvider.System, out var client);
        using var _ = client;
        await service.StartAsync(Ct);
        try
        {
            service.Enqueue(new PlanRequest("p-queuedplan", DateTimeOffset.UtcNow), "test");

            var report = await controller.Service.Reported.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);

            Assert.Equal("p-queuedplan", report.RequestId);
            Assert.Equal(3, report.Generation);
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }

    [Fact]
    public void ToPlanReport_ChangesWithDetailAndExplanation_MappedAndHugeDetailTruncated()
    {
        var huge = new string('x', ProtoMapping.MaxPlanDetailChars + 10);
        var outcome = new ConvergeOutcome(
        [
            new OdooFleet.Agent.Engine.ResourceResult("file:/etc/odoo.conf", "file", OdooFleet.Agent.Engine.ResourceStatus.Changed, "would write", TimeSpan.FromMilliseconds(3)) { Detail = "-a\n+b\n" },
            new OdooFleet.Agent.Engine.ResourceResult("file:/big", "file", OdooFleet.Agent.Engine.ResourceStatus.Changed, "would write", TimeSpan.Zero) { Detail = huge },
            new OdooFleet.Agent.Engine.ResourceResult("user:odoo", "user", OdooFleet.Agent.Engine.ResourceStatus.Unchanged, "", TimeSpan.Zero),
        ]);
        var result = new LocalConvergeResult(5, outcome, null, null, Now, Now.AddSeconds(1)) { Explanation = ["workers = 5"] };

        var report = ProtoMapping.ToPlanReport("p-abcdefghjk", HostId, result);

        Assert.True(report.Success);
        Assert.Equal(["workers = 5"], report.Explanation);
        Assert.Equal("-a\n+b\n", report.Resources[0].Detail);
        Assert.Equal(Contracts.V1.ResourceStatus.Changed, report.Resources[0].Status);
        Assert.StartsWith(new string('x', ProtoMapping.MaxPlanDetailChars), report.Resources[1].Detail, StringComparison.Ordinal);
        Assert.EndsWith("(10 more characters not shown)\n", report.Resources[1].Detail, StringComparison.Ordinal);
        Assert.Equal("", report.Resources[2].Detail);
    }
}
