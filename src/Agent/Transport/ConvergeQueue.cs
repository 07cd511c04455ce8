using System.Threading.Channels;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Converge requests with coalescing: at most one converge runs; a request for a generation at or
/// below the one running or queued is absorbed (the converge fetches the latest spec anyway).
/// </summary>
internal sealed class ConvergeQueue
{
    private readonly Channel<long> requests = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Lock gate = new();
    private long running;
    private long queued;

    public long Running
    {
        get
        {
            lock (gate)
            {
                return running;
            }
        }
    }

    public long Queued
    {
        get
        {
            lock (gate)
            {
                return queued;
            }
        }
    }

    public bool IsBusy
    {
        get
        {
            lock (gate)
            {
                return running > 0 || queued > 0;
            }
        }
    }

    /// <summary>False if <paramref name="generation"/> coalesced into the running or queued converge.</summary>
    public bool Request(long generation)
    {
        lock (gate)
        {
            if (generation <= Math.Max(running, queued))
            {
                return false;
            }

            queued = generation;
        }

        return requests.Writer.TryWrite(generation);
    }

    /// <summary>Waits for the next generation to converge and marks it running; superseded entries are skipped.</summary>
    public async ValueTask<long> TakeAsync(CancellationToken ct)
    {
        while (true)
        {
            var generation = await requests.Reader.ReadAsync(ct);
            lock (gate)
            {
                if (generation < queued)
                {
                    continue; // a newer request is behind it in the channel
                }

                running = generation;
                queued = 0;
                return generation;
            }
        }
    }

    /// <summary>Marks the running converge finished.</summary>
    public void Complete()
    {
        lock (gate)
        {
            running = 0;
        }
    }
}
