using System.Net;
using CsCheck;
using Google.Protobuf;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Profiles;
using OdooFleet.Agent.Transport;
using OdooFleet.Contracts.V1;
using TlsMode = OdooFleet.Contracts.V1.TlsMode;
using OdooFleet.Fuzz;

namespace OdooFleet.Agent.Tests.Fuzz;

/// <summary>
/// The agent's edge end to end: a hostile HostSpec as it comes off the wire, mapped and compiled
/// into the whole resource graph. Either compiling refuses it with errors that each name a spec
/// field, or every value that was accepted is inside its documented grammar and every file the
/// profile would write is free of control characters, with odoo.conf still exactly one [options]
/// and the systemd unit the same as for a benign spec (no spec value reaches it).
/// </summary>
public sealed class HostSpecFuzzTests : IDisposable
{
    private const int Inputs = 5_000;

    private const string Hash =
        "$pbkdf2-sha512$210000$AAECAwQFBgcICQoLDA0ODw$i86sggKQEqh5IGVVRaPfW2qUSjckKUpbkHT5cwhcDvtbPYlZUzrNUFzjatkR.0tiFMtJW.j9jCRu.Rks1cLQXw";

    private static readonly string[] Fields = ["odoo.", "postgres.", "web.", "security.", "nginx.", "tls.", "fail2ban.", "logrotate.", "sysctl"];

    private readonly TempDirectory state = new();
    private readonly HttpClient http = new();

    public void Dispose()
    {
        http.Dispose();
        state.Dispose();
    }

    private static readonly Gen<HostSpec> Specs = Gen.Select(
        Gen.Select(
            Hostile.Rarely(Valid.Series), Hostile.Rarely(Valid.Commit),
            Hostile.Rarely(Gen.OneOf<string>(Valid.Path.Select(p => "file://" + p), Valid.Domain.Select(d => $"https://{d}/odoo.git"))),
            Gen.Select(Hostile.Rarely(Gen.OneOf("email_from", "smtp_server", "limit_time_cpu", "pidfile", "server_wide_modules", "admin_passwd")), Hostile.Rarely(Valid.OptionText)).Array[0, 2],
            Hostile.Rarely(Gen.OneOf("info", "warn", "debug_sql")), Hostile.Rarely(Gen.OneOf("^%d$", "^%h$", "^(?:acme|beta)$")),
            Gen.Frequency<string>((9, Gen.Const(Hash)), (1, Hostile.Rarely(Gen.Const(Hash)))),
            Gen.Frequency<string>((3, Gen.Const("")), (1, Hostile.Rarely(Valid.Path)))),
        Gen.Select(
            Gen.Bool,
            Hostile.Rarely(Gen.OneOf<string>(Valid.Domain, Valid.Label, Gen.OneOf("10.0.0.5", "2001:db8::5"))),
            Hostile.Rarely(Valid.SqlIdentifier),
            Gen.Frequency<string>((1, Gen.Const("")), (3, Hostile.Rarely(Gen.String[Gen.Char['!', '~'], 1, 24]))),
            Hostile.Rarely(Gen.OneOf("require", "verify-full", "prefer")),
            Gen.Select(Hostile.Rarely(Gen.OneOf("work_mem", "max_connections", "port")), Hostile.Rarely(Gen.OneOf("64MB", "on", "0.9"))).Array[0, 2]),
        Gen.Select(Hostile.Rarely(Valid.Domain).Array[0, 3], Gen.Bool, Hostile.Rarely(Valid.Email)),
        (odoo, postgres, web) =>
        {
            var spec = new HostSpec
            {
                HostId = "h-3kq9t2mzpa",
                Generation = 1,
                Odoo = new OdooSpec
                {
                    Release = new OdooRelease { Series = odoo.Item1, Commit = odoo.Item2 },
                    SourceUrl = odoo.Item3,
                    LogLevel = odoo.Item5,
                    Dbfilter = odoo.Item6,
                    AdminPasswdHash = odoo.Item7,
                    Wheelhouse = odoo.Item8,
                },
                Postgres = postgres.Item1
                    ? new PostgresSpec { Remote = true, Host = postgres.Item2, User = postgres.Item3, Password = postgres.Item4, Sslmode = postgres.Item5 }
                    : new PostgresSpec(),
                Web = new WebSpec { Tls = web.Item2 ? TlsMode.Acme : TlsMode.SelfSigned, AcmeEmail = web.Item3 },
            };
            foreach (var (key, value) in odoo.Item4)
            {
                spec.Odoo.Options[key] = value;
            }

            if (!postgres.Item1)
            {
                foreach (var (key, value) in postgres.Item6)
                {
                    spec.Postgres.Settings[key] = value;
                }
            }

            spec.Web.Domains.AddRange(web.Item1);
            return spec;
        })
        .Select(AsReceived)
        .Where(spec => spec is not null)
        .Select(spec => spec!);

