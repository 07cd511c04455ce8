using System.Collections.Concurrent;
using CsCheck;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Resources;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// pg_hba.conf, sysctl.d, the fail2ban jail and logrotate under hostile values: refused with errors
/// naming the field, or rendered with exactly the intended lines and fields, each equal to the input.
/// </summary>
public sealed class ConfigFilesFuzzTests
{
    private const int Inputs = 10_000;
    private const int ThroughFail2ban = 30;

    private static bool Clean(string text) => text.All(c => c == '\n' || !Grammar.IsLineBreakOrControl(c));

    private static bool Named(IEnumerable<string> errors, string prefix) =>
        errors.Any() && errors.All(e => e.StartsWith(prefix, StringComparison.Ordinal) && Oracle.IsOneLine(e));

    private static readonly Gen<PgHbaRule> HbaRule = Gen.Select(
        Hostile.Sometimes(Gen.OneOf("local", "host", "hostssl", "hostnossl")),
        Hostile.Sometimes(Gen.OneOf<string>(Gen.OneOf("all", "sameuser", "replication"), Valid.DatabaseName, Valid.DatabaseName.Array[2, 3].Select(d => string.Join(',', d)))),
        Hostile.Sometimes(Gen.OneOf<string>(Gen.Const("all"), Valid.SqlIdentifier, Valid.SqlIdentifier.Select(u => "+" + u))),
        Gen.Frequency<string?>((1, Gen.Const(() => (string?)null)), (4, Hostile.Sometimes(Gen.OneOf("10.0.0.0/8", "::1/128", "all", "samenet", "192.168.1.0/24", "2001:db8::/32")).Select(a => (string?)a))),
        Hostile.Sometimes(Gen.OneOf("peer", "scram-sha-256", "md5", "reject", "cert", "trust")),
        (type, database, user, address, method) => new PgHbaRule(type, database, user, address, method));

