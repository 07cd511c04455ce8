namespace OdooFleet.Cli;

/// <summary>The process exit codes `fleet` documents in its root help.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int Usage = 2;
    public const int Timeout = 3;
    public const int Unreachable = 4;
    public const int NotFoundOrDenied = 5;
    public const int Interrupted = 130;
}
