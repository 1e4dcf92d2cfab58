namespace Apex.Testing;

/// <summary>
/// A test bound to the embedded SQLite database (it edits the file, or starts child processes that
/// share it): skipped, with the reason shown, when <c>APEX_TEST_DATABASE=postgres</c> runs the suite
/// on PostgreSQL. The PostgreSQL counterparts (database unreachable, a crashed node's runs, several
/// processes on one database) are in Apex.Scale.Tests.
/// </summary>
public sealed class SqliteOnlyFactAttribute : Xunit.FactAttribute
{
    /// <summary>Why the test needs SQLite, shown when it is skipped.</summary>
    public string Because { get; set; } = "it edits the SQLite file directly";

    public override string? Skip
    {
        get => ApexTestServer.UsesPostgres ? $"SQLite only: {Because}; this run uses PostgreSQL (APEX_TEST_DATABASE=postgres)." : base.Skip;
        set => base.Skip = value;
    }
}
