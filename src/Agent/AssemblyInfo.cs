using System.Runtime.Versioning;

// The agent manages Linux hosts (POSIX modes, rename(2), /proc, systemd) and runs nowhere else.
[assembly: SupportedOSPlatform("linux")]
