using OdooFleet.Controller.Api;
using OdooFleet.Controller.Domain;
using Xunit;
using V1 = OdooFleet.Contracts.V1;

namespace OdooFleet.Controller.Tests.Domain;

public sealed class DriftRulesTests
{
    private static readonly ProfileDefaults Defaults = new(null, "info", 5, 600, 3600);

    private static IReadOnlyList<string> Errors(ProfileChange change) => ProfileRules.Validate(change);

    private static ProfileChange Window(string days, string start, int minutes) =>
        new() { DriftMaintenance = [new MaintenanceWindowSetting(days, start, minutes)] };

    [Theory]
    [InlineData("*", "02:00", 120, true)]
    [InlineData("sat,sun", "00:00", 1, true)]
    [InlineData("mon,tue,wed,thu,fri,sat,sun", "23:59", 1440, true)]
    [InlineData("sat, sun", "02:00", 60, true)] // the agent trims each day
    [InlineData("saturday", "02:00", 60, false)]
    [InlineData("sat,sat", "02:00", 60, false)]
    [InlineData("Sat", "02:00", 60, false)]
    [InlineData("", "02:00", 60, false)]
    [InlineData("sat,", "02:00", 60, false)]
    [InlineData("sat", "2:00", 60, false)]
    [InlineData("sat", "24:00", 60, false)]
    [InlineData("sat", "02:60", 60, false)]
    [InlineData("sat", "02:00\n", 60, false)]
    [InlineData("sat", "02:00", 0, false)]
    [InlineData("sat", "02:00", 1441, false)]
    public void Validate_MaintenanceWindow_Table(string days, string start, int minutes, bool valid) =>
        Assert.Equal(valid, Errors(Window(days, start, minutes)).Count == 0);

    [Theory]
    [InlineData("file:/etc/odoo.conf", true)]
    [InlineData("kind:ufw", true)]
    [InlineData("kind:pg-hba", true)]
    [InlineData("service:nginx.service", true)]
    [InlineData("kind:", false)]
    [InlineData("kind:UFW", false)]
    [InlineData("file:", false)]
    [InlineData(":x", false)]
    [InlineData("noколон", false)]
    [InlineData("file:/etc/odoo conf", false)]
    [InlineData("file:/etc/odoo.conf\n", false)]
    [InlineData("File:/etc/odoo.conf", false)]
    public void IsModeKey_Table(string key, bool valid)
    {
        Assert.Equal(valid, DriftRules.IsModeKey(key));
        Assert.Equal(valid, Errors(new ProfileChange { SetDriftModes = new() { [key] = DriftModeSetting.Report } }).Count == 0);
    }

    [Theory]
    [InlineData("file:/etc/odoo.conf", true)]
    [InlineData("kind:ufw", false)]
    [InlineData("ufw", false)]
    [InlineData("file:/a b", false)]
    public void Validate_Ignore_Table(string id, bool valid) =>
        Assert.Equal(valid, Errors(new ProfileChange { DriftIgnore = [id] }).Count == 0);

    [Theory]
    [InlineData(0, true)]
    [InlineData(30, true)]
    [InlineData(86400, true)]
    [InlineData(29, false)]
    [InlineData(86401, false)]
    [InlineData(-1, false)]
    public void Validate_Interval_Table(int seconds, bool valid) =>
        Assert.Equal(valid, Errors(new ProfileChange { DriftIntervalSeconds = seconds }).Count == 0);

    [Theory]
    [InlineData("a", true)]
    [InlineData("01HZX3-abc_DEF", true)]
    [InlineData("", false)]
    [InlineData("a/b", false)]
    [InlineData("a b", false)]
    [InlineData("a\n", false)]
    public void IsEventId_Table(string id, bool valid) => Assert.Equal(valid, DriftRules.IsEventId(id));

