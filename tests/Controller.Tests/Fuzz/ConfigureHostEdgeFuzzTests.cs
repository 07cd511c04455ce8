using CsCheck;
using Google.Protobuf;
using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using OdooFleet.Fuzz;
using V1 = OdooFleet.Contracts.V1;
using Xunit;

namespace OdooFleet.Controller.Tests.Fuzz;

/// <summary>
/// The proto edge end to end, as FleetService.ConfigureHost runs it: a hostile ConfigureHostRequest
/// off the wire, mapped, validated, merged into a profile and sent to the agent as its HostSpec.
/// Either it is refused with errors that each name a setting, or every string of the HostSpec the
/// agent receives is inside the grammar the agent enforces.
/// </summary>
public sealed class ConfigureHostEdgeFuzzTests
{
    private const int Inputs = 10_000;

    private static readonly string[] Settings =
    [
        "settings:", "domain", "tls:", "acme_email:", "workers:", "cron_threads:", "option", "unset_option:", "log_level:", "pg_", "postgres:", "login_",
    ];

    private static readonly ProfileDefaults Defaults = new("ops@example.com", "info", 5, 600, 3600);

    private static readonly Gen<V1.ConfigureHostRequest> Requests = Gen.Select(
        Gen.Select(
            Hostile.Rarely(Valid.Domain).Array[0, 3], Gen.Int[0, 3], Hostile.Rarely(Valid.Email),
            Gen.Select(Hostile.Rarely(Gen.OneOf("email_from", "smtp_server", "limit_time_cpu", "log_handler")), Hostile.Rarely(Valid.OptionText)).Array[0, 2],
            Hostile.Rarely(Gen.OneOf("limit_time_real", "from_filter")).Array[0, 1],
            Hostile.Rarely(Gen.OneOf("info", "warn", "debug"))),
        Gen.Select(
            Gen.Bool, Hostile.Rarely(Gen.OneOf<string>(Valid.Domain, Gen.OneOf("10.0.0.5", "2001:db8::5"))), Hostile.Rarely(Valid.SqlIdentifier),
            Hostile.Rarely(Gen.OneOf("require", "verify-full")), Gen.Int[-5, 70_000]),
        (web, pg) =>
        {
            var request = new V1.ConfigureHostRequest
            {
                Id = "web-01",
                Domains = new V1.StringList { Values = { web.Item1 } },
                Tls = (V1.TlsMode)web.Item2,
                AcmeEmail = web.Item3,
                LogLevel = web.Item6,
                PostgresRemote = pg.Item1,
            };
            foreach (var (key, value) in web.Item4)
            {
                request.SetOdooOptions[key] = value;
            }

            request.UnsetOdooOptions.AddRange(web.Item5.Where(k => !request.SetOdooOptions.ContainsKey(k)));
            if (pg.Item1)
            {
                request.PostgresHost = pg.Item2;
                request.PostgresUser = pg.Item3;
                request.PostgresSslmode = pg.Item4;
                request.PostgresPort = pg.Item5;
            }

            return request;
        })
        .Select(AsReceived)
        .Where(request => request is not null)
        .Select(request => request!);

    /// <summary>The request as the controller gets it: through protobuf's wire format (UTF-8), which no lone surrogate survives.</summary>
    private static V1.ConfigureHostRequest? AsReceived(V1.ConfigureHostRequest request)
    {
        try
        {
            return V1.ConfigureHostRequest.Parser.ParseFrom(request.ToByteArray());
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    [Fact]
    public void ConfigureHost_HostileRequest_RefusedBySettingOrAgentSpecInGrammar()
    {
        var tally = new FuzzTally("ConfigureHostRequest -> HostSpec");
        Requests.Sample(
            request =>
            {
                var input = request.ToString();
                var change = request.ToDomain();
                var errors = ProfileRules.Validate(change);
                var (profile, applyErrors) = errors.Count == 0 ? ProfileRules.Apply(HostProfile.Default, change, Defaults) : (null, errors);
                if (profile is null)
                {
                    tally.Require(applyErrors.All(e => Settings.Any(s => e.StartsWith(s, StringComparison.Ordinal)) && Oracle.IsOneLine(e)), input,
                        $"refused without naming a setting: {string.Join(" | ", applyErrors)}");
                    tally.Rejected();
                    return;
                }

                tally.Accepted();
                var spec = new HostSpec("h-3kq9t2mzpa", 2, new OdooRelease("18.0", new string('a', 40)), "file:///srv/odoo.git", 8069, 8072)
                {
                    Profile = ProfileRules.WithDefaults(profile, Defaults),
                }.ToProto();
                tally.Require(spec.Web.Domains.All(d => Oracle.IsDnsName(d, 2)), input, "web.domains");
                tally.Require(spec.Web.AcmeEmail.Length == 0 || ProfileRulesFuzzTests.IsAgentEmail(spec.Web.AcmeEmail), input, "web.acme_email");
                tally.Require(ProfileRules.LogLevels.Contains(spec.Odoo.LogLevel), input, "odoo.log_level");
                tally.Require(spec.Odoo.Options.All(o => ProfileRules.OdooOptions.Contains(o.Key) && !ProfileRules.ReservedOptions.ContainsKey(o.Key)
                    && ProfileRulesFuzzTests.IsOptionValue(o.Value)), input, "odoo.options");
                if (spec.Postgres.Remote)
                {
                    tally.Require(ProfileRulesFuzzTests.IsPostgresHost(spec.Postgres.Host), input, "postgres.host");
                    tally.Require(spec.Postgres.User.Length == 0 || Oracle.IsSqlIdentifier(spec.Postgres.User), input, "postgres.user");
                    tally.Require(spec.Postgres.Sslmode.Length == 0 || ProfileRules.SslModes.Contains(spec.Postgres.Sslmode), input, "postgres.sslmode");
                    tally.Require(spec.Postgres.Port is >= 0 and <= 65535, input, "postgres.port");
                }
            },
            iter: Inputs,
            print: request => FuzzTally.Show(request.ToString()));
        tally.Report();
    }
}
