namespace OdooFleet.Controller.Domain;

/// <summary>Where a tenant move stands (the tenant_moves.step column).</summary>
internal enum TenantMoveStep
{
    /// <summary>The source serves a maintenance page, archives the tenant and uploads the archive.</summary>
    Exporting,

    /// <summary>The archive is stored on the controller; the target restores and verifies it.</summary>
    Importing,

    /// <summary>The tenant is on the target; the source archives and removes its copy.</summary>
    Switched,

    Done,

    /// <summary>A failure before the switch: the target drops its copy, the source serves again.</summary>
    RollingBack,

    RolledBack,
}

/// <summary>One move of a tenant between hosts, as the tenant_moves table keeps it.</summary>
internal sealed record TenantMoveRecord(
    string Id,
    string TenantId,
    string TenantName,
    string SourceHostId,
    string SourceHostName,
    string TargetHostId,
    string TargetHostName,
    TenantMoveStep Step,
    long SourceGeneration,
    long TargetGeneration,
    string? ArchiveSha256,
    long? ArchiveBytes,
    string Error,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Where the source uploads the archive and the target downloads it (the controller's agent endpoint).</summary>
    public string ArchivePath => TenantMoveRules.ArchivePath(Id);

    public bool IsOpen => Step is TenantMoveStep.Exporting or TenantMoveStep.Importing or TenantMoveStep.Switched or TenantMoveStep.RollingBack;
}

/// <summary>What a host's spec carries for a tenant that is moving away from it or to it.</summary>
internal sealed record TenantMoveOut(string MoveId, string UploadPath);

internal sealed record TenantMoveIn(string MoveId, string ArchivePath, string Sha256, long Bytes);

internal static class TenantMoveRules
{
    public const string PathPrefix = "/tenant-moves/";

    public static string ArchivePath(string moveId) => $"{PathPrefix}{moveId}/archive";

    public static string StepText(TenantMoveStep step) => step switch
    {
        TenantMoveStep.Exporting => "exporting",
        TenantMoveStep.Importing => "importing",
        TenantMoveStep.Switched => "switched",
        TenantMoveStep.Done => "done",
        TenantMoveStep.RollingBack => "rolling-back",
        _ => "rolled-back",
    };

    public static TenantMoveStep? ParseStep(string text) => text switch
    {
        "exporting" => TenantMoveStep.Exporting,
        "importing" => TenantMoveStep.Importing,
        "switched" => TenantMoveStep.Switched,
        "done" => TenantMoveStep.Done,
        "rolling-back" => TenantMoveStep.RollingBack,
        "rolled-back" => TenantMoveStep.RolledBack,
        _ => null,
    };

    /// <summary>Lowercase hex of 32 bytes.</summary>
    public static bool IsSha256(string? value) =>
        value is { Length: 64 } && value.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}
