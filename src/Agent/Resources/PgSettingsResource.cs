using System.Globalization;
using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// Server settings, each written as PostgreSQL accepts it ("512MB", "10s", "on", "0.9"). Names are
/// checked by grammar only: PostgreSQL itself refuses unknown names and bad values on apply.
/// </summary>
internal sealed record PgSettingsSpec(IReadOnlyDictionary<string, string> Settings)
{
    /// <summary>The agent reaches the cluster through these; changing them here would cut it off.</summary>
    private static readonly string[] Reserved = ["port", "unix_socket_directories"];

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (name, value) in Settings.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!Grammar.IsSqlIdentifier(name))
            {
                errors.Add($"postgres.settings: '{Grammar.Printable(name)}' is not a setting name (lowercase letters, digits and '_', e.g. \"work_mem\"); fix the override");
            }
            else if (Reserved.Contains(name, StringComparer.Ordinal))
            {
                errors.Add($"postgres.settings.{name}: is part of how the agent reaches the cluster (postgres.cluster); remove the override");
            }
            else if (!Grammar.IsSingleLine(value) || value.Length > 1024)
            {
                errors.Add($"postgres.settings.{name}: '{Grammar.Printable(value)}' must be one line of at most 1024 characters without control characters; fix the override");
            }
        }

        return errors;
    }
}

/// <summary>
/// Keeps server settings at their values: observes the effective values (pg_settings) and what
/// ALTER SYSTEM wrote (postgresql.auto.conf, through pg_file_settings), compares them normalized as
/// PostgreSQL parses them, writes differences with ALTER SYSTEM (PostgreSQL validates them), then
/// reloads; settings with context 'postmaster', or pending a restart after the reload, restart
/// the cluster. A value PostgreSQL refuses puts the previous ALTER SYSTEM values back: nothing changes.
/// </summary>
internal sealed class PgSettingsResource : Resource<PgSettingsResource.Observed>
{
    private readonly Psql psql;
    private readonly TimeProvider time;
    private readonly PgSettingsSpec spec;
    private readonly string names;

