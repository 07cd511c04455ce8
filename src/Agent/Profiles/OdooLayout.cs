namespace OdooFleet.Agent.Profiles;

/// <summary>Where an Odoo host keeps things (the seed guides' layout, corrected by SEED-ERRATA #11, #13).</summary>
internal sealed record OdooLayout
{
    public static readonly OdooLayout Default = new();

    public string User { get; init; } = "odoo";
    public string Group { get; init; } = "odoo";
    public string Home { get; init; } = "/opt/odoo";
    public string ReleasesDir { get; init; } = "/opt/odoo/releases";
    public string CurrentLink { get; init; } = "/opt/odoo/current";
    public string DataDir { get; init; } = "/var/lib/odoo";
    public string LogDir { get; init; } = "/var/log/odoo";
    public string ConfFile { get; init; } = "/etc/odoo.conf";
    public string UnitFile { get; init; } = "/etc/systemd/system/odoo.service";
    public string UnitName { get; init; } = "odoo.service";
    public string Shell { get; init; } = "/usr/sbin/nologin";

    public string LogFile => $"{LogDir}/odoo.log";

    public string OdooBin => $"{CurrentLink}/odoo-bin";

    /// <summary>The interpreter of the current release's own venv (VenvResource builds it inside the release).</summary>
    public string Python => $"{CurrentLink}/.venv/bin/python";

    /// <summary>Odoo's two addons directories, through `current` so a release switch does not change odoo.conf.</summary>
    public IReadOnlyList<string> AddonsPaths => [$"{CurrentLink}/odoo/addons", $"{CurrentLink}/addons"];

    public string ReleaseDir(Engine.ReleaseRef release) => $"{ReleasesDir}/{release.DirectoryName}";
}
