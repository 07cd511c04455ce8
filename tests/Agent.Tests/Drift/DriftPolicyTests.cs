using OdooFleet.Agent.Drift;
using OdooFleet.Agent.Transport;
using Proto = OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Tests.Drift;

public sealed class DriftPolicyTests
{
    private static DriftPolicy Valid(DriftPolicySpec spec)
    {
        var policy = DriftPolicy.Create(spec, out var errors);
        Assert.Empty(errors);
        return policy;
    }

    private static IReadOnlyList<string> Errors(DriftPolicySpec spec)
    {
        DriftPolicy.Create(spec, out var errors);
        return errors;
    }

    [Theory]
    // resource id, kind, expected mode
    [InlineData("file:/etc/odoo.conf", "file", "Report")]   // id entry wins over kind:file
    [InlineData("file:/etc/nginx/sites-available/odoo", "file", "Correct")] // kind:file
    [InlineData("firewall:ufw", "ufw", "Report")]            // kind:ufw
    [InlineData("service:nginx.service", "service", "Report")] // default
    public void ModeFor_IdOverKindOverDefault(string id, string kind, string expected)
    {
        var policy = Valid(new DriftPolicySpec
        {
            DefaultMode = DriftMode.Report,
            Modes = new Dictionary<string, DriftMode>
            {
                ["file:/etc/odoo.conf"] = DriftMode.Report,
                ["kind:file"] = DriftMode.Correct,
                ["kind:ufw"] = DriftMode.Report,
            },
        });

        Assert.Equal(Enum.Parse<DriftMode>(expected), policy.ModeFor(id, kind));
    }

    [Fact]
    public void Create_EmptySpec_CorrectsEverythingEveryFiveMinutes()
    {
        var policy = Valid(new DriftPolicySpec());

        Assert.Equal(DriftMode.Correct, policy.ModeFor("file:/etc/odoo.conf", "file"));
        Assert.Equal(TimeSpan.FromSeconds(300), policy.PeriodicInterval);
        Assert.False(policy.InMaintenance(DateTimeOffset.UtcNow));
        Assert.False(policy.IsIgnored("file:/etc/odoo.conf"));
    }

    [Fact]
    public void ToDomain_ProtoPolicy_MapsEveryField()
    {
        var proto = new Proto.DriftPolicy
        {
            DefaultMode = Proto.DriftMode.Report,
            Modes = { ["kind:ufw"] = Proto.DriftMode.Correct, ["file:/etc/odoo.conf"] = Proto.DriftMode.Unspecified },
            Maintenance = { new Proto.MaintenanceWindow { Days = "sat,sun", Start = "02:00", DurationMinutes = 120 } },
            Ignore = { "file:/etc/logrotate.d/odoo" },
            PeriodicIntervalSeconds = 60,
        };

        var policy = Valid(proto.ToDomain());

        Assert.Equal(DriftMode.Report, policy.DefaultMode);
        Assert.Equal(DriftMode.Correct, policy.ModeFor("firewall:ufw", "ufw"));
        Assert.Equal(DriftMode.Correct, policy.ModeFor("file:/etc/odoo.conf", "file"));
        Assert.True(policy.IsIgnored("file:/etc/logrotate.d/odoo"));
        Assert.Equal(TimeSpan.FromSeconds(60), policy.PeriodicInterval);
        var window = Assert.Single(policy.Maintenance);
        Assert.Equal(new HashSet<DayOfWeek> { DayOfWeek.Saturday, DayOfWeek.Sunday }, window.Days);
        Assert.Equal(TimeSpan.FromHours(2), window.Start);
        Assert.Equal(TimeSpan.FromMinutes(120), window.Duration);
    }

    [Fact]
    public void ToDomain_UnsetProtoPolicy_IsTheDefault()
    {
        var policy = Valid(((Proto.DriftPolicy?)null).ToDomain());

        Assert.Equal(DriftMode.Correct, policy.DefaultMode);
        Assert.Empty(policy.Modes);
        Assert.Equal(TimeSpan.FromSeconds(300), policy.PeriodicInterval);
    }