    public PgSettingsResource(ICommandRunner runner, PostgresCluster cluster, TimeProvider time, PgSettingsSpec spec)
    {
        var errors = cluster.Validate().Concat(spec.Validate()).ToList();
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        psql = new Psql(runner, cluster);
        this.time = time;
        this.spec = spec;
        names = string.Join(' ', spec.Settings.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>One row of pg_settings; Setting is in Unit (e.g. shared_buffers "16384" in "8kB"), Display is SHOW's form.</summary>
    internal sealed record SettingState(string Setting, string Unit, string VarType, string Context, bool PendingRestart, string Display);

    /// <summary>Effective values by lowercase name, and the ALTER SYSTEM value of each managed name that has one.</summary>
    internal sealed record Observed(IReadOnlyDictionary<string, SettingState> Effective, IReadOnlyDictionary<string, string> AlterSystem) : Observation;

    /// <summary>The settings this resource keeps (drift acceptance compares the observed values with them).</summary>
    public IReadOnlyDictionary<string, string> Desired => spec.Settings;

    public override string Id => $"pg-settings:{psql.Cluster}";

    public override string Kind => "pg-settings";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var variables = new Dictionary<string, string> { ["names"] = names };
        var effective = await psql.QueryAsync(
            """
            SELECT lower(name), setting, coalesce(unit, ''), vartype, context, pending_restart, current_setting(name)
            FROM pg_settings WHERE lower(name) = ANY (string_to_array(:'names', ' '));

            """,
            variables, 7, ct);

        // pg_file_settings reads the files now, so an ALTER SYSTEM not yet reloaded shows up too.
        var alterSystem = await psql.QueryAsync(
            """
            SELECT lower(name), coalesce(setting, '') FROM pg_file_settings
            WHERE sourcefile = current_setting('data_directory') || '/postgresql.auto.conf'
              AND lower(name) = ANY (string_to_array(:'names', ' '))
            ORDER BY seqno;

            """,
            variables, 2, ct);
        var auto = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var row in alterSystem)
        {
            auto[row[0]] = row[1]; // the last occurrence in the file wins, as in PostgreSQL
        }

        return new Observed(
            effective.ToDictionary(row => row[0], row => new SettingState(row[1], row[2], row[3], row[4], row[5] == "t", row[6]), StringComparer.Ordinal),
            auto);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        var plans = new List<SettingPlan>();
        foreach (var (name, value) in spec.Settings.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            if (!observed.Effective.TryGetValue(name, out var state))
            {
                plans.Add(new SettingPlan(name, value, Write: true, Previous: observed.AlterSystem.GetValueOrDefault(name), NeedsRestart: false,
                    $"set {name} = {value} (PostgreSQL does not know this setting: it will refuse it)"));
                continue;
            }

            var desired = PgSettingValue.Normalize(value, state.VarType, state.Unit);
            var effectiveMatches = desired is not null && desired == PgSettingValue.Normalize(state.Setting, state.VarType, state.Unit);
            var hasAuto = observed.AlterSystem.TryGetValue(name, out var auto);
            var autoMatches = hasAuto && desired is not null && desired == PgSettingValue.Normalize(auto!, state.VarType, state.Unit);
            if (effectiveMatches && (!hasAuto || autoMatches) && !state.PendingRestart)
            {
                continue;
            }

            var restart = (state.Context == "postmaster" && !effectiveMatches) || state.PendingRestart;
            var how = restart ? $"restart: context {state.Context}" : $"reload: context {state.Context}";
            var understood = desired is null ? $"; the agent cannot parse '{value}' as {state.VarType}{UnitHint(state.Unit)}, PostgreSQL will decide" : "";
            var what = (effectiveMatches, hasAuto, autoMatches) switch
            {
                (false, _, _) => $"set {name} {state.Display} -> {value}",
                (true, true, false) => $"put back {name} = {value} (ALTER SYSTEM has '{auto}')",
                (true, true, true) => $"{name} = {value} is written and waits for a restart",
                (true, false, _) => $"pin {name} = {value} (a changed config file waits for a restart)",
            };
            plans.Add(new SettingPlan(name, value, Write: !autoMatches, Previous: hasAuto ? auto : null, restart, $"{what} ({how}{understood})"));
        }

        return plans.Count == 0 ? null : new SettingsChange(string.Join("; ", plans.Select(p => p.Description)), plans);
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var plans = ((SettingsChange)change).Plans;
        var written = plans.Where(p => p.Write).ToList();
        if (written.Count > 0)
        {
            await AlterSystemAsync(written, ct);
        }

        await psql.ReloadAsync(time, ct);
        var afterReload = await ObserveTypedAsync(ct);
        var restartBecause = new List<string>();
        var reloaded = new List<string>();
        foreach (var plan in plans)
        {
            if (afterReload.Effective.TryGetValue(plan.Name, out var state) && (state.PendingRestart || (plan.NeedsRestart && !Matches(plan, state))))
            {
                restartBecause.Add(state.Context == "postmaster"
                    ? $"{plan.Name} has context postmaster"
                    : $"{plan.Name} is pending a restart after the reload");
            }
            else
            {
                reloaded.Add(plan.Name);
            }
        }

        var final = afterReload;
        if (restartBecause.Count > 0)
        {
            await psql.RestartAsync(ct);
            final = await ObserveTypedAsync(ct);
        }

        var notInEffect = plans
            .Where(p => final.Effective.TryGetValue(p.Name, out var state) && !Matches(p, state))
            .Select(p => $"{p.Name} shows {final.Effective[p.Name].Display}, not {p.Value}")
            .ToList();
        if (notInEffect.Count > 0)
        {
            throw new ResourceFailedException(
                $"PostgreSQL {psql.Cluster} accepted the settings but {string.Join(", ", notInEffect)}; "
                + "write the value the way SHOW prints it, or look for an override (ALTER ROLE/DATABASE ... SET)");
        }

        var message = $"ALTER SYSTEM SET {string.Join(", ", written.Select(p => $"{p.Name} = {p.Value}"))}";
        if (written.Count == 0)
        {
            message = "settings already written";
        }

        if (reloaded.Count > 0)
        {
            message += $"; reloaded ({string.Join(", ", reloaded)}: a reload is enough)";
        }

        if (restartBecause.Count > 0)
        {
            message += $"; restarted PostgreSQL {psql.Cluster} ({string.Join(", ", restartBecause)})";
        }

        return message;
    }

