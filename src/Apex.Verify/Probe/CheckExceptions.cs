namespace Apex.Verify.Probe;

/// <summary>Thrown inside a check to fail it with a detail an operator can act on.</summary>
public sealed class CheckFailedException(string detail) : Exception(detail);

/// <summary>Thrown inside a check when it does not apply to this deployment (the reason is reported).</summary>
public sealed class CheckSkippedException(string reason) : Exception(reason);
