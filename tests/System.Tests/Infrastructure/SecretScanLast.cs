using Xunit.Sdk;
using Xunit.v3;

[assembly: TestClassOrderer(typeof(OdooFleet.SystemTests.Infrastructure.SecretScanLast))]

namespace OdooFleet.SystemTests.Infrastructure;

/// <summary>Runs <see cref="SecretScanTests"/> after every other class, so it scans the logs of the whole run.</summary>
public sealed class SecretScanLast : ITestClassOrderer
{
    public IReadOnlyCollection<TTestClass?> OrderTestClasses<TTestClass>(IReadOnlyCollection<TTestClass?> testClasses)
        where TTestClass : notnull, ITestClass =>
        [.. testClasses.OrderBy(c => c?.TestClassName == typeof(SecretScanTests).FullName ? 1 : 0).ThenBy(c => c?.TestClassName, StringComparer.Ordinal)];
}
