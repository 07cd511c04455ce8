namespace OdooFleet.Agent.Release;

/// <summary>Where release artifacts are downloaded from (the controller's agent endpoint, over mutual TLS).</summary>
internal interface IReleaseArtifactSource
{
    /// <summary>GETs <paramref name="path"/> and hands the body to <paramref name="consume"/>; throws <see cref="ArtifactDownloadException"/> when no controller serves it.</summary>
    Task DownloadAsync(string path, Func<Stream, CancellationToken, Task> consume, CancellationToken ct);
}

internal sealed class ArtifactDownloadException(string message) : Exception(message);
