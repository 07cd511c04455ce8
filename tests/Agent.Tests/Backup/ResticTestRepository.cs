using OdooFleet.Agent.Backup;
using OdooFleet.Agent.Engine;
using OdooFleet.Agent.Tests.Support;

namespace OdooFleet.Agent.Tests.Backup;

/// <summary>A fresh local restic repository (not yet initialised) with its 0600 password file, in a temp directory.</summary>
internal sealed class ResticTestRepository : IDisposable
{
    public const string Password = "correct-horse-battery-staple-7f3a";

    public ResticTestRepository()
    {
        PasswordFile = Temp.Combine("password");
        File.WriteAllText(PasswordFile, Password + "\n");
        File.SetUnixFileMode(PasswordFile, FileModes.Mode0600);
        Location = ResticLocation.Parse(Temp.Combine("repo"));
        Repository = Open(PasswordFile);
    }

    public static bool Installed => ProcessCommandRunner.IsOnPath(ResticRepository.Program);

    public TempDirectory Temp { get; } = new();

    public string PasswordFile { get; }

    public ResticLocation Location { get; }

    public ListLogger<ResticRepository> Logger { get; } = new();

    public ResticRepository Repository { get; }

    /// <summary>The same repository opened with another password file.</summary>
    public ResticRepository Open(string passwordFile) =>
        new(new ProcessCommandRunner(), new ResticRepositoryOptions(Location, passwordFile), Logger);

    public void Dispose() => Temp.Dispose();
}