    [Theory]
    // days, start, minutes, now (UTC, ISO), expected. 2026-11-23 is a Monday.
    [InlineData("sat,sun", "02:00", 120, "2026-11-28T02:00:00Z", true)]   // opens (inclusive)
    [InlineData("sat,sun", "02:00", 120, "2026-11-28T03:59:59Z", true)]
    [InlineData("sat,sun", "02:00", 120, "2026-11-28T04:00:00Z", false)]  // closes (exclusive)
    [InlineData("sat,sun", "02:00", 120, "2026-11-28T01:59:59Z", false)]
    [InlineData("sat,sun", "02:00", 120, "2026-11-27T02:30:00Z", false)]  // friday
    [InlineData("mon", "23:00", 120, "2026-11-24T00:30:00Z", true)]       // crosses midnight into tuesday
    [InlineData("mon", "23:00", 120, "2026-11-24T01:00:00Z", false)]
    [InlineData("tue", "23:00", 120, "2026-11-24T00:30:00Z", false)]      // tuesday's window is not the night before
    [InlineData("sun", "22:00", 180, "2026-11-23T00:59:00Z", true)]       // sunday into monday
    [InlineData("sun", "22:00", 180, "2026-11-23T01:00:00Z", false)]
    [InlineData("*", "00:00", 1440, "2026-11-25T13:00:00Z", true)]        // all day, every day
    [InlineData("*", "12:00", 1, "2026-11-25T12:00:59Z", true)]
    [InlineData("*", "12:00", 1, "2026-11-25T12:01:00Z", false)]
    [InlineData("fri", "12:00", 1440, "2026-11-28T11:59:59Z", true)]      // a whole day from friday noon
    [InlineData("fri", "12:00", 1440, "2026-11-28T12:00:00Z", false)]
    public void InMaintenance_WeeklyUtcWindows(string days, string start, int minutes, string now, bool expected)
    {
        var policy = Valid(new DriftPolicySpec { Maintenance = [new MaintenanceWindowSpec(days, start, minutes)] });

        Assert.Equal(expected, policy.InMaintenance(DateTimeOffset.Parse(now, System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void InMaintenance_NonUtcOffset_ComparedInUtc()
    {
        var policy = Valid(new DriftPolicySpec { Maintenance = [new MaintenanceWindowSpec("mon", "02:00", 60)] });

        // 04:30 at +02:00 is 02:30 UTC on monday.
        Assert.True(policy.InMaintenance(new DateTimeOffset(2026, 11, 23, 4, 30, 0, TimeSpan.FromHours(2))));
    }

    [Theory]
    [InlineData("file:/etc/odoo.conf", true)]
    [InlineData("file:/etc/odoo.conf.previous", false)]
    [InlineData("kind:file", false)]
    public void IsIgnored_ExactResourceIds(string id, bool expected)
    {
        var policy = Valid(new DriftPolicySpec { Ignore = ["file:/etc/odoo.conf"] });

        Assert.Equal(expected, policy.IsIgnored(id));
    }

    [Theory]
    // days, start, minutes, expected error fragment
    [InlineData("sat,sunday", "02:00", 60, "drift.maintenance[0].days: 'sat,sunday' must be \"*\" or comma-separated days")]
    [InlineData("", "02:00", 60, "drift.maintenance[0].days")]
    [InlineData("mon,mon", "02:00", 60, "names mon twice")]
    [InlineData("Mon", "02:00", 60, "drift.maintenance[0].days")]
    [InlineData("mon", "24:00", 60, "drift.maintenance[0].start: '24:00' is not HH:MM")]
    [InlineData("mon", "2:00", 60, "drift.maintenance[0].start")]
    [InlineData("mon", "02:60", 60, "drift.maintenance[0].start")]
    [InlineData("mon", "02:00", 0, "drift.maintenance[0].duration_minutes: 0 is outside 1..1440")]
    [InlineData("mon", "02:00", 1441, "drift.maintenance[0].duration_minutes: 1441 is outside 1..1440")]
    public void Create_BadWindow_ErrorNamesFieldAndRule(string days, string start, int minutes, string expected)
    {
        var errors = Errors(new DriftPolicySpec { Maintenance = [new MaintenanceWindowSpec(days, start, minutes)] });

        Assert.Contains(errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(29, false)]
    [InlineData(30, true)]
    [InlineData(86400, true)]
    [InlineData(86401, false)]
    [InlineData(-5, false)]
    public void Create_PeriodicInterval_30To86400OrZero(int seconds, bool valid)
    {
        var errors = Errors(new DriftPolicySpec { PeriodicIntervalSeconds = seconds });

        Assert.Equal(valid, errors.Count == 0);
        if (!valid)
        {
            Assert.StartsWith($"drift.periodic_interval_seconds: {seconds} is outside 30..86400", Assert.Single(errors), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("kind:ufw", true)]
    [InlineData("kind:pg-hba", true)]
    [InlineData("file:/etc/odoo.conf", true)]
    [InlineData("service:nginx.service", true)]
    [InlineData("firewall:ufw", true)]
    [InlineData("kind:", false)]
    [InlineData("kind:UFW", false)]
    [InlineData("ufw", false)]
    [InlineData(":/etc/odoo.conf", false)]
    [InlineData("file:", false)]
    [InlineData("file:/etc/odoo conf", false)]
    [InlineData("File:/etc/odoo.conf", false)]
    public void IsModeKey_KindOrResourceId(string key, bool expected) => Assert.Equal(expected, DriftPolicy.IsModeKey(key));

    [Fact]
    public void Create_BadModeKeyAndIgnore_EveryErrorReported()
    {
        var errors = Errors(new DriftPolicySpec
        {
            Modes = new Dictionary<string, DriftMode> { ["ufw"] = DriftMode.Report },
            Ignore = ["kind:file", "odoo.conf"],
        });

        Assert.Equal(3, errors.Count);
        Assert.StartsWith("drift.modes['ufw']: a key is a resource id", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("drift.ignore: 'kind:file' is not a resource id", errors[1], StringComparison.Ordinal);
        Assert.StartsWith("drift.ignore: 'odoo.conf' is not a resource id", errors[2], StringComparison.Ordinal);
    }
}
