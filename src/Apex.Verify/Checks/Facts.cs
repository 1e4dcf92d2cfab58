namespace Apex.Verify.Checks;

/// <summary>What earlier checks establish for later ones.</summary>
internal static class Facts
{
    public const string Api = "a reachable API";
    public const string Auth = "a reachable auth service";
    public const string Web = "a web app";
    public const string Session = "a signed-in probe user";
    public const string SecondSession = "a second probe user";
    public const string Thread = "a probe thread";
    public const string Socket = "a WebSocket connection";
    public const string AgentStarted = "a started agent run";
    public const string AgentRun = "a completed agent run";
    public const string Resumed = "a resumed connection";
    public const string Observer = "user B's open socket";
}
