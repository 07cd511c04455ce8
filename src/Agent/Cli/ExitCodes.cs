namespace OdooFleet.Agent.Cli;

/// <summary>Documented in `odoofleet-agent --help`.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int AlreadyEnrolled = 3;
    public const int TokenRefused = 4;
    public const int ControllerUnreachable = 5;
    public const int ConfigInvalid = 6;
    public const int EnrollRejected = 7;
    public const int Busy = 8;
    public const int ChangesPending = 9;
    public const int ControllerUntrusted = 10;
}
