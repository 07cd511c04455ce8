using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>
/// A system account with its own group (e.g. odoo: home /opt/odoo, shell nologin). Observed with
/// getent so NSS sources count; created with useradd. Acts on the running system, not on the root.
/// </summary>
internal sealed class SystemUserResource(ICommandRunner runner, string name, string home, string shell)
    : Resource<SystemUserResource.Observed>
{
    /// <summary>getent's exit code for "key not found".</summary>
    private const int NotFound = 2;

    internal sealed record Observed(bool UserExists, string? Home, string? Shell, bool GroupExists) : Observation;

    public override string Id => $"user:{name}";

    public override string Kind => "user";

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var user = await GetEntAsync("passwd", ct);
        var group = await GetEntAsync("group", ct);
        var fields = user?.Split(':');
        return new Observed(user is not null, fields?.ElementAtOrDefault(5), fields?.ElementAtOrDefault(6), group is not null);
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (!observed.UserExists)
        {
            return new Change($"create system user {name} (home {home}, shell {shell})");
        }

        var differences = new List<string>();
        if (observed.Home != home)
        {
            differences.Add($"home {observed.Home} -> {home}");
        }

        if (observed.Shell != shell)
        {
            differences.Add($"shell {observed.Shell} -> {shell}");
        }

        return differences.Count == 0 ? null : new Change($"modify user {name}: {string.Join(", ", differences)}");
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var observed = await ObserveTypedAsync(ct);
        if (!observed.UserExists)
        {
            // useradd --user-group fails when the group already exists (e.g. created by hand): join it instead.
            string[] group = observed.GroupExists ? ["--gid", name] : ["--user-group"];
            await runner.RunCheckedAsync(
                new CommandSpec("useradd", ["--system", .. group, "--home-dir", home, "--no-create-home", "--shell", shell, "--", name]), ct);
        }
        else
        {
            await runner.RunCheckedAsync(new CommandSpec("usermod", ["--home", home, "--shell", shell, "--", name]), ct);
        }

        return null;
    }

    private async Task<string?> GetEntAsync(string database, CancellationToken ct)
    {
        var spec = new CommandSpec("getent", [database, "--", name]);
        var result = await runner.RunAsync(spec, ct);
        return result.ExitCode switch
        {
            0 => result.Stdout.Trim(),
            NotFound => null,
            _ => throw new CommandFailedException(result.Describe(spec)),
        };
    }
}
