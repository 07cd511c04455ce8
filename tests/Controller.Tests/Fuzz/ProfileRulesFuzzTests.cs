using System.Net;
using CsCheck;
using OdooFleet.Controller.Domain;
using OdooFleet.Fuzz;
using Xunit;

namespace OdooFleet.Controller.Tests.Fuzz;

/// <summary>
/// The controller's edge rules for host profiles (ProfileRules.Validate) over hostile values, one
/// setting at a time: either refused with errors that name the setting and echo only printable
/// text, or accepted and inside the documented grammar, which is also what the agent accepts (a
/// value the controller stores but the agent refuses would leave the host failing every converge).
/// </summary>
public sealed class ProfileRulesFuzzTests
{
    private const int Inputs = 10_000;

    private const string Alnum = Oracle.Lower + Oracle.Digits;

    private static void Property(string name, Gen<ProfileChange> changes, string field, Func<ProfileChange, string> input, Func<ProfileChange, bool> grammar)
    {
        var tally = new FuzzTally(name);
        changes.Sample(
            change =>
            {
                var errors = ProfileRules.Validate(change);
                if (errors.Count > 0)
                {
                    tally.Require(errors.All(e => e.StartsWith(field, StringComparison.Ordinal) && Oracle.IsOneLine(e) && e.Length < 1024), input(change),
                        $"refused without naming {field}, or echoing unprintable or unbounded input: {string.Join(" | ", errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                tally.Require(grammar(change), input(change), "accepted, but outside the documented grammar");
            },
            iter: Inputs,
            print: change => FuzzTally.Show(input(change)));
        tally.Report();
    }

    /// <summary>The agent's e-mail grammar (Grammar.IsEmailAddress), written again: what certbot may get.</summary>
    internal static bool IsAgentEmail(string value)
    {
        var at = value.LastIndexOf('@');
        return at > 0 && Oracle.IsWord(value[..at], Alnum + Oracle.Upper + "_+", Alnum + Oracle.Upper + "._+-", 64) && Oracle.IsDnsName(value[(at + 1)..], 2);
    }

    /// <summary>A PostgreSQL server: a host name (one label is enough, the last not all digits) or an IP address of plain characters.</summary>
    internal static bool IsPostgresHost(string value) =>
        (Oracle.IsDnsName(value, 1) && !value.Split('.')[^1].All(char.IsAsciiDigit))
        || (value.Length <= 45 && value.All(c => char.IsAsciiHexDigit(c) || c is '.' or ':') && IPAddress.TryParse(value, out _));

    /// <summary>A free-form odoo.conf value: 1-1024, one line, trimmed, none of ; # [ ].</summary>
    internal static bool IsOptionValue(string value) =>
        value.Length is >= 1 and <= 1024 && Oracle.IsOneLine(value) && value.Trim() == value && value.IndexOfAny([';', '#', '[', ']']) < 0;

    [Fact]
    public void Validate_HostileDomains_RefusedByFieldOrDnsNames() =>
        Property("ProfileRules.Validate(domains)",
            Hostile.Around(Valid.Domain).Array[1, 3].Select(d => new ProfileChange { Domains = d }), "domain: ",
            c => string.Join(" ", c.Domains!), c => c.Domains!.All(d => Oracle.IsDnsName(d, 2)));

    [Fact]
    public void Validate_HostileAcmeEmail_RefusedByFieldOrWhatTheAgentAccepts() =>
        Property("ProfileRules.Validate(acme_email)",
            Hostile.Around(Valid.Email).Where(e => e.Length > 0).Select(e => new ProfileChange { AcmeEmail = e }), "acme_email: ",
            c => c.AcmeEmail!, c => IsAgentEmail(c.AcmeEmail!));

    [Fact]
    public void Validate_HostileOdooOptions_RefusedByFieldOrKnownFreeOptionsWithOneLineValues() =>
        Property("ProfileRules.Validate(options)",
            Gen.Select(Hostile.Sometimes(Gen.OneOf([.. ProfileRules.OdooOptions])), Hostile.Around(Valid.OptionText)).Array[1, 3]
                .Select(pairs => new ProfileChange { SetOptions = pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal) }),
            "option",
            c => string.Join(" ", c.SetOptions!.Select(o => $"{o.Key}={o.Value}")),
            c => c.SetOptions!.All(o => Oracle.IsWord(o.Key, Oracle.Lower, Alnum + "_", 64) && ProfileRules.OdooOptions.Contains(o.Key)
                && !ProfileRules.ReservedOptions.ContainsKey(o.Key) && IsOptionValue(o.Value)));

    [Fact]
    public void Validate_HostileUnsetOptions_RefusedByFieldOrOptionNames() =>
        Property("ProfileRules.Validate(unset_option)",
            Hostile.Around(Gen.OneOf("limit_time_cpu", "email_from", "smtp_server")).Array[1, 3].Select(keys => new ProfileChange { UnsetOptions = keys }),
            "unset_option: ",
            c => string.Join(" ", c.UnsetOptions!), c => c.UnsetOptions!.All(k => Oracle.IsWord(k, Oracle.Lower, Alnum + "_", 64)));

    [Fact]
    public void Validate_HostileLogLevel_RefusedByFieldOrAnOdooLevel() =>
        Property("ProfileRules.Validate(log_level)",
            Hostile.Around(Gen.OneOf([.. ProfileRules.LogLevels])).Where(l => l.Length > 0).Select(l => new ProfileChange { LogLevel = l }), "log_level: ",
            c => c.LogLevel!, c => ProfileRules.LogLevels.Contains(c.LogLevel!));

    [Fact]
    public void Validate_HostilePostgresSettings_RefusedByFieldOrHostUserAndSslmodeInGrammar() =>
        Property("ProfileRules.Validate(pg_host, pg_user, pg_sslmode)",
            Gen.Select(
                Hostile.Sometimes(Gen.OneOf<string>(Valid.Domain, Valid.Label, Gen.OneOf("10.0.0.5", "2001:db8::5", "::ffff:192.0.2.1", "db1"))),
                Hostile.Sometimes(Valid.SqlIdentifier).Where(u => u.Length > 0),
                Hostile.Sometimes(Gen.OneOf([.. ProfileRules.SslModes])).Where(s => s.Length > 0),
                (host, user, sslmode) => new ProfileChange { PostgresRemote = true, PostgresHost = host, PostgresUser = user, PostgresSslMode = sslmode }),
            "pg_",
            c => $"{c.PostgresHost} {c.PostgresUser} {c.PostgresSslMode}",
            c => IsPostgresHost(c.PostgresHost!) && Oracle.IsSqlIdentifier(c.PostgresUser!) && ProfileRules.SslModes.Contains(c.PostgresSslMode!));
}
