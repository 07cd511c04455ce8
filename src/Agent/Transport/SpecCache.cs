using System.Text;
using Google.Protobuf;
using OdooFleet.Agent.IO;
using OdooFleet.Contracts.V1;

namespace OdooFleet.Agent.Transport;

/// <summary>The last fetched HostSpec, in protobuf's canonical JSON, for `odoofleet-agent converge` without a controller.</summary>
internal static class SpecCache
{
    public static Task SaveAsync(string path, HostSpec spec, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var json = new JsonFormatter(JsonFormatter.Settings.Default.WithIndentation()).Format(spec) + "\n";
        return AtomicFile.WriteAsync(path, Encoding.UTF8.GetBytes(json), UnixFileMode.UserRead | UnixFileMode.UserWrite, ct);
    }

    /// <summary>Reads a HostSpec JSON file; throws <see cref="InvalidDataException"/> with the file and the problem.</summary>
    public static async Task<HostSpec> LoadAsync(string path, CancellationToken ct)
    {
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path, ct);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"{path}: not found; run the agent service once so it fetches the spec, or pass --spec FILE.json");
        }

        try
        {
            return JsonParser.Default.Parse<HostSpec>(text);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{path}: is not a fleet.v1.HostSpec in protobuf JSON ({e.Message})");
        }
        catch (InvalidJsonException e)
        {
            throw new InvalidDataException($"{path}: is not valid JSON ({e.Message})");
        }
    }
}
