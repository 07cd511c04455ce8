using System.Runtime.Versioning;

// The agent code under test runs only on Linux.
[assembly: SupportedOSPlatform("linux")]
