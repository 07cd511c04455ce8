using System.Globalization;
using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>One allowed incoming port, e.g. 443/tcp.</summary>
internal sealed record UfwPort(int Port, string Protocol)
{
    /// <summary>The rule as ufw takes it and as `ufw show added` prints it: "allow 443/tcp".</summary>
    public string Rule => $"allow {this}";

    public override string ToString() => $"{Port.ToString(CultureInfo.InvariantCulture)}/{Protocol}";
}

/// <summary>
/// The host firewall. The rule set is owned: rules nobody declared (added by hand) are removed.
/// Incoming policy deny by default; the ssh port must be allowed so enabling can never lock operators out.
/// </summary>
internal sealed record UfwSpec(IReadOnlyList<UfwPort> Allow)
{
    public static readonly IReadOnlyList<string> Policies = ["allow", "deny", "reject"];
    public static readonly IReadOnlyList<string> LoggingLevels = ["off", "low", "medium", "high", "full"];

    public bool Enabled { get; init; } = true;
    public string DefaultIncoming { get; init; } = "deny";
    public string DefaultOutgoing { get; init; } = "allow";
    public string Logging { get; init; } = "low";
    public int SshPort { get; init; } = 22;

    public UfwPort SshRule => new(SshPort, "tcp");

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        var seen = new HashSet<UfwPort>();
        for (var i = 0; i < Allow.Count; i++)
        {
            var port = Allow[i];
            if (port.Port is < 1 or > 65535)
            {
                errors.Add($"ufw.allow[{i}].port: {port.Port} is not a port (1-65535); fix the firewall rule");
            }

            if (port.Protocol is not ("tcp" or "udp"))
            {
                errors.Add($"ufw.allow[{i}].protocol: '{Grammar.Printable(port.Protocol)}' must be tcp or udp; fix the firewall rule");
            }
            else if (!seen.Add(port))
            {
                errors.Add($"ufw.allow[{i}]: {port} is listed twice; remove the duplicate");
            }
        }

        if (SshPort is < 1 or > 65535)
        {
            errors.Add($"ufw.ssh_port: {SshPort} is not a port (1-65535); set the port sshd listens on");
        }
        else if (!Allow.Contains(SshRule))
        {
            errors.Add($"ufw.allow: must include {SshRule} (ssh) so the firewall never locks operators out; add it");
        }

        Check("ufw.default_incoming", DefaultIncoming, Policies);
        Check("ufw.default_outgoing", DefaultOutgoing, Policies);
        Check("ufw.logging", Logging, LoggingLevels);
        return errors;

        void Check(string field, string value, IReadOnlyList<string> allowed)
        {
            if (!allowed.Contains(value))
            {
                errors.Add($"{field}: '{Grammar.Printable(value)}' must be one of {string.Join(", ", allowed)}; fix the firewall settings");
            }
        }
    }
}

/// <summary>
/// Converges ufw. Observed from `ufw status verbose` (state, logging, default policies: only
/// printed while active) and `ufw show added` (the user rules, also while inactive). Applies
/// additions before deletions, the ssh rule first, policies before enabling, and never runs
/// `ufw reset`. Acts on the running system.
/// </summary>
internal sealed class UfwResource : Resource<UfwResource.Observed>
{
    private readonly ICommandRunner runner;
    private readonly UfwSpec spec;

    public UfwResource(ICommandRunner runner, UfwSpec spec)
    {
        var errors = spec.Validate();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        this.runner = runner;
        this.spec = spec;
    }

    /// <param name="Status">What `ufw status verbose` says.</param>
    /// <param name="AddedRules">The user rules as `ufw show added` prints them, without the leading "ufw ".</param>
    internal sealed record Observed(UfwStatus Status, IReadOnlyList<string> AddedRules) : Observation;

    /// <summary>Defaults and logging are null while ufw is inactive: its status does not print them.</summary>
    internal sealed record UfwStatus(bool Active, string? Logging, string? DefaultIncoming, string? DefaultOutgoing);

