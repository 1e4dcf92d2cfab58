using System.Reflection;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace Apex.Testing.Brokers;

/// <summary>
/// A test of <see cref="EventBrokerContract"/>. The contract is written once and inherited by one
/// class per broker; a class whose broker needs a server names why it cannot run in a public static
/// <c>SkipReason</c> property, and its tests are then skipped with that reason instead of failing.
/// </summary>
[XunitTestCaseDiscoverer("Apex.Testing.Brokers.BrokerFactDiscoverer", "Apex.Testing")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class BrokerFactAttribute : FactAttribute
{
    public BrokerFactAttribute() => Timeout = 60_000;
}

/// <summary>Discovers <see cref="BrokerFactAttribute"/> tests, skipped when the concrete class says so.</summary>
public sealed class BrokerFactDiscoverer(IMessageSink diagnosticMessageSink) : FactDiscoverer(diagnosticMessageSink)
{
    protected override IXunitTestCase CreateTestCase(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        ArgumentNullException.ThrowIfNull(testMethod);
        var type = testMethod.TestClass.Class.ToRuntimeType();
        var reason = type?.GetProperty("SkipReason", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as string;
        return reason is null
            ? base.CreateTestCase(discoveryOptions, testMethod, factAttribute)
            : new XunitSkippedDataRowTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, reason);
    }
}