    /// <summary>The spec as the agent gets it: through protobuf's wire format (UTF-8), which no lone surrogate survives.</summary>
    private static HostSpec? AsReceived(HostSpec spec)
    {
        try
        {
            return HostSpec.Parser.ParseFrom(spec.ToByteArray());
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    [Fact]
    public void Compile_HostileHostSpec_RefusedByFieldOrOnlyGrammarValuesAndCleanFiles()
    {
        var tally = new FuzzTally("OdooProfile.Compile(HostSpec)");
        var env = new ProfileEnvironment(new HostPaths("/tmp/not-used"), new ProcessCommandRunner(), http, TimeProvider.System,
            () => new ProfileFacts("web-01", 4, 8L << 30, "debian", "12"))
        {
            StateDirectory = state.Path,
        };

        // No spec value reaches the systemd unit: for an accepted spec it is the benign spec's unit, byte for byte.
        var unitPath = OdooLayout.Default.UnitFile;
        string BenignUnit(bool remote) => OdooProfile.Compile(new HostSpec
        {
            HostId = "h-3kq9t2mzpa",
            Generation = 1,
            Odoo = new OdooSpec { Release = new OdooRelease { Series = "18.0", Commit = new string('a', 40) }, SourceUrl = "file:///srv/odoo.git", AdminPasswdHash = Hash },
            Postgres = remote ? new PostgresSpec { Remote = true, Host = "db1.example.com", Password = "x-y" } : new PostgresSpec(),
        }.ToDomain(), env, persistSecrets: false).Files.Single(f => f.Path == unitPath).Content;
        var units = new Dictionary<bool, string> { [false] = BenignUnit(false), [true] = BenignUnit(true) };
        Specs.Sample(
            spec =>
            {
                var input = spec.ToString();
                CompiledProfile compiled;
                try
                {
                    compiled = OdooProfile.Compile(spec.ToDomain(), env, persistSecrets: false);
                }
                catch (SpecValidationException e)
                {
                    tally.Require(e.Errors.Count > 0 && e.Errors.All(error => Fields.Any(f => error.StartsWith(f, StringComparison.Ordinal)) && Oracle.IsOneLine(error)),
                        input, $"refused without naming a spec field: {string.Join(" | ", e.Errors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                CheckAccepted(tally, spec, input);
                foreach (var file in compiled.Files)
                {
                    // Tabs only as the apt policy file's constant indentation.
                    tally.Require(file.Content.All(c => c is '\n' or '\t' || !Grammar.IsLineBreakOrControl(c)), input, $"control character in {file.Path}");
                }

                tally.Require(compiled.Files.Single(f => f.Path == unitPath).Content == units[spec.Postgres.Remote], input, "the systemd unit depends on the spec");
                var conf = IniReader.Read(compiled.Files.Single(f => f.Path == "/etc/odoo.conf").Content);
                tally.Require(conf.Problem is null && conf.Sections.SequenceEqual(["options"]), input, $"odoo.conf: {conf.Problem} sections {string.Join(",", conf.Sections)}");
                foreach (var (key, value) in spec.Odoo.Options)
                {
                    tally.Require(conf.Values["options"].TryGetValue(key, out var read) && read == value, input, $"odoo.conf {key} is not the input");
                }
            },
            iter: Inputs,
            threads: 1,
            print: spec => FuzzTally.Show(spec.ToString()));
        tally.Report();
    }

    /// <summary>The differential half: every value the agent accepted passes the grammar written again in the test ("" = the agent's default).</summary>
    private static void CheckAccepted(FuzzTally tally, HostSpec spec, string input)
    {
        var odoo = spec.Odoo;
        // An empty release (no series, no commit) is "no release yet" to the agent, as an absent one.
        if (odoo.Release is { } release && (release.Series.Length > 0 || release.Commit.Length > 0))
        {
            tally.Require(release.Series.Length is 3 or 4 or 5 && release.Series.All(c => char.IsAsciiDigit(c) || c == '.'), input, "series");
            tally.Require(release.Commit.Length == 40 && release.Commit.All(char.IsAsciiHexDigitLower), input, "commit");
        }

        // git gets it as one argument after "--": it must not look like an option or hold a break; IDN hosts are git's business.
        tally.Require(!odoo.SourceUrl.StartsWith('-') && Oracle.IsOneLine(odoo.SourceUrl) && !odoo.SourceUrl.Any(char.IsWhiteSpace), input, "source_url");
        tally.Require(odoo.Wheelhouse.Length == 0 || Oracle.IsPlainAbsolutePath(odoo.Wheelhouse, allowTrailingSlash: true), input, "wheelhouse");
        tally.Require(odoo.LogLevel.Length == 0 || OdooConfRenderer.LogLevels.Contains(odoo.LogLevel), input, "log_level");
        tally.Require(odoo.Options.All(o => OdooConfRenderer.KnownOptions.Contains(o.Key) && !OdooConfRenderer.OwnedOptions.ContainsKey(o.Key) && Oracle.IsOneLine(o.Value)), input, "options");
        if (spec.Postgres.Remote)
        {
            var host = spec.Postgres.Host;
            tally.Require(Oracle.IsDnsName(host, 1) || (host.All(c => char.IsAsciiHexDigit(c) || c is '.' or ':') && IPAddress.TryParse(host, out _)), input, "postgres.host");
            tally.Require(spec.Postgres.User.Length == 0 || Oracle.IsSqlIdentifier(spec.Postgres.User), input, "postgres.user");
            tally.Require(spec.Postgres.Password.Length == 0 || Oracle.IsVisibleAscii(spec.Postgres.Password), input, "postgres.password");
            tally.Require(spec.Postgres.Sslmode.Length == 0 || OdooConfRenderer.SslModes.Contains(spec.Postgres.Sslmode), input, "postgres.sslmode");
        }

        tally.Require(spec.Postgres.Settings.All(s => Oracle.IsSqlIdentifier(s.Key) && Oracle.IsOneLine(s.Value)), input, "postgres.settings");
        tally.Require(spec.Web.Domains.All(d => Oracle.IsDnsName(d, 2)), input, "web.domains");
        tally.Require(spec.Web.Tls != TlsMode.Acme || (spec.Web.AcmeEmail.Contains('@', StringComparison.Ordinal) && Oracle.IsVisibleAscii(spec.Web.AcmeEmail)), input, "web.acme_email");
    }
}
