using System.Text.RegularExpressions;
using OdooFleet.Agent.Engine;

namespace OdooFleet.Agent.Backup;

/// <summary>
/// Where a restic repository lives: a local absolute path, <c>sftp:[user@]host:/path</c>,
/// <c>rest:http(s)://[user:password@]host[:port]/[path]</c> or <c>s3:endpoint/bucket[/prefix]</c>.
/// The value reaches restic through RESTIC_REPOSITORY (readable only by the agent's user), never argv,
/// because a REST URL may carry credentials; <see cref="Display"/> is the form for logs and errors.
/// </summary>
internal sealed partial class ResticLocation
{
    private ResticLocation(string value, string display)
    {
        Value = value;
        Display = display;
    }

    /// <summary>What restic is given (may hold a REST password).</summary>
    public string Value { get; }

    /// <summary>The location with any password replaced by "***".</summary>
    public string Display { get; }

    public bool IsLocal => Value.StartsWith('/');

    public override string ToString() => Display;

    public static ResticLocation Parse(string value)
    {
        var errors = Validate(value);
        return errors.Count == 0
            ? new ResticLocation(value, Redact(value))
            : throw new ArgumentException(string.Join("; ", errors), nameof(value));
    }

    public static IReadOnlyList<string> Validate(string value)
    {
        const string Fix = "use a local absolute path, sftp:user@host:/path, rest:https://host:port/path or s3:endpoint/bucket/prefix";
        if (value.Length is 0 or > 1000 || !Grammar.IsSingleLine(value) || value.Any(char.IsWhiteSpace))
        {
            return [$"backup.repository: '{Grammar.Printable(Redact(value))}' must be one line without spaces, at most 1000 characters; {Fix}"];
        }

        if (value.StartsWith('/'))
        {
            return Grammar.IsSafeAbsolutePath(value) && !value.EndsWith('/')
                ? []
                : [$"backup.repository: '{Grammar.Printable(value)}' must be an absolute path of letters, digits and ._+@:/- without '..', '//' or a trailing '/'"];
        }

        if (value.StartsWith("sftp:", StringComparison.Ordinal))
        {
            return SftpPattern().IsMatch(value) ? [] : [$"backup.repository: '{Grammar.Printable(value)}' is not sftp:[user@]host:/path; {Fix}"];
        }

        if (value.StartsWith("rest:", StringComparison.Ordinal))
        {
            return Uri.TryCreate(value["rest:".Length..], UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0
                   && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment)
                ? []
                : [$"backup.repository: '{Grammar.Printable(Redact(value))}' is not rest:http(s)://[user:password@]host[:port]/[path]; {Fix}"];
        }

        if (value.StartsWith("s3:", StringComparison.Ordinal))
        {
            return S3Pattern().IsMatch(value) ? [] : [$"backup.repository: '{Grammar.Printable(value)}' is not s3:[https://]endpoint/bucket[/prefix]; {Fix}"];
        }

        return [$"backup.repository: '{Grammar.Printable(Redact(value))}' is not a repository location restic accepts here; {Fix}"];
    }

    /// <summary>Replaces the password of a URL's user info ("user:secret@") by "***".</summary>
    private static string Redact(string value) => UserInfoPasswordPattern().Replace(value, "$1:***@");

    [GeneratedRegex(@"^sftp:(?:[a-z_][a-z0-9_.-]{0,31}@)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?:/?[A-Za-z0-9._+@/-]{1,900}\z")]
    private static partial Regex SftpPattern();

    [GeneratedRegex(@"^s3:(?:https?://)?[A-Za-z0-9]([A-Za-z0-9.-]{0,252}[A-Za-z0-9])?(?::[0-9]{1,5})?/[a-z0-9][a-z0-9.-]{1,62}(?:/[A-Za-z0-9._+-]+)*\z")]
    private static partial Regex S3Pattern();

    [GeneratedRegex(@"(//[^/:@]*):[^/@]*@")]
    private static partial Regex UserInfoPasswordPattern();
}
