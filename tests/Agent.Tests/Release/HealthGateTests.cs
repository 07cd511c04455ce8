using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Release;

namespace OdooFleet.Agent.Tests.Release;

/// <summary>HealthGate against a real Kestrel listener; the gate's clock is a FakeTimeProvider the test moves one round at a time.</summary>
public sealed class HealthGateTests : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private readonly WebApplication app;
    private readonly HttpClient http = new();
    private readonly FakeTimeProvider time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private int requests;

    /// <summary>Status /web/health answers for each round (1-based), 200 after the last given.</summary>
    private int[] healthByRound = [];

    public HealthGateTests()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        app = builder.Build();
        app.MapGet("/web/health", () =>
        {
            var round = Interlocked.Increment(ref requests);
            var status = round <= healthByRound.Length ? healthByRound[round - 1] : 200;
            return Microsoft.AspNetCore.Http.Results.StatusCode(status);
        });
        app.StartAsync(TestContext.Current.CancellationToken).GetAwaiter().GetResult();
        Address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
    }

    private string Address { get; }

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }

    /// <summary>Runs the gate, moving the clock one interval after each round's probe reached the server.</summary>
    private async Task<HealthGateResult> RunAsync(TimeSpan minHealthy, TimeSpan timeout)
    {
        var gate = new HealthGate(http, time, [new Uri($"{Address}/web/health")], minHealthy, timeout, Interval);
        var run = gate.WaitAsync(TestContext.Current.CancellationToken);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        var seen = 0;
        while (!run.IsCompleted)
        {
            // Each round's time is read before its probe, so moving the clock after the server saw it never skews that round.
            var probed = Volatile.Read(ref requests);
            if (probed > seen)
            {
                seen = probed;
                time.Advance(Interval);
            }

            await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(5), deadline.Token));
        }

        return await run;
    }

    [Fact]
    public async Task WaitAsync_HealthyFromTheStart_PassesAfterMinHealthy()
    {
        var result = await RunAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

        Assert.True(result.Passed, result.Detail);
        Assert.Equal(4, result.Rounds); // t = 0, 1, 2, 3
        Assert.Equal(time.Start, result.HealthySince);
    }

    [Fact]
    public async Task WaitAsync_BreakInTheMiddle_HealthyStretchStartsAgain()
    {
        healthByRound = [200, 200, 500, 200];

        var result = await RunAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30));

        Assert.True(result.Passed, result.Detail);
        Assert.Equal(7, result.Rounds); // healthy again from t = 3, passes at t = 6
        Assert.Equal(time.Start + TimeSpan.FromSeconds(3), result.HealthySince);
    }

    [Fact]
    public async Task WaitAsync_NeverHealthy_FailsAtTimeoutWithLastStatus()
    {
        healthByRound = Enumerable.Repeat(500, 100).ToArray();

        var result = await RunAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5));

        Assert.False(result.Passed);
        Assert.Equal(6, result.Rounds); // t = 0 .. 5
        Assert.Contains("HTTP 500", result.Detail, StringComparison.Ordinal);
        Assert.Null(result.HealthySince);
    }

    [Fact]
    public async Task WaitAsync_HealthyTooLateForMinHealthy_Fails()
    {
        healthByRound = [500, 500, 500, 500];

        var result = await RunAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(5));

        Assert.False(result.Passed);
        Assert.Contains("healthy only since 1 s", result.Detail, StringComparison.Ordinal);
    }
}
