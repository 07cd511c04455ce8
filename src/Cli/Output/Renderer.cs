using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using OdooFleet.Contracts.V1;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace OdooFleet.Cli.Output;

/// <summary>Writes views to stdout: JSON, or Spectre.Console tables (colours and live updates only on a terminal).</summary>
internal sealed class Renderer
{
    // Redirected table output is for people reading logs: wide enough not to wrap ids and commits.
    private const int RedirectedWidth = 200;

    private readonly CliHost host;
    private readonly IAnsiConsole console;

    public Renderer(CliHost host)
    {
        this.host = host;
        console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(host.Out),
            Ansi = host.OutputIsTerminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = host.OutputIsTerminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = host.OutputIsTerminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!host.OutputIsTerminal)
        {
            console.Profile.Width = RedirectedWidth;
        }
    }

    public void Json<T>(T value, JsonTypeInfo<T> typeInfo) => host.Out.WriteLine(JsonSerializer.Serialize(value, typeInfo));

    public void Line(string text) => host.Out.WriteLine(text);

    public void Hosts(IReadOnlyList<HostRow> rows)
    {
        if (rows.Count == 0)
        {
            Line("no hosts enrolled yet; add one with `fleet token create` and `odoofleet-agent enroll` on the host");
            return;
        }

        var table = NewTable("ID", "NAME", "ADDRESS", "STATE", "GEN", "ODOO", "TENANTS", "LAST SEEN");
        foreach (var row in rows)
        {
            table.AddRow(
                new Text(row.Id),
                new Text(row.Name),
                new Text(row.Address),
                new Markup(Colored(row.State)),
                new Text(row.Generation),
                new Text(row.Odoo),
                new Text(row.Tenants),
                new Text(row.LastSeen));
        }

        console.Write(table);
    }

    public void HostDetails(IReadOnlyList<(string Section, string Label, string Value)> details)
    {
        foreach (var section in details.GroupBy(d => d.Section))
        {
            console.Write(new Markup($"[bold]{Markup.Escape(section.Key)}[/]"));
            console.WriteLine();
            var grid = new Grid().AddColumn(new GridColumn().PadLeft(2).PadRight(2)).AddColumn();
            foreach (var (_, label, value) in section)
            {
                grid.AddRow(new Text(label), label == "state" ? new Markup(Colored(value)) : new Text(value));
            }

            console.Write(grid);
        }
    }

    /// <summary>A plain table of text cells (tokens, audit entries).</summary>
    public void Table(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows)
    {
        var table = NewTable([.. columns]);
        foreach (var row in rows)
        {
            table.AddRow([.. row.Select(cell => new Text(cell))]);
        }

        console.Write(table);
    }

    public void Rollout(Rollout rollout) => console.Write(RolloutRenderable(rollout, host.Time.GetUtcNow()));

    public void Lines(IEnumerable<string> lines)
    {
        foreach (var line in lines)
        {
            Line(line);
        }
    }

    /// <summary>The explanation, the resources that would not stay as they are, a count, then the diffs.</summary>
    public void Plan(HostPlan plan)
    {
        Line(PlanView.Header(plan));
        foreach (var line in plan.Explanation)
        {
            Line("  " + PlanView.Printable(line));
        }

        var rows = PlanView.ToRows(plan);
        if (rows.Count > 0)
        {
            var table = NewTable("RESOURCE", "KIND", "PLAN", "WHAT");
            foreach (var row in rows)
            {
                table.AddRow(new Text(row.Id), new Text(row.Kind), new Markup(Colored(row.Status)), new Text(row.Message));
            }

            console.Write(table);
        }
        else if (plan.Explanation.Count > 0)
        {
            Line("");
        }

        Line(PlanView.Summary(plan));
        foreach (var (id, detail) in PlanView.Diffs(plan))
        {
            Line("");
            Line($"--- {id}");
            Line(detail);
        }
    }

    /// <summary>Redraws the rollout in place while <paramref name="body"/> runs; the last frame stays on screen.</summary>
    public Task<T> LiveAsync<T>(Rollout initial, Func<Action<Rollout>, Task<T>> body)
    {
        var live = new LiveDisplay(console, RolloutRenderable(initial, host.Time.GetUtcNow()));
        return live.StartAsync(context => body(rollout =>
        {
            context.UpdateTarget(RolloutRenderable(rollout, host.Time.GetUtcNow()));
            context.Refresh();
        }));
    }

    /// <summary>Summary, details, per-batch progress, per-host rows, then the log tails of failed hosts.</summary>
    private static Rows RolloutRenderable(Rollout rollout, DateTimeOffset now)
    {
        var parts = new List<IRenderable> { new Markup($"[bold]{Markup.Escape(RolloutView.Summary(rollout))}[/]") };
        var details = new Grid().AddColumn(new GridColumn().PadLeft(2).PadRight(2)).AddColumn();
        foreach (var (label, value) in RolloutView.Details(rollout, now))
        {
            details.AddRow(new Text(label), new Text(value));
        }

        parts.Add(details);
        if (rollout.Batches.Count > 0)
        {
            var batches = NewTable("BATCH", "CANARY", "STATE", "DONE", "FAILED", "SKIPPED", "DURATION");
            foreach (var row in RolloutView.BatchRows(rollout, now))
            {
                batches.AddRow(
                    new Text(row.Batch), new Text(row.Canary), new Markup(Colored(row.State)), new Text(row.Done), new Text(row.Failed), new Text(row.Skipped), new Text(row.Duration));
            }

            parts.Add(batches);
        }

        var hosts = NewTable("HOST", "BATCH", "STATE", "PHASE", "UNAVAILABLE", "UPDATED MODULES", "MESSAGE");
        foreach (var row in RolloutView.ToRows(rollout))
        {
            hosts.AddRow(
                new Text(row.Name), new Text(row.Batch), new Markup(Colored(row.State)), new Text(row.Phase), new Text(row.Unavailable), new Text(row.Updated), new Text(row.Message));
        }

        parts.Add(hosts);
        foreach (var tail in RolloutView.LogTails(rollout))
        {
            parts.Add(new Markup($"[bold]{Markup.Escape(tail.Name)}[/] {Colored(tail.State)}: {Markup.Escape(tail.Message)}; the end of its Odoo log:"));
            parts.Add(new Text(string.Join('\n', tail.Lines.Select(l => "  | " + l))));
        }

        return new Rows(parts);
    }

    private static Table NewTable(params string[] columns)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(column).NoWrap());
        }

        return table;
    }

    private static string Colored(string state)
    {
        var colour = state switch
        {
            "online" or "succeeded" or "done" => "green",
            "offline" or "failed" or "reverted" or "aborted" => "red",
            "updating" or "running" or "change" or "paused" => "yellow",
            "unchanged" => "blue",
            _ => "grey",
        };
        return $"[{colour}]{Markup.Escape(state)}[/]";
    }
}
