using Microsoft.Extensions.Time.Testing;
using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class BackoffTests
{
    private static Backoff Create(int seed) =>
        new(TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(30), new Random(seed), new FakeTimeProvider());

    [Fact]
    public void Next_RepeatedFailures_StaysWithinDoublingCeilingUpToCap()
    {
        var backoff = Create(42);
        double[] ceilings = [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30];
        foreach (var ceiling in ceilings)
        {
            Assert.Equal(TimeSpan.FromSeconds(ceiling), backoff.NextCeiling);
            var delay = backoff.Next();
            Assert.InRange(delay, TimeSpan.Zero, TimeSpan.FromSeconds(ceiling));
        }
    }

    [Fact]
    public void Next_SameSeed_GivesSameJitteredSequence()
    {
        var first = Create(7);
        var second = Create(7);
        var a = Enumerable.Range(0, 8).Select(_ => first.Next()).ToList();
        var b = Enumerable.Range(0, 8).Select(_ => second.Next()).ToList();
        Assert.Equal(a, b);
        Assert.True(a.Distinct().Count() > 1, "full jitter must not give a constant delay");
    }

    [Fact]
    public void Next_ManyAttempts_NeverExceedsCapOrOverflows()
    {
        var backoff = Create(1);
        for (var i = 0; i < 200; i++)
        {
            Assert.InRange(backoff.Next(), TimeSpan.Zero, TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public void Reset_AfterFailures_StartsFromInitialCeiling()
    {
        var backoff = Create(3);
        for (var i = 0; i < 5; i++)
        {
            backoff.Next();
        }

        backoff.Reset();
        Assert.Equal(TimeSpan.FromSeconds(0.5), backoff.NextCeiling);
    }

    [Fact]
    public async Task DelayAsync_FakeTime_CompletesOnlyAfterTimeAdvances()
    {
        var time = new FakeTimeProvider();
        var backoff = new Backoff(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), new Random(5), time);
        var delay = backoff.DelayAsync(TestContext.Current.CancellationToken);
        Assert.False(delay.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(10));
        await delay.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
    }
}
