using System.Threading.Channels;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Metrics;
using OdooFleet.Agent.Resources;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Measures the tenants of the host's spec (the last one fetched) and reports their sizes with
/// AgentService.ReportTenantSizes: at start, then every <see cref="Interval"/> counted from the
/// previous measurement's start, and soon after a converge that created a tenant
/// (<see cref="MeasureSoon"/>). Not with heartbeats: walking hundreds of filestores every 30 s
/// would cost more than the numbers are worth. A failed measurement or report is tried again after
/// <see cref="RetryDelay"/>; nothing is kept across restarts (the next measurement replaces it).
/// </summary>
internal sealed partial class TenantSizeReporter(
    AgentConfig config,
    ControllerClient controller,
    TenantSizeMeter meter,
    Func<PostgresCluster> localCluster,
    TimeProvider time,
    ILogger<TenantSizeReporter> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    public static readonly TimeSpan RetryDelay = TimeSpan.FromMinutes(1);

    // One pending request is enough: any number of them asks for one measurement.
    private readonly Channel<string> requests = Channel.CreateBounded<string>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Measure again now instead of at the next interval (a new tenant's database exists).</summary>
    public void MeasureSoon(string reason) => requests.Writer.TryWrite(reason);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                var started = time.GetUtcNow();
                bool done;
                try
                {
                    done = await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Sizes are worth no agent stop: whatever went wrong is logged and tried again.
                    LogFailed(logger, e.ToString());
                    done = false;
                }

                await WaitAsync(done ? started + Interval : time.GetUtcNow() + RetryDelay, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the next start measures again.
        }
    }

    /// <summary>One measurement and report; false when it failed and should be tried again soon.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken ct)
    {
        if (!File.Exists(config.SpecCachePath))
        {
            return true; // never fetched a spec: no tenants yet
        }

        Proto.HostSpec spec;
        try
        {
            spec = await SpecCache.LoadAsync(config.SpecCachePath, ct);
        }
        catch (InvalidDataException e)
        {
            LogFailed(logger, e.Message);
            return false;
        }

        // A remote PostgreSQL holds no tenant database of this host's (the profile creates them locally only).
        var tenants = spec.Tenants
            .Where(t => t.State != Proto.TenantSpecState.Absent && Grammar.IsDatabaseName(t.Database))
            .GroupBy(t => t.Database, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First().Name, StringComparer.Ordinal);
        if (spec.Postgres is { Remote: true } || tenants.Count == 0)
        {
            return true;
        }

        var measuredAt = time.GetUtcNow();
        IReadOnlyList<TenantSize> sizes;
        try
        {
            sizes = await meter.MeasureAsync(localCluster(), tenants, ct);
        }
        catch (Exception e) when (e is CommandFailedException or IOException or UnauthorizedAccessException)
        {
            LogFailed(logger, e.Message);
            return false;
        }

        if (sizes.Count == 0)
        {
            return true; // no database created yet
        }

        var report = new Proto.TenantSizeReport
        {
            HostId = config.HostId,
            MeasuredAt = Timestamp.FromDateTimeOffset(measuredAt),
            Tenants = { sizes.Select(s => new Proto.TenantSize { Name = s.Name, DatabaseBytes = s.DatabaseBytes, FilestoreBytes = s.FilestoreBytes }) },
        };
        var url = controller.CurrentUrl;
        try
        {
            var response = await controller.Client.ReportTenantSizesAsync(report, deadline: DateTime.UtcNow + ControllerClient.CallTimeout, cancellationToken: ct);
            LogReported(logger, sizes.Count, response.Recorded, response.Unknown.Count, (long)(time.GetUtcNow() - measuredAt).TotalMilliseconds);
            return true;
        }
        catch (RpcException e) when (!ct.IsCancellationRequested)
        {
            ControllerClient.LogCallFailed(logger, "ReportTenantSizes", url, e.StatusCode, e.Status.Detail);
            if (ControllerClient.IsTransient(e))
            {
                controller.FailOver(url);
            }

            return false;
        }
    }

    /// <summary>Until <paramref name="due"/> (on the injected clock), or until <see cref="MeasureSoon"/> asks.</summary>
    private async Task WaitAsync(DateTimeOffset due, CancellationToken ct)
    {
        var delay = due - time.GetUtcNow();
        if (delay > TimeSpan.Zero && !requests.Reader.TryPeek(out _))
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            await Task.WhenAny(Task.Delay(delay, time, wait.Token), requests.Reader.WaitToReadAsync(wait.Token).AsTask());
            await wait.CancelAsync();
            ct.ThrowIfCancellationRequested();
        }

        if (requests.Reader.TryRead(out var reason))
        {
            LogRequested(logger, reason);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "tenant sizes: {Count} measured, {Recorded} recorded by the controller, {Unknown} unknown to it ({ElapsedMs} ms)")]
    private static partial void LogReported(ILogger logger, int count, int recorded, int unknown, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "tenant sizes: {Error}; trying again in a minute")]
    private static partial void LogFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "tenant sizes: measuring now ({Reason})")]
    private static partial void LogRequested(ILogger logger, string reason);
}
