namespace Apex.Verify;

/// <summary>Receives results as they happen (the live console view).</summary>
public interface IVerifyProgress
{
    void IterationStarted(int iteration, int of);
    void CheckStarted(string id, string title);
    void CheckFinished(CheckResult result);
}
