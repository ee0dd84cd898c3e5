using System.IO.Compression;
using System.Text.Json;
using MLNet.Bayesian.MLNetIntegration;

namespace MLNet.Bayesian.Cli;

/// <summary>
/// The review rule tuned at training time, kept as an extra entry in the model zip (ML.NET ignores entries
/// it does not know), so that `score` can flag rows without being told a threshold.
/// </summary>
internal sealed record ReviewSettings(string Column, double Threshold, double Coverage, double Accuracy)
{
    const string Entry = "MLNetBayesian/review.json";

    public static void Write(string zip, ReviewRule rule)
    {
        using var archive = ZipFile.Open(zip, ZipArchiveMode.Update);
        archive.GetEntry(Entry)?.Delete();
        using var stream = archive.CreateEntry(Entry).Open();
        JsonSerializer.Serialize(stream, new ReviewSettings(rule.Column, rule.Threshold, rule.Coverage, rule.Accuracy));
    }

    public static ReviewSettings? Read(string zip)
    {
        using var archive = ZipFile.OpenRead(zip);
        var entry = archive.GetEntry(Entry);
        if (entry is null) return null;
        using var stream = entry.Open();
        return JsonSerializer.Deserialize<ReviewSettings>(stream);
    }
}
