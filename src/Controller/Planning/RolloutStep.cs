using OdooFleet.Controller.Domain;

namespace OdooFleet.Controller.Planning;

internal enum RolloutHostStatus
{
    Pending,
    Updating,
    Succeeded,
    Failed,
    Unchanged,
    Reverted,
    Skipped,
    Cancelled,
}

/// <summary>What the controller last read about a host, as far as a rollout step cares.</summary>
internal sealed record HostProgress(long ReportedGeneration, long AppliedGeneration, bool LastSuccess, string LastError, OdooRelease? Running)
{
    /// <summary>The release transition of the last accepted report (null when it changed no release).</summary>
    public ReleaseTransitionRecord? Transition { get; init; }

    public DateTimeOffset? LastSeen { get; init; }
}

/// <summary>The decision for one host of a running rollout at one tick.</summary>
internal sealed record StepDecision(RolloutHostStatus Status, string Message, bool Resend);

/// <summary>
/// Pure: given where a host stands in a rollout and what it last reported, what happens next.
/// The grain persists the decision and only then acts on it.
/// </summary>
internal static class RolloutStep
{
    public static bool IsTerminal(RolloutHostStatus status) =>
        status is not (RolloutHostStatus.Pending or RolloutHostStatus.Updating);

    public static bool IsFailure(RolloutHostStatus status) =>
        status is RolloutHostStatus.Failed or RolloutHostStatus.Reverted;

    public static StepDecision Decide(
        RolloutHostStatus status,
        long targetGeneration,
        DateTimeOffset dispatchedAt,
        DateTimeOffset lastSentAt,
        HostProgress? host,
        DateTimeOffset now,
        TimeSpan resendAfter,
        TimeSpan timeout)
    {
        if (status != RolloutHostStatus.Updating)
        {
            return new StepDecision(status, "", Resend: false);
        }

        if (host is null)
        {
            return new StepDecision(RolloutHostStatus.Failed, "host was removed during the rollout", Resend: false);
        }

        if (host.ReportedGeneration >= targetGeneration)
        {
            var transition = host.Transition;
            if (host.AppliedGeneration >= targetGeneration)
            {
                return new StepDecision(RolloutHostStatus.Succeeded, transition is { Outcome: TransitionOutcome.Updated }
                    ? $"updated in generation {targetGeneration} ({transition.UnavailableMs} ms unavailable, {transition.Restarts} restart(s))"
                    : $"converged generation {targetGeneration}", Resend: false);
            }

            // A report for a newer generation without success means the target generation cannot apply either.
            var reason = transition is { Reason.Length: > 0 } ? transition.Reason : host.LastError;
            return transition is { Outcome: TransitionOutcome.Reverted }
                ? new StepDecision(RolloutHostStatus.Reverted, $"reverted in phase {transition.Phase}: {reason}", Resend: false)
                : new StepDecision(RolloutHostStatus.Failed,
                    transition is { Phase.Length: > 0 } ? $"failed in phase {transition.Phase}: {reason}" : $"converge failed: {reason}", Resend: false);
        }

        if (now - dispatchedAt >= timeout)
        {
            return new StepDecision(
                RolloutHostStatus.Failed, $"no converge report for generation {targetGeneration} within {timeout.TotalSeconds:0} s", Resend: false);
        }

        return new StepDecision(RolloutHostStatus.Updating, "", Resend: now - lastSentAt >= resendAfter);
    }
}