    [Fact]
    public void Validate_KeySetAndUnsetUnknownModeDuplicateIgnore_EachNamed()
    {
        var errors = Errors(new ProfileChange
        {
            DriftDefaultMode = (DriftModeSetting)7,
            SetDriftModes = new() { ["kind:ufw"] = DriftModeSetting.Report, ["file:/x"] = (DriftModeSetting)(-1) },
            UnsetDriftModes = ["kind:ufw"],
            DriftIgnore = ["file:/a", "file:/a"],
        });

        Assert.Contains(errors, e => e.StartsWith("drift_default_mode: unknown mode", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("drift_resource 'file:/x': unknown mode", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("is both set and unset", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("'file:/a' is given more than once", StringComparison.Ordinal));
    }

    [Fact]
    public void Apply_DriftChangeTwice_SecondIsEquivalentAndOtherSettingsKept()
    {
        var current = HostProfile.Default with { Workers = 4 };
        var change = new ProfileChange
        {
            DriftDefaultMode = DriftModeSetting.Report,
            SetDriftModes = new() { ["file:/etc/odoo.conf"] = DriftModeSetting.Correct, ["kind:ufw"] = DriftModeSetting.Report },
            DriftMaintenance = [new MaintenanceWindowSetting("sat,sun", "02:00", 120)],
            DriftIgnore = ["file:/etc/motd"],
            DriftIntervalSeconds = 60,
        };

        var (once, errors) = ProfileRules.Apply(current, change, Defaults);
        var (twice, _) = ProfileRules.Apply(once!, change, Defaults);

        Assert.Empty(errors);
        Assert.Equal(4, once!.Workers);
        Assert.False(once.IsEquivalentTo(current));
        Assert.True(twice!.IsEquivalentTo(once));
        Assert.Equal(DriftModeSetting.Report, once.Drift.DefaultMode);
        Assert.Equal(60, once.Drift.PeriodicIntervalSeconds);
    }

    [Fact]
    public void Apply_ResetsAndUnsets_BackToTheDefaultPolicy()
    {
        var (set, _) = ProfileRules.Apply(HostProfile.Default, new ProfileChange
        {
            DriftDefaultMode = DriftModeSetting.Report,
            SetDriftModes = new() { ["kind:ufw"] = DriftModeSetting.Report },
            DriftMaintenance = [new MaintenanceWindowSetting("*", "02:00", 60)],
            DriftIgnore = ["file:/etc/motd"],
            DriftIntervalSeconds = 60,
        }, Defaults);

        var (reset, errors) = ProfileRules.Apply(set!, new ProfileChange
        {
            DriftDefaultModeReset = true,
            UnsetDriftModes = ["kind:ufw"],
            DriftMaintenance = [],
            DriftIgnore = [],
            DriftIntervalSeconds = 0,
        }, Defaults);

        Assert.Empty(errors);
        Assert.True(reset!.IsEquivalentTo(HostProfile.Default));
    }

    [Fact]
    public void Apply_MoreThanMaxModesInAll_Refused()
    {
        var current = HostProfile.Default with
        {
            Drift = new DriftSettings
            {
                Modes = new SortedDictionary<string, DriftModeSetting>(
                    Enumerable.Range(0, DriftRules.MaxModes).ToDictionary(i => $"file:/f{i}", _ => DriftModeSetting.Report), StringComparer.Ordinal),
            },
        };

        var (next, errors) = ProfileRules.Apply(current, new ProfileChange { SetDriftModes = new() { ["kind:ufw"] = DriftModeSetting.Report } }, Defaults);

        Assert.Null(next);
        Assert.Contains(errors, e => e.Contains($"more than {DriftRules.MaxModes}", StringComparison.Ordinal));
    }

    [Fact]
    public void ToProto_ConfigureRequestToSpec_PolicyAsTheAgentReadsIt()
    {
        var request = new V1.ConfigureHostRequest
        {
            Id = "web-01",
            DriftDefaultMode = V1.DriftMode.Report,
            SetDriftModes = { ["file:/etc/odoo.conf"] = V1.DriftMode.Correct },
            DriftMaintenance = new V1.MaintenanceWindowList { Windows = { new V1.MaintenanceWindow { Days = "sun", Start = "03:30", DurationMinutes = 90 } } },
            DriftIgnore = new V1.StringList { Values = { "file:/etc/motd" } },
            DriftPeriodicIntervalSeconds = 120,
        };
        var change = request.ToDomain();
        Assert.Empty(ProfileRules.Validate(change));
        var (profile, _) = ProfileRules.Apply(HostProfile.Default, change, Defaults);

        var spec = new HostSpec("h-1", 3, null, "", 8069, 8072) { Profile = profile! }.ToProto();

        Assert.Equal(V1.DriftMode.Report, spec.Drift.DefaultMode);
        Assert.Equal(V1.DriftMode.Correct, spec.Drift.Modes["file:/etc/odoo.conf"]);
        Assert.Equal("sun", spec.Drift.Maintenance[0].Days);
        Assert.Equal("03:30", spec.Drift.Maintenance[0].Start);
        Assert.Equal(90, spec.Drift.Maintenance[0].DurationMinutes);
        Assert.Equal(["file:/etc/motd"], spec.Drift.Ignore);
        Assert.Equal(120, spec.Drift.PeriodicIntervalSeconds);
        Assert.Equal(V1.DriftMode.Unspecified, new HostSpec("h-1", 3, null, "", 8069, 8072).ToProto().Drift.DefaultMode);
    }

    [Fact]
    public void ToDomain_DefaultModeUnspecified_IsAReset()
    {
        var change = new V1.ConfigureHostRequest { Id = "web-01", DriftDefaultMode = V1.DriftMode.Unspecified }.ToDomain();

        Assert.True(change.DriftDefaultModeReset);
        Assert.Null(change.DriftDefaultMode);
        Assert.Empty(ProfileRules.Validate(change));
    }
}