    private sealed record UfwChange(string Description, UfwPlan Plan) : Change(Description);

    private sealed record UfwPlan(
        IReadOnlyList<UfwPort> Add, IReadOnlyList<string> Delete, bool SetIncoming, bool SetOutgoing, bool SetLogging, bool Enable, bool Disable);

    public override string Id => "firewall:ufw";

    public override string Kind => "firewall";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var status = await runner.RunCheckedAsync(Ufw("status", "verbose"), ct);
        var added = await runner.RunCheckedAsync(Ufw("show", "added"), ct);
        return new Observed(ParseStatus(status.Stdout), ParseAdded(added.Stdout));
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var wanted = spec.Allow.Select(p => p.Rule).ToHashSet(StringComparer.Ordinal);
        var present = observed.AddedRules.Select(WithoutComment).ToHashSet(StringComparer.Ordinal);

        // The ssh rule goes first so that, whatever happens next, ssh stays open.
        var add = spec.Allow.Where(p => !present.Contains(p.Rule)).OrderBy(p => p == spec.SshRule ? 0 : 1).ToList();
        var delete = observed.AddedRules.Where(rule => !wanted.Contains(WithoutComment(rule))).ToList();
        var status = observed.Status;

        // While inactive the policies cannot be observed: set them before enabling, it is idempotent.
        var enable = spec.Enabled && !status.Active;
        var plan = new UfwPlan(
            add,
            delete,
            SetIncoming: spec.Enabled && (enable || status.DefaultIncoming != spec.DefaultIncoming),
            SetOutgoing: spec.Enabled && (enable || status.DefaultOutgoing != spec.DefaultOutgoing),
            SetLogging: spec.Enabled && (enable || status.Logging != spec.Logging),
            Enable: enable,
            Disable: !spec.Enabled && status.Active);

        var parts = new List<string>();
        if (add.Count > 0)
        {
            parts.Add($"allow {string.Join(", ", add)}");
        }

        if (delete.Count > 0)
        {
            parts.Add($"delete rules nobody declared: {string.Join("; ", delete)}");
        }

        if (plan.SetIncoming && !enable)
        {
            parts.Add($"default incoming {status.DefaultIncoming} -> {spec.DefaultIncoming}");
        }

        if (plan.SetOutgoing && !enable)
        {
            parts.Add($"default outgoing {status.DefaultOutgoing} -> {spec.DefaultOutgoing}");
        }

        if (plan.SetLogging && !enable)
        {
            parts.Add($"logging {status.Logging} -> {spec.Logging}");
        }

        if (enable)
        {
            parts.Add($"enable (default incoming {spec.DefaultIncoming}, outgoing {spec.DefaultOutgoing}, logging {spec.Logging})");
        }

        if (plan.Disable)
        {
            parts.Add("disable");
        }

        return parts.Count == 0 ? null : new UfwChange($"ufw: {string.Join(", ", parts)}", plan);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var plan = ((UfwChange)change).Plan;
        foreach (var port in plan.Add)
        {
            await runner.RunCheckedAsync(Ufw("allow", port.ToString()), ct);
        }

        foreach (var rule in plan.Delete)
        {
            // --force: deleting must never wait for a "Proceed with operation (y|n)?" answer.
            await runner.RunCheckedAsync(Ufw(["--force", .. DeleteArguments(rule)]), ct);
        }

        if (plan.SetIncoming)
        {
            await runner.RunCheckedAsync(Ufw("default", spec.DefaultIncoming, "incoming"), ct);
        }

        if (plan.SetOutgoing)
        {
            await runner.RunCheckedAsync(Ufw("default", spec.DefaultOutgoing, "outgoing"), ct);
        }

        if (plan.SetLogging)
        {
            await runner.RunCheckedAsync(Ufw("logging", spec.Logging), ct);
        }

        if (plan.Enable)
        {
            // --force: ufw otherwise asks whether to proceed because it may disrupt ssh (it cannot: the ssh rule is in).
            await runner.RunCheckedAsync(Ufw("--force", "enable"), ct);
        }
        else if (plan.Disable)
        {
            await runner.RunCheckedAsync(Ufw("disable"), ct);
        }

