namespace OdooFleet.Agent.Release;

/// <summary>
/// Files to and from the controllers' agent endpoint, over mutual TLS: release artifacts and tenant
/// archives are downloaded, a moving tenant's archive is uploaded.
/// </summary>
internal interface IReleaseArtifactSource
{
    /// <summary>GETs <paramref name="path"/> and hands the body to <paramref name="consume"/>; throws <see cref="ArtifactDownloadException"/> when no controller serves it.</summary>
    Task DownloadAsync(string path, Func<Stream, CancellationToken, Task> consume, CancellationToken ct);

    /// <summary>PUTs the file to <paramref name="path"/> with its sha256 (the controller checks it); throws <see cref="ArtifactDownloadException"/> when no controller stored it.</summary>
    Task UploadAsync(string path, string file, string sha256, CancellationToken ct);
}

internal sealed class ArtifactDownloadException(string message) : Exception(message);
