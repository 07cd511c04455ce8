using Google.Protobuf.WellKnownTypes;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Transport;

/// <summary>
/// `fleet events --follow`: ListEvents polled until the caller cancels. Each poll asks again from
/// <see cref="Overlap"/> before the newest event seen and drops ids already shown, so an event stored a
/// little after a newer one (another controller, a later commit) is still shown once. An event stored
/// more than <see cref="Overlap"/> after it occurred would be missed; the help says so.
/// </summary>
internal sealed class EventPoller(FleetConnection connection, CliHost host)
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    public static readonly TimeSpan Overlap = TimeSpan.FromMinutes(1);

    /// <summary>The controller's maximum; a poll that fills it may have left older events of its window out.</summary>
    public const int PollLimit = 10_000;

    private readonly Dictionary<long, DateTimeOffset> seen = [];

    public async Task FollowAsync(ListEventsRequest first, Func<IReadOnlyList<FleetEventRecord>, Task> onEvents, CancellationToken cancellationToken)
    {
        var request = first;
        DateTimeOffset? newest = null;
        var failures = 0;
        while (true)
        {
            ListEventsResponse response;
            try
            {
                var sent = request;
                response = await connection.CallAsync((client, options) => client.ListEventsAsync(sent, options), idempotent: true, cancellationToken);
                failures = 0;
            }
            catch (CliException e) when (e.ExitCode is ExitCodes.Unreachable or ExitCodes.Timeout && !cancellationToken.IsCancellationRequested)
            {
                // A controller restart should not end a follow; a controller that stays away does.
                failures++;
                if (failures > RolloutWatcher.MaxReconnects)
                {
                    throw;
                }

                var delay = host.ReconnectDelay(failures);
                await host.Err.WriteLineAsync($"fleet: {e.Message}; retrying in {delay.TotalSeconds:0.#}s");
                await Task.Delay(delay, host.Time, cancellationToken);
                continue;
            }

            if (!ReferenceEquals(request, first) && response.Events.Count >= PollLimit)
            {
                await host.Err.WriteLineAsync($"fleet: more than {PollLimit} events arrived between two polls; some of them are not shown (narrow with --type or --subject)");
            }

            var fresh = response.Events
                .Where(e => !seen.ContainsKey(e.Id))
                .OrderBy(e => e.OccurredAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue)
                .ThenBy(e => e.Id)
                .ToList();
            foreach (var e in fresh)
            {
                var at = e.OccurredAt?.ToDateTimeOffset() ?? DateTimeOffset.MinValue;
                seen[e.Id] = at;
                newest = newest is { } n && n >= at ? n : at;
            }

            if (fresh.Count > 0)
            {
                await onEvents(fresh);
            }

            if (newest is { } latest)
            {
                var from = latest - Overlap;
                foreach (var old in seen.Where(s => s.Value < from).Select(s => s.Key).ToList())
                {
                    seen.Remove(old);
                }

                request = new ListEventsRequest { Since = Timestamp.FromDateTimeOffset(from), TypePrefix = first.TypePrefix, Subject = first.Subject, Limit = PollLimit };
            }

            await Task.Delay(Interval, host.Time, cancellationToken);
        }
    }
}
