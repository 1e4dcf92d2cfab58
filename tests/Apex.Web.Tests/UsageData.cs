using System.Globalization;
using System.Text;

namespace Apex.Web.Tests;

/// <summary>A small, deterministic usage export with known waste: exact repeats and failed calls.</summary>
internal static class UsageData
{
    public const int Rows = 240;

    public static string WriteCsv(string directory)
    {
        var path = Path.Combine(directory, "usage-export.csv");
        var sb = new StringBuilder("timestamp,model,input_tokens,output_tokens,latency_ms,cost_usd,feature,prompt_hash,status\n");
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < Rows; i++)
        {
            var at = start.AddMinutes(i * 42); // about 7 days
            var support = i % 3 != 2;
            var model = support ? "gpt-4o" : "gpt-4o-mini";
            var feature = support ? "support-chat" : "nightly-report";
            var input = support ? 1800 + (i % 7) * 50 : 3000;
            var output = support ? 350 + (i % 5) * 20 : 600;
            var cost = support ? (input * 2.5 + output * 10) / 1_000_000 : (input * 0.15 + output * 0.6) / 1_000_000;
            // One support prompt in four repeats one seen an hour earlier: cacheable.
            var hash = support && i % 4 == 0 ? $"p{(i / 12) * 12:D4}" : $"p{i:D4}";
            var status = i % 17 == 0 ? "error" : "ok";
            sb.Append(CultureInfo.InvariantCulture,
                $"{at:yyyy-MM-ddTHH:mm:ssZ},{model},{input},{output},{900 + (i % 11) * 120},{cost:0.000000},{feature},{hash},{status}\n");
        }

        File.WriteAllText(path, sb.ToString());
        return path;
    }
}
