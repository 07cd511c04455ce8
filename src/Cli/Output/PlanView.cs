using OdooFleet.Contracts.V1;

namespace OdooFleet.Cli.Output;

/// <summary>One row of the plan table: a resource that would change (or could not be observed).</summary>
internal sealed record PlanRow(string Id, string Kind, string Status, string Message);

/// <summary>HostPlan (proto) → JSON object, table rows, diff blocks and exit code. Pure.</summary>
internal static class PlanView
{
    public static string Status(ResourceStatus status) => status switch
    {
        ResourceStatus.Changed => "change",
        ResourceStatus.Unchanged => "unchanged",
        ResourceStatus.Failed => "failed",
        ResourceStatus.Skipped => "skipped",
        _ => "unknown",
    };

    public static int Changes(HostPlan plan) => plan.Resources.Count(r => r.Status == ResourceStatus.Changed);

    public static int Unchanged(HostPlan plan) => plan.Resources.Count(r => r.Status == ResourceStatus.Unchanged);

    public static int Failed(HostPlan plan) => plan.Resources.Count(r => r.Status is ResourceStatus.Failed or ResourceStatus.Skipped);

    /// <summary>0 when the agent computed the plan (whatever it would change), 1 when it could not.</summary>
    public static int ExitCode(HostPlan plan) => plan.Success ? ExitCodes.Ok : ExitCodes.Failed;

    public static PlanJson ToJson(HostPlan plan) =>
        new(
            plan.RequestId,
            plan.HostId,
            plan.HostName,
            plan.Generation,
            plan.Success,
            Formats.NullIfEmpty(plan.Error),
            Changes(plan),
            Unchanged(plan),
            Failed(plan),
            [.. plan.Explanation],
            [.. plan.Resources.Select(r => new PlanResourceJson(r.Id, r.Kind, Status(r.Status), Formats.NullIfEmpty(r.Message), Formats.NullIfEmpty(r.Detail)))],
            Formats.Iso(plan.RequestedAt),
            Formats.Iso(plan.FinishedAt));

    public static string Header(HostPlan plan)
    {
        var name = plan.HostName.Length > 0 ? $"{plan.HostName} ({plan.HostId})" : plan.HostId;
        return Formats.Invariant($"plan for {name} at generation {plan.Generation}, computed by its agent (nothing was changed):");
    }

    /// <summary>Only what would not stay as it is: changes, and resources that failed or were skipped.</summary>
    public static IReadOnlyList<PlanRow> ToRows(HostPlan plan) =>
        [.. plan.Resources
            .Where(r => r.Status != ResourceStatus.Unchanged)
            .Select(r => new PlanRow(r.Id, r.Kind, Status(r.Status), Printable(r.Message)))];

    public static string Summary(HostPlan plan)
    {
        var changes = Changes(plan);
        var text = changes == 0
            ? Formats.Invariant($"no changes: {Unchanged(plan)} resource(s) already as specified")
            : Formats.Invariant($"{changes} resource(s) would change, {Unchanged(plan)} unchanged");
        var failed = Failed(plan);
        return failed > 0 ? Formats.Invariant($"{text}, {failed} failed or skipped") : text;
    }

    /// <summary>"--- id" followed by the detail, for each resource that has one.</summary>
    public static IReadOnlyList<(string Id, string Detail)> Diffs(HostPlan plan) =>
        [.. plan.Resources
            .Where(r => r.Status != ResourceStatus.Unchanged && r.Detail.Length > 0)
            .Select(r => (r.Id, Printable(r.Detail).TrimEnd('\n')))];

    /// <summary>
    /// Agent text goes to a terminal: control characters other than newline and tab become '?',
    /// so a crafted file on a host cannot drive the operator's terminal with escape sequences.
    /// </summary>
    public static string Printable(string text) =>
        string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                var c = source[i];
                span[i] = char.IsControl(c) && c is not '\n' and not '\t' ? '?' : c;
            }
        });
}
