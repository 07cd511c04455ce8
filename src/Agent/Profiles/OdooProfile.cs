using System.Text;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Resources;

namespace OdooFleet.Agent.Profiles;

/// <summary>What the profile needs besides the spec: where, how to run programs, how to wait.</summary>
internal sealed record ProfileEnvironment(HostPaths Paths, ICommandRunner Runner, HttpClient Http, TimeProvider Time)
{
    public OdooLayout Layout { get; init; } = OdooLayout.Default;
    public TimeSpan HealthDeadline { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan HealthInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan GitTimeout { get; init; } = TimeSpan.FromMinutes(10);
}

/// <summary>
/// The Odoo 18 host profile: compiles a desired host into the resource graph the engine runs.
/// A host without a release (no rollout yet) has nothing to converge.
/// </summary>
internal static class OdooProfile
{
    public static IReadOnlyList<IResource> Compile(DesiredHost host, ProfileEnvironment env)
    {
        var odoo = host.Odoo;
        var errors = SpecValidator.Validate(odoo);
        if (errors.Count > 0)
        {
            throw new SpecValidationException(errors);
        }

        if (odoo.Release is not { } release)
        {
            return [];
        }

        var layout = env.Layout;
        var (paths, runner) = (env.Paths, env.Runner);
        var odooOwned = new Ownership(layout.User, layout.Group);
        var rootOwned = new Ownership("root", layout.Group);

        var user = new SystemUserResource(runner, layout.User, layout.Home, layout.Shell);
        var home = new DirectoryResource(paths, runner, layout.Home, FileModes.Mode0755, odooOwned) { DependsOn = [user.Id] };
        var releases = new DirectoryResource(paths, runner, layout.ReleasesDir, FileModes.Mode0755, odooOwned) { DependsOn = [home.Id] };
        var dataDir = new DirectoryResource(paths, runner, layout.DataDir, FileModes.Mode0750, odooOwned) { DependsOn = [user.Id] };
        var logDir = new DirectoryResource(paths, runner, layout.LogDir, FileModes.Mode0750, odooOwned) { DependsOn = [user.Id] };
        var checkout = new ReleaseCheckoutResource(paths, runner, layout.ReleasesDir, release, odoo.SourceUrl, env.GitTimeout)
        {
            DependsOn = [releases.Id],
        };
        var conf = new FileResource(paths, runner, layout.ConfFile, Utf8(OdooConfRenderer.Render(odoo, layout)), FileModes.Mode0640, rootOwned)
        {
            DependsOn = [user.Id],
        };
        var current = new SymlinkResource(paths, layout.CurrentLink, layout.ReleaseDir(release)) { DependsOn = [checkout.Id] };
        var unit = new FileResource(
            paths, runner, layout.UnitFile, Utf8(OdooUnitRenderer.Render(layout)), FileModes.Mode0644, new Ownership("root", "root"),
            new SystemdUnitValidator(runner, layout.UnitName, layout.OdooBin))
        {
            DependsOn = [current.Id],
        };
        var service = new ServiceResource(
            runner, layout.UnitName,
            reloadOn: new HashSet<string>(StringComparer.Ordinal) { unit.Id },
            restartOn: new HashSet<string>(StringComparer.Ordinal) { current.Id, conf.Id, unit.Id })
        {
            DependsOn = [current.Id, conf.Id, unit.Id, dataDir.Id, logDir.Id],
        };
        var health = new HealthCheckResource(
            env.Http, env.Time, "odoo", new Uri($"http://127.0.0.1:{odoo.HttpPort}/web/health"), env.HealthDeadline, env.HealthInterval)
        {
            DependsOn = [service.Id],
        };

        return [user, home, releases, dataDir, logDir, checkout, conf, current, unit, service, health];
    }

    /// <summary>The release `current` points to, or null (read from the link's text, no resolution).</summary>
    public static ReleaseRef? RunningRelease(HostPaths paths, OdooLayout layout)
    {
        var target = new FileInfo(paths.Resolve(layout.CurrentLink)).LinkTarget;
        return target is null ? null : ReleaseRef.TryParseDirectoryName(Path.GetFileName(target.TrimEnd('/')));
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}