    private static bool Matches(SettingPlan plan, SettingState state) =>
        PgSettingValue.Normalize(plan.Value, state.VarType, state.Unit) is { } desired
        && desired == PgSettingValue.Normalize(state.Setting, state.VarType, state.Unit);

    /// <summary>
    /// One ALTER SYSTEM per setting (each rewrites postgresql.auto.conf; none can run in a
    /// transaction). If PostgreSQL refuses one, those before it are put back to what they were, so
    /// a bad value changes nothing; the server was not reloaded in between.
    /// </summary>
    private async Task AlterSystemAsync(IReadOnlyList<SettingPlan> plans, CancellationToken ct)
    {
        var (sql, variables) = Script(plans, p => (p.Name, p.Value));
        try
        {
            await psql.ExecuteAsync(sql, variables, ct);
        }
        catch (CommandFailedException refused)
        {
            var (undo, undoVariables) = Script(plans, p => (p.Name, p.Previous));
            try
            {
                await psql.ExecuteAsync(undo, undoVariables, ct);
            }
            catch (CommandFailedException undoFailed)
            {
                throw new ResourceFailedException(
                    $"postgres.settings: PostgreSQL refused the change ({refused.Message}) and putting back the previous ALTER SYSTEM values failed too ({undoFailed.Message}); "
                    + "check postgresql.auto.conf before the next reload or restart");
            }

            throw new ResourceFailedException(
                $"postgres.settings: PostgreSQL refused the change, nothing was changed ({refused.Message}); fix the setting's name or value in the host spec");
        }
    }

    private static (string Sql, Dictionary<string, string> Variables) Script(IReadOnlyList<SettingPlan> plans, Func<SettingPlan, (string Name, string? Value)> select)
    {
        var sql = new System.Text.StringBuilder();
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < plans.Count; i++)
        {
            var (name, value) = select(plans[i]);
            variables[$"n{i}"] = name;
            if (value is null)
            {
                sql.Append(CultureInfo.InvariantCulture, $"ALTER SYSTEM RESET :\"n{i}\";\n");
            }
            else
            {
                variables[$"v{i}"] = value;
                sql.Append(CultureInfo.InvariantCulture, $"ALTER SYSTEM SET :\"n{i}\" TO :'v{i}';\n");
            }
        }

        return (sql.ToString(), variables);
    }

    private static string UnitHint(string unit) => unit.Length == 0 ? "" : $" in {unit}";

    /// <summary>What to do for one setting; Previous is its ALTER SYSTEM value before (null: none), for the undo.</summary>
    private sealed record SettingPlan(string Name, string Value, bool Write, string? Previous, bool NeedsRestart, string Description);

    private sealed record SettingsChange(string Description, IReadOnlyList<SettingPlan> Plans) : Change(Description);
}

/// <summary>
/// Setting values in a canonical form for comparison, parsed the way PostgreSQL's GUC code does
/// (guc.c: parse_bool, parse_int, parse_real, convert_to_base_unit), so "4GB" equals work_mem's
/// "4194304" (kB) and "0.90" equals "0.9". Null when PostgreSQL would not accept the value either
/// (as far as these rules go): it then counts as different and PostgreSQL has the last word.
/// </summary>
internal static partial class PgSettingValue
{
    /// <summary>Memory units in bytes and time units in microseconds, largest first (PostgreSQL's table order).</summary>
    private static readonly (string Unit, double Size)[] MemoryUnits =
        [("TB", 1024.0 * 1024 * 1024 * 1024), ("GB", 1024.0 * 1024 * 1024), ("MB", 1024.0 * 1024), ("kB", 1024.0), ("B", 1.0)];

    private static readonly (string Unit, double Size)[] TimeUnits =
        [("d", 86_400_000_000.0), ("h", 3_600_000_000.0), ("min", 60_000_000.0), ("s", 1_000_000.0), ("ms", 1_000.0), ("us", 1.0)];

    public static string? Normalize(string value, string varType, string unit) => varType switch
    {
        "bool" => Bool(value),
        "integer" => Number(value, unit, integer: true),
        "real" => Number(value, unit, integer: false),

        // PostgreSQL matches enum values case-insensitively (and shows them lowercase).
        "enum" => value.ToLowerInvariant(),
        _ => value,
    };

