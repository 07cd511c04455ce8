using System.Collections.Concurrent;
using OdooFleet.Controller.Domain;
using OdooFleet.Controller.Persistence;

namespace OdooFleet.Controller.Tests.Rollouts;

/// <summary>How a virtual agent's release transition ends.</summary>
internal enum AgentOutcome
{
    Updated,
    Reverted,
}

/// <summary>
/// Virtual agents for a set of hosts: they heartbeat and answer every new desired generation with
/// a ConvergeReport as the real agent makes it (release transition with outcome, phase, log tail,
/// unavailability, updated modules), recorded through the store AgentService.ReportConverge
/// writes. Hosts can be held (converge not answered yet) or kept offline (no heartbeat).
/// </summary>
internal sealed class VirtualAgents : IAsyncDisposable
{
    private readonly HostStore hosts;
    private readonly HashSet<string> hostIds;
    private readonly Func<string, AgentOutcome> outcome;
    private readonly CancellationTokenSource stop = new();
    private readonly Task loop;
    private volatile TaskCompletionSource passEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public VirtualAgents(HostStore hosts, IEnumerable<string> hostIds, Func<string, AgentOutcome>? outcome = null)
    {
        this.hosts = hosts;
        this.hostIds = [.. hostIds];
        this.outcome = outcome ?? (_ => AgentOutcome.Updated);
        loop = Task.Run(() => RunAsync(stop.Token));
    }

    /// <summary>Hosts whose converges are not answered until released.</summary>
    public ConcurrentDictionary<string, bool> Held { get; } = new(StringComparer.Ordinal);

    /// <summary>Hosts that send no heartbeat.</summary>
    public ConcurrentDictionary<string, bool> Offline { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Stops the host's heartbeats and returns once none can still be in flight: the pass under way
    /// may have checked <see cref="Offline"/> before it was set, so it and one more must end first.
    /// </summary>
    public async Task TakeOfflineAsync(string hostId, CancellationToken ct)
    {
        Offline[hostId] = true;
        for (var i = 0; i < 2; i++)
        {
            await passEnded.Task.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
    }

    /// <summary>(host, generation) pairs answered, with how often.</summary>
    public ConcurrentDictionary<(string Host, long Generation), int> Answered { get; } = new();

    public Exception? Error { get; private set; }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var now = DateTimeOffset.UtcNow;
                foreach (var host in (await hosts.ListAsync(ct)).Where(h => hostIds.Contains(h.Id)))
                {
                    if (Offline.ContainsKey(host.Id))
                    {
                        continue;
                    }

                    await hosts.RecordHeartbeatAsync(host.Id, now, null, null, null, ct);
                    if (host.DesiredGeneration > host.ReportedGeneration && !Held.ContainsKey(host.Id))
                    {
                        await hosts.RecordReportAsync(Report(host, now), "HostConverged", "{}", now, ct);
                        Answered.AddOrUpdate((host.Id, host.DesiredGeneration), 1, (_, n) => n + 1);
                    }
                }

                var ended = passEnded;
                passEnded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                ended.TrySetResult();
                await Task.Delay(50, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Error = e;
                return;
            }
        }
    }

    private ConvergeReport Report(HostRecord host, DateTimeOffset now)
    {
        var desired = host.DesiredRelease;
        var running = host.RunningRelease;
        if (desired is null || desired == running)
        {
            // No release change (first baseline, or the spec put back to what runs): a plain converge.
            return new ConvergeReport(host.Id, host.DesiredGeneration, true, "", desired ?? running, [], now, now);
        }

        var rolloutId = host.DesiredGate?.RolloutId ?? "";
        // A first install always works here: the hosts under test fail only a change of release.
        if (running is null || outcome(host.Id) == AgentOutcome.Updated)
        {
            return new ConvergeReport(host.Id, host.DesiredGeneration, true, "", desired, [], now, now)
            {
                Transition = new ReleaseTransitionRecord(running, desired, TransitionOutcome.Updated, "done", "", "", 1200, 1, rolloutId, ["db1:web"]),
            };
        }

        return new ConvergeReport(host.Id, host.DesiredGeneration, false, "health gate failed", running, [], now, now)
        {
            Transition = new ReleaseTransitionRecord(
                running, desired, TransitionOutcome.Reverted, "health", "/web/health answered 500 for 300 s",
                "2026-12-04 12:00:00,000 1 ERROR db1 odoo.http: boom", 3400, 2, rolloutId, ["db1:web"]),
        };
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync();
        await loop;
        stop.Dispose();
    }
}
