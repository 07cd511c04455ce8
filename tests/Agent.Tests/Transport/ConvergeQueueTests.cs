using OdooFleet.Agent.Transport;

namespace OdooFleet.Agent.Tests.Transport;

public sealed class ConvergeQueueTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TakeAsync_SeveralRequestsQueued_RunsOnlyTheNewest()
    {
        var queue = new ConvergeQueue();
        Assert.True(queue.Request(3));
        Assert.True(queue.Request(5));
        Assert.False(queue.Request(4));

        Assert.Equal(5, await queue.TakeAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct));
        Assert.Equal(5, queue.Running);
        Assert.Equal(0, queue.Queued);
    }

    [Fact]
    public async Task Request_AtOrBelowRunning_Coalesces()
    {
        var queue = new ConvergeQueue();
        queue.Request(7);
        await queue.TakeAsync(Ct);
        Assert.False(queue.Request(7));
        Assert.False(queue.Request(6));
        Assert.True(queue.Request(8));
        queue.Complete();
        Assert.Equal(8, await queue.TakeAsync(Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct));
    }

    [Fact]
    public async Task Request_AfterComplete_SameGenerationRunsAgain()
    {
        var queue = new ConvergeQueue();
        queue.Request(2);
        await queue.TakeAsync(Ct);
        queue.Complete();
        Assert.False(queue.IsBusy);
        Assert.True(queue.Request(2));
    }

    [Fact]
    public async Task TakeAsync_Empty_WaitsUntilRequested()
    {
        var queue = new ConvergeQueue();
        var take = queue.TakeAsync(Ct).AsTask();
        Assert.False(take.IsCompleted);
        queue.Request(1);
        Assert.Equal(1, await take.WaitAsync(TimeSpan.FromSeconds(5), Ct));
    }
}