    private static string? Bool(string value)
    {
        var v = value.ToLowerInvariant();
        bool Prefix(string word, int minimum) => v.Length >= minimum && word.StartsWith(v, StringComparison.Ordinal);
        return v switch
        {
            "1" => "on",
            "0" => "off",
            _ when Prefix("true", 1) || Prefix("yes", 1) || v == "on" => "on",
            _ when Prefix("false", 1) || Prefix("no", 1) || Prefix("off", 2) => "off",
            _ => null,
        };
    }

    private static string? Number(string value, string settingUnit, bool integer)
    {
        var match = NumberPattern().Match(value);
        if (!match.Success)
        {
            return null;
        }

        var number = ParseNumber(match.Groups["number"].Value, integer);
        if (number is not { } n || double.IsNaN(n) || double.IsInfinity(n))
        {
            return null;
        }

        var unit = match.Groups["unit"].Value;
        if (unit.Length > 0)
        {
            if (Convert(n, unit, settingUnit) is not { } converted)
            {
                return null;
            }

            n = converted;
        }

        if (integer)
        {
            // rint(): round half to even, then PostgreSQL's int range.
            n = Math.Round(n, MidpointRounding.ToEven);
            return n is >= int.MinValue and <= int.MaxValue ? ((long)n).ToString(CultureInfo.InvariantCulture) : null;
        }

        // pg_settings prints reals with %g (6 significant digits); both sides go through the same format.
        return n.ToString("G6", CultureInfo.InvariantCulture);
    }

    /// <summary>strtol(…, 0) for integers (hex 0x…, octal 0…), strtod otherwise (decimal with fraction/exponent, hex).</summary>
    private static double? ParseNumber(string token, bool integer)
    {
        var negative = token.StartsWith('-');
        var digits = token.TrimStart('+', '-');
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            // strtod reads hex too, so reals accept it like integers.
            return ulong.TryParse(digits[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex)
                ? (negative ? -(double)hex : hex)
                : null;
        }

        var isDecimal = digits.Contains('.', StringComparison.Ordinal) || digits.Contains('e', StringComparison.OrdinalIgnoreCase);
        if (integer && !isDecimal && digits.Length > 1 && digits[0] == '0')
        {
            if (digits.Any(c => c is '8' or '9'))
            {
                return null;
            }

            var octal = digits.Aggregate(0.0, (acc, c) => (acc * 8) + (c - '0'));
            return negative ? -octal : octal;
        }

        return double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : null;
    }

    /// <summary>
    /// convert_to_base_unit: the value times the unit's multiplier, a fraction rounded to the next
    /// smaller unit ("1.5GB" in kB is exact, "1.0001s" in ms becomes 1000 ms), in the setting's unit.
    /// </summary>
    private static double? Convert(double value, string unit, string settingUnit)
    {
        var baseMatch = SettingUnitPattern().Match(settingUnit);
        if (!baseMatch.Success)
        {
            return null; // the setting takes no unit
        }

        var table = MemoryUnits.Any(u => u.Unit == baseMatch.Groups["unit"].Value) ? MemoryUnits : TimeUnits;
        var baseSize = Size(table, baseMatch.Groups["unit"].Value);
        if (baseSize is null)
        {
            return null;
        }

        var scale = baseMatch.Groups["scale"].Value is { Length: > 0 } s ? double.Parse(s, CultureInfo.InvariantCulture) : 1.0;
        var index = Array.FindIndex(table, u => u.Unit == unit);
        if (index < 0)
        {
            return null; // a time unit for a size or the reverse, or no unit PostgreSQL knows
        }

        var baseUnit = baseSize.Value * scale;
        var converted = value * (table[index].Size / baseUnit);
        if (index + 1 < table.Length)
        {
            var smaller = table[index + 1].Size / baseUnit;
            converted = Math.Round(converted / smaller, MidpointRounding.ToEven) * smaller;
        }

        return converted;
    }

    private static double? Size((string Unit, double Size)[] table, string unit) =>
        table.FirstOrDefault(u => u.Unit == unit) is { Unit: not null } entry ? entry.Size : null;

    [GeneratedRegex(@"^\s*(?<number>[+-]?(?:0[xX][0-9A-Fa-f]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?))\s*(?<unit>[A-Za-z]*)\s*\z")]
    private static partial Regex NumberPattern();

    [GeneratedRegex(@"^(?<scale>[0-9]+)?(?<unit>[A-Za-z]+)\z")]
    private static partial Regex SettingUnitPattern();
}