        return null;
    }

    /// <summary>Parses `ufw status verbose` (ufw 0.36): the header lines; the rule table is not needed, `show added` is the source of rules.</summary>
    internal static UfwStatus ParseStatus(string stdout)
    {
        bool? active = null;
        string? logging = null, incoming = null, outgoing = null;
        foreach (var raw in stdout.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("Status:", StringComparison.Ordinal))
            {
                active = Value(line) switch
                {
                    "active" => true,
                    "inactive" => false,
                    var other => throw new CommandFailedException($"ufw status printed an unknown state '{Grammar.Printable(other)}'"),
                };
            }
            else if (line.StartsWith("Logging:", StringComparison.Ordinal))
            {
                // "on (low)" or "off".
                var value = Value(line);
                logging = value == "off" ? "off" : Between(value, '(', ')');
            }
            else if (line.StartsWith("Default:", StringComparison.Ordinal))
            {
                // "deny (incoming), allow (outgoing), disabled (routed)".
                foreach (var part in Value(line).Split(',', StringSplitOptions.TrimEntries))
                {
                    var policy = part.Split(' ', 2)[0];
                    switch (Between(part, '(', ')'))
                    {
                        case "incoming":
                            incoming = policy;
                            break;
                        case "outgoing":
                            outgoing = policy;
                            break;
                    }
                }
            }
        }

        return active is { } isActive
            ? new UfwStatus(isActive, logging, incoming, outgoing)
            : throw new CommandFailedException($"ufw status printed no 'Status:' line: {Grammar.Printable(stdout.Trim(), 200)}");

        static string Value(string line) => line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();

        static string? Between(string text, char open, char close)
        {
            var start = text.IndexOf(open, StringComparison.Ordinal);
            var end = text.IndexOf(close, StringComparison.Ordinal);
            return start >= 0 && end > start ? text[(start + 1)..end] : null;
        }
    }

    /// <summary>Parses `ufw show added`: one "ufw &lt;rule&gt;" line per user rule, "(None)" when there are none.</summary>
    internal static IReadOnlyList<string> ParseAdded(string stdout) =>
        stdout.Split('\n', StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("ufw ", StringComparison.Ordinal))
            .Select(line => line["ufw ".Length..].Trim())
            .ToList();

    /// <summary>
    /// The arguments that delete a rule printed by `show added`: "delete RULE", or "route delete RULE"
    /// for routed rules; the comment is dropped (ufw matches rules without it).
    /// </summary>
    internal static IReadOnlyList<string> DeleteArguments(string rule)
    {
        var words = Words(WithoutComment(rule));
        if (words.Count == 0 || words.Any(w => w.StartsWith('-')))
        {
            throw new ResourceFailedException($"cannot delete the ufw rule '{Grammar.Printable(rule)}': unexpected form; delete it by hand with `ufw delete`");
        }

        return words[0] == "route" ? ["route", "delete", .. words.Skip(1)] : ["delete", .. words];
    }

    /// <summary>The rule without its trailing " comment '...'" (ufw prints comments last).</summary>
    private static string WithoutComment(string rule)
    {
        var at = rule.IndexOf(" comment '", StringComparison.Ordinal);
        return at < 0 ? rule : rule[..at];
    }

    /// <summary>Splits on spaces, honouring single quotes as ufw prints them around application names ('Nginx Full').</summary>
    private static List<string> Words(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        var quoted = false;
        var any = false;
        foreach (var c in text)
        {
            if (c == '\'')
            {
                quoted = !quoted;
                any = true;
            }
            else if (c == ' ' && !quoted)
            {
                if (any)
                {
                    words.Add(word.ToString());
                    word.Clear();
                    any = false;
                }
            }
            else
            {
                word.Append(c);
                any = true;
            }
        }

        if (any)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    private static CommandSpec Ufw(params string[] arguments) => new("ufw", arguments) { Timeout = TimeSpan.FromMinutes(1) };
}
