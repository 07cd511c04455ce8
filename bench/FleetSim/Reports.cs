using Google.Protobuf.WellKnownTypes;
using OdooFleet.Contracts.V1;

namespace OdooFleet.FleetSim;

/// <summary>The answers of a virtual agent that does every host step instantly and successfully.</summary>
internal static class Reports
{
    /// <summary>
    /// A successful converge of <paramref name="spec"/>: when its release differs from what the host
    /// ran, a release transition UPDATED with exactly one Odoo restart, as a real healthy host reports it.
    /// </summary>
    public static ConvergeReport Converged(HostSpec spec, OdooRelease? running, DateTimeOffset startedAt, DateTimeOffset finishedAt)
    {
        var desired = spec.Odoo?.Release is { Commit.Length: > 0 } release ? release : null;
        var report = new ConvergeReport
        {
            HostId = spec.HostId,
            Generation = spec.Generation,
            Success = true,
            StartedAt = Timestamp.FromDateTimeOffset(startedAt),
            FinishedAt = Timestamp.FromDateTimeOffset(finishedAt),
        };
        if (desired is null)
        {
            if (running is not null)
            {
                report.RunningRelease = running.Clone();
            }

            return report;
        }

        report.RunningRelease = desired.Clone();
        if (!desired.Equals(running))
        {
            report.Transition = new ReleaseTransition
            {
                From = running?.Clone(),
                To = desired.Clone(),
                Outcome = TransitionOutcome.Updated,
                Phase = "done",
                Restarts = 1,
                RolloutId = spec.Odoo!.Gate?.RolloutId ?? "",
            };
        }

        return report;
    }

    /// <summary>A successful prefetch of the release a StageReleaseCommand names.</summary>
    public static StageReport Staged(string hostId, HostCommand command, TimeSpan took) => new()
    {
        HostId = hostId,
        CommandId = command.CommandId,
        Release = command.Stage.Release?.Clone(),
        Success = true,
        DurationMs = (long)took.TotalMilliseconds,
    };
}
