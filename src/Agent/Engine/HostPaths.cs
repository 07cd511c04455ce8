namespace OdooFleet.Agent.Engine;

/// <summary>
/// Maps the absolute paths a resource declares ("/etc/odoo.conf") onto a root directory, so unit
/// tests converge into a temp dir and production uses "/". Ids and symlink targets keep the
/// declared path; only file system calls use the rooted one.
/// </summary>
internal sealed class HostPaths(string root)
{
    public static readonly HostPaths System = new("/");

    public string Root { get; } = Path.GetFullPath(root);

    public bool IsSystemRoot => Root == "/";

    public string Resolve(string absolutePath)
    {
        if (!absolutePath.StartsWith('/'))
        {
            throw new ArgumentException($"'{absolutePath}' must be an absolute path", nameof(absolutePath));
        }

        return IsSystemRoot ? absolutePath : Path.Join(Root, absolutePath);
    }
}
