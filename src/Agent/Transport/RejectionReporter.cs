using System.Threading.Channels;
using Grpc.Core;
using Google.Protobuf.WellKnownTypes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OdooFleet.Agent.Configuration;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>
/// Tells the controller about every command this host refused from its queue, so a forged,
/// tampered or replayed command (someone holds broker credentials they should not) lands in the
/// fleet's audit log. Best effort: the refusal itself never waits on it; a bounded backlog keeps
/// the newest refusals when the controller is away for long.
/// </summary>
internal sealed partial class RejectionReporter(AgentConfig config, ControllerClient controller, TimeProvider time, ILogger<RejectionReporter> logger)
    : BackgroundService
{
    private const int Backlog = 256;
    private const int Attempts = 5;

    private readonly Channel<RejectedCommand> pending = Channel.CreateBounded<RejectedCommand>(
        new BoundedChannelOptions(Backlog) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    public void Report(string messageId, string reason) =>
        pending.Writer.TryWrite(new RejectedCommand
        {
            HostId = config.HostId,
            MessageId = messageId.Length > 256 ? messageId[..256] : messageId,
            Reason = reason.Length > 4096 ? reason[..4096] : reason,
            RejectedAt = Timestamp.FromDateTimeOffset(time.GetUtcNow()),
        });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var rejected in pending.Reader.ReadAllAsync(stoppingToken))
            {
                await SendAsync(rejected, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown: what is left was logged locally when it was refused.
        }
    }

    private async Task SendAsync(RejectedCommand rejected, CancellationToken ct)
    {
        var sent = await controller.ReportAsync(
            "ReportRejectedCommand",
            async (client, deadline, token) => await client.ReportRejectedCommandAsync(rejected, deadline: deadline, cancellationToken: token),
            logger,
            ct,
            Attempts);
        if (!sent)
        {
            LogGaveUp(logger, rejected.MessageId, Attempts);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "the controller was not told about refused message '{MessageId}' (refused, or {Attempts} attempts failed); it is in this log")]
    private static partial void LogGaveUp(ILogger logger, string messageId, int attempts);
}
