using OdooFleet.Agent.Engine;
using OdooFleet.Agent.IO;

namespace OdooFleet.Agent.Resources;

/// <summary>Checks a rendered file before it replaces the live one (runs on the temp file).</summary>
internal interface IFileValidator
{
    Task ValidateAsync(string tempPath, CancellationToken ct);
}

/// <summary>
/// A file with exact content, mode and (optionally) owner. Written atomically: temp file in the
/// same directory, validated, owned, renamed over the target; the old version stays as
/// "&lt;path&gt;.previous" for rollback.
/// </summary>
internal sealed class FileResource(
    HostPaths paths, ICommandRunner runner, string path, byte[] content, UnixFileMode mode, Ownership? ownership, IFileValidator? validator = null)
    : Resource<FileResource.Observed>
{
    internal sealed record Observed(bool Exists, bool IsOtherType, bool ContentMatches, UnixFileMode Mode, Ownership? Ownership) : Observation
    {
        /// <summary>The current bytes when they differ from the desired ones (for the diff), else null.</summary>
        public byte[]? Current { get; init; }
    }

    /// <summary>
    /// Applied to both sides before a diff is shown (e.g. blanks admin_passwd); null shows no
    /// diff at all, for files whose content is secret (private keys).
    /// </summary>
    public Func<string, string>? Redact { get; init; } = static text => text;

    /// <summary>
    /// Suffix of the copy kept for rollback; <see cref="AtomicFile.IgnoredPreviousSuffix"/> for files in
    /// directories such as /etc/logrotate.d and /etc/apt/apt.conf.d, whose readers would load ".previous" too.
    /// </summary>
    public string PreviousSuffix { get; init; } = AtomicFile.PreviousSuffix;

    public override string Id => $"file:{path}";

    public override string Kind => "file";

    private string FullPath => paths.Resolve(path);

    protected override async Task<Observed> ObserveTypedAsync(CancellationToken ct)
    {
        var info = new FileInfo(FullPath);
        if (info.LinkTarget is not null || Directory.Exists(FullPath))
        {
            return new Observed(false, true, false, default, null);
        }

        if (!info.Exists)
        {
            return new Observed(false, false, false, default, null);
        }

        var current = await File.ReadAllBytesAsync(FullPath, ct);
        var owner = ownership is null ? null : await Ownership.ReadAsync(runner, FullPath, ct);
        var matches = current.AsSpan().SequenceEqual(content);
        return new Observed(true, false, matches, info.UnixFileMode, owner) { Current = matches ? null : current };
    }

    protected override Change? Diff(Observed observed, IReadOnlySet<string> changedDependencies)
    {
        if (observed.IsOtherType)
        {
            throw new ResourceFailedException($"{path} is a symlink or directory, not a file; remove it, the agent will not replace it");
        }

        if (!observed.Exists)
        {
            return new FileChange($"create {path} ({content.Length} bytes, {UnixModes.Format(mode)})", RewriteContent: true)
            {
                Detail = DiffAgainst([]),
            };
        }

        var differences = new List<string>();
        if (!observed.ContentMatches)
        {
            differences.Add("content");
        }

        if (observed.Mode != mode)
        {
            differences.Add($"mode {UnixModes.Format(observed.Mode)} -> {UnixModes.Format(mode)}");
        }

        if (ownership is not null && observed.Ownership != ownership)
        {
            differences.Add($"owner {observed.Ownership} -> {ownership}");
        }

        return differences.Count == 0
            ? null
            : new FileChange($"update {path}: {string.Join(", ", differences)}", RewriteContent: !observed.ContentMatches)
            {
                Detail = observed.Current is { } current ? DiffAgainst(current) : null,
            };
    }

    public override async Task<string?> ApplyAsync(Change change, CancellationToken ct)
    {
        var rewrite = change is FileChange { RewriteContent: true };
        if (rewrite)
        {
            await AtomicFile.WriteAsync(FullPath, content, mode, ct, PrepareTempAsync, keepPrevious: true, PreviousSuffix);
            return null;
        }

        // Content is right: fixing metadata in place keeps the previous copy meaningful.
        File.SetUnixFileMode(FullPath, mode);
        if (ownership is not null)
        {
            await ownership.ApplyAsync(runner, FullPath, ct);
        }

        return null;
    }

    private string? DiffAgainst(byte[] current)
    {
        if (Redact is null)
        {
            return $"(content of {path} is secret: no diff shown)";
        }

        var utf8 = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        try
        {
            return TextDiff.Unified(path, Redact(utf8.GetString(current)), Redact(utf8.GetString(content)));
        }
        catch (System.Text.DecoderFallbackException)
        {
            return $"(binary content of {path} differs)";
        }
    }

    private async Task PrepareTempAsync(string tempPath, CancellationToken ct)
    {
        if (validator is not null)
        {
            await validator.ValidateAsync(tempPath, ct);
        }

        if (ownership is not null)
        {
            await ownership.ApplyAsync(runner, tempPath, ct);
        }
    }

    private sealed record FileChange(string Description, bool RewriteContent) : Change(Description);
}
