using System.Threading.Channels;

namespace OdooFleet.Controller.Persistence;

/// <summary>
/// Group commit for agent heartbeats: every heartbeat that arrives while one write is running goes
/// into the next, one statement for all of them (HostStore.RecordHeartbeatsAsync). An idle fleet
/// waits for nothing (a lone heartbeat is written at once); 10,000 hosts beating every 30 s cost a
/// few statements a second instead of 333 transactions. A caller's answer (the desired generation)
/// comes only once its heartbeat is committed, as with a write of its own.
/// </summary>
internal sealed partial class HeartbeatWriter : IAsyncDisposable
{
    /// <summary>Heartbeats in one statement at most; more wait for the next.</summary>
    public const int MaxBatch = 1000;

    private readonly HostStore hosts;
    private readonly ILogger<HeartbeatWriter> logger;
    // Not SingleReader: that variant cannot count what waits, which Queued reports.
    private readonly Channel<Pending> queue = Channel.CreateUnbounded<Pending>();
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private long writes;

    public HeartbeatWriter(HostStore hosts, ILogger<HeartbeatWriter> logger)
    {
        this.hosts = hosts;
        this.logger = logger;
        loop = Task.Run(() => RunAsync(stop.Token));
    }

    /// <summary>Heartbeats waiting for a write (not counting the one under way).</summary>
    public int Queued => queue.Reader.Count;

    /// <summary>Statements written so far.</summary>
    public long Writes => Interlocked.Read(ref writes);

    /// <summary>Records the heartbeat; the host's desired generation, or null if the host was removed.</summary>
    public async Task<long?> RecordAsync(HeartbeatRecord heartbeat, CancellationToken ct)
    {
        var pending = new Pending(heartbeat, new TaskCompletionSource<long?>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.Writer.TryWrite(pending))
        {
            throw new ObjectDisposedException(nameof(HeartbeatWriter), "the controller is stopping");
        }

        // A caller that gives up still has its heartbeat written: harmless, it did arrive.
        return await pending.Done.Task.WaitAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        queue.Writer.TryComplete();
        await stop.CancelAsync();
        try
        {
            await loop;
        }
        catch (OperationCanceledException)
        {
            // Stopping is what was asked.
        }

        while (queue.Reader.TryRead(out var left))
        {
            left.Done.TrySetException(new ObjectDisposedException(nameof(HeartbeatWriter), "the controller is stopping"));
        }

        stop.Dispose();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var batch = new List<Pending>(MaxBatch);
        while (await queue.Reader.WaitToReadAsync(ct))
        {
            while (batch.Count < MaxBatch && queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            try
            {
                var generations = await hosts.RecordHeartbeatsAsync([.. batch.Select(p => p.Heartbeat)], ct);
                Interlocked.Increment(ref writes);
                foreach (var p in batch)
                {
                    p.Done.TrySetResult(generations.TryGetValue(p.Heartbeat.HostId, out var generation) ? generation : null);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                // The database is down or refused: each caller fails as its own write would have,
                // and its agent reconnects and beats again.
                LogWriteFailed(logger, batch.Count, e.Message);
                foreach (var p in batch)
                {
                    p.Done.TrySetException(e);
                }
            }
            finally
            {
                foreach (var p in batch)
                {
                    p.Done.TrySetCanceled(CancellationToken.None);
                }

                batch.Clear();
            }
        }
    }

    private sealed record Pending(HeartbeatRecord Heartbeat, TaskCompletionSource<long?> Done);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing {Count} heartbeat(s) failed: {Error}")]
    private static partial void LogWriteFailed(ILogger logger, int count, string error);
}
