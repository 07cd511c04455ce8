using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Resources;

/// <summary>Owner and group of a path by name, read and set with stat(1)/chown(1) through the runner.</summary>
internal sealed record Ownership(string Owner, string Group)
{
    public override string ToString() => $"{Owner}:{Group}";

    public static async Task<Ownership> ReadAsync(ICommandRunner runner, string path, CancellationToken ct)
    {
        // lstat semantics (no -L): the owner of a symlink is the link's own.
        var result = await runner.RunCheckedAsync(new CommandSpec("stat", ["--format=%U:%G", "--", path]), ct);
        var parts = result.Stdout.Trim().Split(':');
        return parts.Length == 2
            ? new Ownership(parts[0], parts[1])
            : throw new CommandFailedException($"stat printed '{result.Stdout.Trim()}' for {path}, expected owner:group");
    }

    public async Task ApplyAsync(ICommandRunner runner, string path, CancellationToken ct) =>
        await runner.RunCheckedAsync(new CommandSpec("chown", ["--no-dereference", "--", ToString(), path]), ct);
}

internal static class UnixModes
{
    public static string Format(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xfff, 8);
}