    [Fact]
    public void PgHbaRender_HostileRules_RefusedByFieldOrOneLinePerRuleWithTheInputFields()
    {
        var tally = new FuzzTally("PgHbaResource.Render");
        var cluster = new PostgresCluster("15", "main", 5432);
        HbaRule.Array[1, 4].Sample(
            rules =>
            {
                var spec = new PgHbaSpec(rules);
                var input = string.Join(" | ", rules.Select(r => $"{r.Type} {r.Database} {r.User} {r.Address} {r.Method}"));
                if (spec.Validate() is { Count: > 0 } errors)
                {
                    tally.Require(Named(errors, "postgres.hba["), input, $"refused without naming the field: {string.Join(" | ", errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                var text = PgHbaResource.Render(cluster, spec);
                tally.Require(Clean(text), input, "control character in the file");
                var lines = text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
                tally.Require(lines.Count == rules.Length + 1, input, $"{lines.Count} rule lines for {rules.Length} rules and the agent's own");
                for (var i = 0; i < rules.Length; i++)
                {
                    var rule = rules[i];
                    string[] expected = rule.Address is null ? [rule.Type, rule.Database, rule.User, rule.Method] : [rule.Type, rule.Database, rule.User, rule.Address, rule.Method];
                    var fields = lines[i + 1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    tally.Require(fields.SequenceEqual(expected), input, $"line '{lines[i + 1]}' does not hold the rule's fields");
                    tally.Require(!lines[i + 1].Contains('#', StringComparison.Ordinal) && !lines[i + 1].Contains('"', StringComparison.Ordinal), input, "a comment or quote inside a rule line");
                    tally.Require(rule.Method != "trust", input, "trust accepted");
                }
            },
            iter: Inputs,
            print: rules => string.Join(" | ", rules.Select(r => FuzzTally.Show($"{r.Type} {r.Database} {r.User} {r.Address} {r.Method}"))));
        tally.Report();
    }

    [Fact]
    public void SysctlRender_HostileSettings_RefusedByFieldOrOneKeyValueLineEach()
    {
        var tally = new FuzzTally("SysctlResource.Render");
        Gen.Select(Hostile.Sometimes(Valid.SysctlKey), Hostile.Sometimes(Valid.SysctlValue)).Array[1, 3].Sample(
            pairs =>
            {
                var settings = pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal);
                var input = string.Join(" | ", settings.Select(p => $"{p.Key}={p.Value}"));
                if (new SysctlSpec(settings).Validate() is { Count: > 0 } errors)
                {
                    tally.Require(Named(errors, "sysctl"), input, $"refused without naming the field: {string.Join(" | ", errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                var text = SysctlResource.Render(settings);
                tally.Require(Clean(text), input, "control character in the file");
                var lines = text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
                tally.Require(lines.Order(StringComparer.Ordinal).SequenceEqual(settings.Select(p => $"{p.Key} = {p.Value}").Order(StringComparer.Ordinal)), input, "lines differ from key = value");
                foreach (var key in settings.Keys)
                {
                    var path = "/proc/sys/" + key.Replace('.', '/');
                    tally.Require(Path.GetFullPath(path) == path, input, $"key {key} leaves /proc/sys");
                }
            },
            iter: Inputs,
            print: pairs => string.Join(" | ", pairs.Select(p => FuzzTally.Show($"{p.Item1}={p.Item2}"))));
        tally.Report();
    }

    private static readonly Gen<Fail2banSpec> Jails = Gen.Select(
        Hostile.Sometimes(Valid.Path),
        Hostile.Sometimes(Gen.OneOf("198.51.100.7", "2001:db8::/32", "10.0.0.0/8", "::1", "192.0.2.0/24")).Array[0, 3],
        Hostile.Sometimes(Gen.OneOf([.. Fail2banSpec.BanActions, "ufw"])),
        Gen.Int[-2, 120],
        Gen.Int[-60, 8 * 86400],
        (path, ignore, action, retry, window) => new Fail2banSpec(path)
        {
            IgnoreAddresses = ignore,
            BanAction = action,
            MaxRetry = retry,
            FindTime = TimeSpan.FromSeconds(window),
            BanTime = TimeSpan.FromSeconds(window),
        });

    [Fact]
    public async Task Fail2banRenderJail_HostileSpec_RefusedByFieldOrExactlyTheTwoJailsWithTheInputValues()
    {
        var tally = new FuzzTally("Fail2banRenderer.RenderJail");
        var forFail2ban = new ConcurrentQueue<Fail2banSpec>();
        var benign = IniReader.Read(Fail2banRenderer.RenderJail(new Fail2banSpec("/var/log/odoo/odoo.log")));
        Jails.Sample(
            spec =>
            {
                var input = $"{spec.LogPath} {string.Join(",", spec.IgnoreAddresses)} {spec.BanAction}";
                string text;
                try
                {
                    text = Fail2banRenderer.RenderJail(spec);
                }
                catch (SpecValidationException e)
                {
                    tally.Require(Named(e.Errors, "fail2ban."), input, $"refused without naming the field: {string.Join(" | ", e.Errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(Clean(text), input, "control character in the file");
                tally.Require(Oracle.IsPlainAbsolutePath(spec.LogPath, allowTrailingSlash: true), input, "logpath outside the path grammar");
                var parsed = IniReader.Read(text);
                tally.Require(parsed.Problem is null, input, parsed.Problem ?? "");
                tally.Require(parsed.Sections.SequenceEqual(benign.Sections), input, $"sections {string.Join(",", parsed.Sections)}");
                foreach (var section in benign.Sections)
                {
                    tally.Require(parsed.Values[section].Keys.Order().SequenceEqual(benign.Values[section].Keys.Order()), input, $"keys of [{section}] differ");
                }

                var jail = parsed.Values[Fail2banRenderer.FilterName];
                tally.Require(jail["logpath"] == spec.LogPath && jail["banaction"] == spec.BanAction, input, "logpath or banaction is not the input");
                tally.Require(jail["ignoreip"] == string.Join(' ', ["127.0.0.1/8", "::1", .. spec.IgnoreAddresses]), input, "ignoreip is not the input list");
                tally.Require(spec.IgnoreAddresses.All(a => a.All(c => char.IsAsciiHexDigit(c) || c is '.' or ':' or '/')), input, "an ignored address outside [0-9a-f.:/]");
                if (forFail2ban.Count < ThroughFail2ban && spec.IgnoreAddresses.Count > 0)
                {
                    forFail2ban.Enqueue(spec);
                }
            },
            iter: Inputs,
            print: spec => FuzzTally.Show($"{spec.LogPath} {string.Join(",", spec.IgnoreAddresses)} {spec.BanAction} {spec.MaxRetry} {spec.FindTime}"));
        await ThroughFail2banAsync([.. forFail2ban.Take(ThroughFail2ban)]);
        tally.Report();
    }

    /// <summary>
    /// Accepted jails through the real `fail2ban-client -t` (Fail2banConfigValidator) on a copy of
    /// this box's /etc/fail2ban with our filter; each jail's log path is created under a temp root.
    /// </summary>
    private static async Task ThroughFail2banAsync(IReadOnlyList<Fail2banSpec> jails)
    {
        Assert.SkipUnless(ProcessCommandRunner.IsOnPath("fail2ban-client") && Directory.Exists("/etc/fail2ban"), "fail2ban is not installed");
        var ct = TestContext.Current.CancellationToken;
        using var root = new TempDirectory();
        var config = root.Combine("etc", "fail2ban");
        CopyTree("/etc/fail2ban", config);
        await File.WriteAllTextAsync(Path.Combine(config, Fail2banRenderer.FilterRelativePath), Fail2banRenderer.RenderFilter(), ct);
        var validator = new Fail2banConfigValidator(new ProcessCommandRunner(), Fail2banRenderer.JailRelativePath, config);
        var candidate = root.Combine("jail.conf.new");
        for (var i = 0; i < jails.Count; i++)
        {
            // A directory per jail: one jail's log file may be another's directory.
            var jail = jails[i];
            var logPath = root.Combine($"log{i}") + jail.LogPath.TrimEnd('/');
            Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
            await File.WriteAllTextAsync(logPath, "", ct);
            await File.WriteAllTextAsync(candidate, Fail2banRenderer.RenderJail(jail with { LogPath = logPath }), ct);
            await validator.ValidateAsync(candidate, ct);
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"fail2ban-client -t accepted {jails.Count} jails rendered from accepted hostile-sample specs");
    }

    private static void CopyTree(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(destination, Path.GetFileName(file)));
        }

        foreach (var directory in Directory.GetDirectories(source))
        {
            CopyTree(directory, Path.Combine(destination, Path.GetFileName(directory)));
        }
    }

    [Fact]
    public void LogrotateRender_HostileSpec_RefusedByFieldOrTheBenignStanzaWithTheInputValues()
    {
        var tally = new FuzzTally("LogrotateRenderer.Render");
        var benign = LogrotateRenderer.Render(new LogrotateSpec("/var/log/odoo", "odoo", "odoo"));
        Gen.Select(Hostile.Sometimes(Valid.Path), Hostile.Sometimes(Valid.UnixName), Hostile.Sometimes(Valid.UnixName), Gen.Int[-1, 400]).Sample(
            (directory, user, group, rotate) =>
            {
                var input = $"{directory} {user} {group} {rotate}";
                string text;
                try
                {
                    text = LogrotateRenderer.Render(new LogrotateSpec(directory, user, group) { Rotate = rotate });
                }
                catch (SpecValidationException e)
                {
                    tally.Require(Named(e.Errors, "logrotate."), input, $"refused without naming the field: {string.Join(" | ", e.Errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(Clean(text), input, "control character in the file");
                var expected = benign
                    .Replace("/var/log/odoo/*.log {", $"{directory}/*.log {{", StringComparison.Ordinal)
                    .Replace("rotate 14", $"rotate {rotate}", StringComparison.Ordinal)
                    .Replace("create 0640 odoo odoo", $"create 0640 {user} {group}", StringComparison.Ordinal)
                    .Replace("su odoo odoo", $"su {user} {group}", StringComparison.Ordinal)
                    .Replace("belongs to odoo:", $"belongs to {user}:", StringComparison.Ordinal);
                tally.Require(text == expected, input, "the stanza is not the benign one with the input values");
                tally.Require(Oracle.IsPlainAbsolutePath(directory, allowTrailingSlash: true) && directory != "/", input, "log directory outside the path grammar");
            },
            iter: Inputs);
        tally.Report();
    }
}
