using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MLNet.Bayesian.Architectures;

namespace MLNet.Bayesian.Benchmarks;

/// <summary>Writes (in the invariant culture, which Program sets) results.json (fixed keys), results.md (the same as tables, the targets met or not, and the run's details).</summary>
internal static class ResultsWriter
{
    public sealed record Header(
        [property: JsonPropertyName("dataset")] string Dataset,
        [property: JsonPropertyName("architecture")] string Architecture,
        [property: JsonPropertyName("epochs")] IReadOnlyDictionary<string, int> Epochs,
        [property: JsonPropertyName("quick")] bool Quick,
        [property: JsonPropertyName("commit")] string Commit,
        [property: JsonPropertyName("date")] string Date,
        [property: JsonPropertyName("threads")] int Threads,
        [property: JsonPropertyName("device")] string Device,
        [property: JsonPropertyName("seed")] int Seed,
        [property: JsonPropertyName("methods")] IReadOnlyList<MethodResult> Methods);

    public sealed record Target(string Name, bool Met, string Figure);

    public static Header MakeHeader(string dataset, MethodsBenchmark.Settings settings, bool quick, IReadOnlyList<MethodResult> methods) => new(
        dataset, settings.Architecture.ToString(),
        new Dictionary<string, int> { ["deterministic"] = settings.DeterministicEpochs, ["mean_field"] = settings.MeanFieldEpochs, ["shared"] = settings.SharedEpochs },
        quick, Commit(), DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture), TorchSharp.torch.get_num_threads(),
        settings.Device.type.ToString().ToLowerInvariant(), settings.Seed, methods);

    /// <summary>The issue's targets that one run of this benchmark can decide, each with its figure.</summary>
    public static List<Target> Targets(IReadOnlyList<MethodResult> methods, Architecture architecture, IReadOnlyDictionary<string, double> interleavedStepMs)
    {
        var det = methods.Single(m => m.Method == "deterministic");
        var mf = methods.Single(m => m.Method == "mean_field");
        var targets = new List<Target>();
        double needed = architecture == Architecture.ResNet20 ? 20 : architecture == Architecture.SmallCnn ? 10 : 0;
        foreach (var m in methods.Where(m => m.Method.StartsWith("2dgbnn", StringComparison.Ordinal)))
        {
            // Decided on the interleaved measurement: the per-stage medians were taken minutes apart.
            double interleaved = interleavedStepMs[m.Method] / interleavedStepMs["deterministic"];
            targets.Add(new($"{m.Method}: training step <= 1.1x deterministic", interleaved <= 1.1,
                $"{interleaved:F2}x interleaved ({interleavedStepMs[m.Method]:F1} vs {interleavedStepMs["deterministic"]:F1} ms); last-epoch medians " +
                $"{m.TrainStepRatioVsDeterministic:F2}x ({m.TrainStepMs:F1} vs {det.TrainStepMs:F1} ms)"));
            double floor = det.PredictImagesPerS / m.Samples;
            targets.Add(new($"{m.Method}: prediction >= deterministic / S", m.PredictImagesPerS >= floor,
                $"{m.PredictImagesPerS:F0} images/s vs {floor:F0} (deterministic {det.PredictImagesPerS:F0}, S = {m.Samples}); ratio to det/S {m.PredictImagesPerS * m.Samples / det.PredictImagesPerS:F2}"));
            targets.Add(new($"{m.Method}: ML.NET Transform within 10% of direct prediction", m.MLNetOverDirect >= 0.9,
                $"{m.MLNetOverDirect:F2}x (best of three alternated passes each on up to 2,000 test images); one pass over the test set " +
                $"{m.PredictImagesPerSMLNet:F0} vs {m.PredictImagesPerS:F0} images/s"));
            double buildLimit = architecture == Architecture.SmallCnn ? 1 : 10;
            if (m.PosteriorBuildSeconds is double build)
                targets.Add(new($"{m.Method}: stage 2 (posterior construction) <= {buildLimit:F0} s", build <= buildLimit, $"{build:F2} s"));
            double compression = (double)det.TrainableParameters / m.TrainableParameters;
            if (needed > 0)
                targets.Add(new($"{m.Method}: trainable parameters >= {needed:F0}x fewer than deterministic", compression >= needed,
                    $"{compression:F1}x ({m.TrainableParameters:N0} vs {det.TrainableParameters:N0})"));
            targets.Add(new($"{m.Method}: accuracy within 1 point of deterministic", det.Accuracy - m.Accuracy <= 0.01,
                $"{100 * m.Accuracy:F2}% vs {100 * det.Accuracy:F2}% ({100 * (m.Accuracy - det.Accuracy):+0.00;-0.00} points)"));
            targets.Add(new($"{m.Method}: ECE no worse than deterministic", m.Ece <= det.Ece, $"{m.Ece:F4} vs {det.Ece:F4}"));
            targets.Add(new($"{m.Method}: NLL no worse than deterministic", m.Nll <= det.Nll, $"{m.Nll:F4} vs {det.Nll:F4}"));
            targets.Add(new($"{m.Method}: OOD AUROC by mutual information no worse than mean-field", m.OodAurocMutualInformation >= mf.OodAurocMutualInformation,
                $"{m.OodAurocMutualInformation:F3} vs {mf.OodAurocMutualInformation:F3}"));
            // Issue 13: the same comparison against the baselines trained in the same run.
            foreach (var baseline in methods.Where(b => b.Method is "mc_dropout" or "deep_ensemble"))
                targets.Add(new($"{m.Method}: OOD AUROC by mutual information >= {baseline.Method}'s", m.OodAurocMutualInformation >= baseline.OodAurocMutualInformation,
                    $"{m.OodAurocMutualInformation:F3} vs {baseline.OodAurocMutualInformation:F3} ({100 * m.Accuracy:F2}% vs {100 * baseline.Accuracy:F2}% accuracy)"));
        }
        return targets;
    }

    public static void Write(string outDir, Header header, MethodsBenchmark.Outcome outcome, IReadOnlyList<Target> targets, int batchSize, string commandLine, MLNet.Bayesian.Posterior.SharedPosteriorOptions posterior)
    {
        File.WriteAllText(Path.Combine(outDir, "results.json"), JsonSerializer.Serialize(header, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(outDir, "results.md"), Markdown(header, outcome, targets, batchSize, commandLine, posterior));
    }

    static string Markdown(Header h, MethodsBenchmark.Outcome outcome, IReadOnlyList<Target> targets, int batchSize, string commandLine, MLNet.Bayesian.Posterior.SharedPosteriorOptions posterior)
    {
        var s = new StringBuilder();
        s.AppendLine($"# Methods benchmark: {h.Architecture} on {h.Dataset}{(h.Quick ? " (quick mode)" : "")}");
        s.AppendLine();
        s.AppendLine($"Date {h.Date}, commit {h.Commit}, seed {h.Seed}, device {h.Device}, {h.Threads} TorchSharp threads, {Environment.ProcessorCount} logical CPUs ({Cpu()}), " +
                     $"epochs per stage (deterministic / mean-field / shared) {h.Epochs["deterministic"]} / {h.Epochs["mean_field"]} / {h.Epochs["shared"]}, " +
                     $"training took {outcome.TrainSeconds / 60:F1} min including evaluation. Produced by " +
                     $"`dotnet run -c Release --project tests/MLNet.Bayesian.Benchmarks -- {commandLine}`.");
        s.AppendLine();
        s.AppendLine("Deterministic and mean-field are stages 0 and 1 of the 2DGBNN run (same data, same seed); both 2DGBNN variants start stage 3 " +
                     $"from the same mean-field posterior (second run's stages 0-1 reproduce the first run's weights: {(outcome.StagesReproduced ? "yes" : "no")}). " +
                     "OOD: scikit-learn's 1,797 digits at 28x28; shifts: test set rotated 30 degrees, and with Gaussian noise std 0.3. " +
                     $"AURC abstains on low confidence. Batch size {batchSize}; S posterior draws per prediction. Shared posterior: component budget " +
                     $"{posterior.ComponentBudget}, outliers outside the [{posterior.OutlierQuantile}, {1 - posterior.OutlierQuantile}] quantiles of either coordinate, " +
                     $"|mu| >= {posterior.MuThreshold}, and the top {posterior.GradientFraction} by gradient magnitude.");
        s.AppendLine();
        s.AppendLine("| method | S | accuracy | NLL | ECE | Brier | AURC | OOD AUROC entropy | OOD AUROC MI | OOD AUROC confidence | OOD AUROC feature distance | OOD AUROC energy | rot30 acc | rot30 ECE | noise acc | noise ECE | trainable | model bytes | step ms | step ratio | images/s | images/s via ML.NET | stage 2 s |");
        s.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var m in h.Methods)
            s.AppendLine($"| {m.Method} | {m.Samples} | {100 * m.Accuracy:F2}% | {m.Nll:F4} | {m.Ece:F4} | {m.Brier:F4} | {m.Aurc:F4} | {m.OodAurocEntropy:F3} | " +
                $"{(m.OodAurocMutualInformation is double mi ? mi.ToString("F3", CultureInfo.InvariantCulture) : "n/a")} | {m.OodAurocConfidence:F3} | {m.OodAurocFeatureDistance:F3} | {m.OodAurocEnergy:F3} | " +
                $"{100 * m.ShiftRotate30Accuracy:F2}% | {m.ShiftRotate30Ece:F4} | {100 * m.ShiftNoiseAccuracy:F2}% | {m.ShiftNoiseEce:F4} | {m.TrainableParameters:N0} | " +
                $"{m.ModelBytes:N0} | {m.TrainStepMs:F1} | {m.TrainStepRatioVsDeterministic:F2} | {m.PredictImagesPerS:F0} | {m.PredictImagesPerSMLNet:F0} | " +
                $"{(m.PosteriorBuildSeconds is double b ? b.ToString("F2", CultureInfo.InvariantCulture) : "n/a")} |");
        s.AppendLine();
        var baselines = outcome.Baselines;
        s.AppendLine($"Baselines, same architecture, data, seed and S: `mc_dropout` trains one network with dropout (p = {baselines.DropoutRate}, chosen on validation, below) on the input " +
                     "of every Conv2d (whole channels) and Linear layer but the first, for deterministic + mean-field + shared epochs (2DGBNN's passes over the data), " +
                     $"and averages S seeded dropout masks; `deep_ensemble` trains {MethodsBenchmark.EnsembleMembers} deterministic networks (seeds seed, seed + 1, ...) " +
                     "for the deterministic epochs each and averages them, so its S is its number of members; its step is one member's step (it takes " +
                     $"{MethodsBenchmark.EnsembleMembers} times the steps), its trainable parameters and model bytes those of all members.");
        s.AppendLine();
        s.AppendLine("## Targets");
        s.AppendLine();
        s.AppendLine("| target | met | figure |");
        s.AppendLine("|---|---|---|");
        foreach (var t in targets) s.AppendLine($"| {t.Name} | {(t.Met ? "yes" : "**no**")} | {t.Figure} |");
        s.AppendLine();
        s.AppendLine("## Step time, interleaved");
        s.AppendLine();
        s.AppendLine("The `train_step_ms` column is each stage's median over its last epoch (the issue's definition), taken minutes apart, " +
                     "so load from other jobs on a shared machine moves it. Below, the bare step (forward, cross-entropy + KL/N, backward, Adam " +
                     $"on one batch of {batchSize} images) of every method, alternated step by step for 100 rounds; the targets use these ratios.");
        s.AppendLine();
        s.AppendLine("| method | median step ms | ratio to deterministic |");
        s.AppendLine("|---|---|---|");
        foreach (var (name, ms) in outcome.InterleavedStepMs)
            s.AppendLine($"| {name} | {ms:F1} | {ms / outcome.InterleavedStepMs["deterministic"]:F2} |");
        s.AppendLine();
        if (h.Device == "cuda") AppendGpuTable(s, h, outcome);
        s.AppendLine("## Temperature scaling");
        s.AppendLine();
        s.AppendLine("Temperature fitted on the even-numbered test images; ECE before and after on the odd-numbered ones.");
        s.AppendLine();
        s.AppendLine("| method | temperature | ECE before | ECE after |");
        s.AppendLine("|---|---|---|---|");
        foreach (var m in outcome.Methods)
            s.AppendLine($"| {m.Result.Method} | {m.Temperature:F3} | {m.EceBeforeTemperature:F4} | {m.EceAfterTemperature:F4} |");
        s.AppendLine();
        var scales = outcome.Scales;
        s.AppendLine("## Posterior scale, chosen on validation");
        s.AppendLine();
        s.AppendLine($"Each Gaussian method trained (all its stages) on the same {scales.FitImages:N0} training images as the dropout search, its posterior scale tau " +
                     $"(every standard deviation of its scoring draws times tau) chosen by the NLL of the other {scales.ValidationImages:N0}; the model trained on the " +
                     $"whole set scores with that tau ({scales.Seconds:F0} s).");
        s.AppendLine();
        s.AppendLine("| method | tau | validation NLL at 1 | at tau | scales tried |");
        s.AppendLine("|---|---|---|---|---|");
        foreach (var (method, fit) in scales.Fits)
            s.AppendLine($"| {method} | {fit.Scale:G3} | {fit.NllAtOne:F4} | {fit.Nll:F4} | {string.Join(", ", fit.Tried.Select(t => t.Scale.ToString("G3", CultureInfo.InvariantCulture)))} |");
        s.AppendLine();
        s.AppendLine("## MC dropout rate, chosen on validation");
        s.AppendLine();
        s.AppendLine($"MC dropout trained at each rate on {baselines.FitImages:N0} training images, scored at S = {h.Methods.Single(m => m.Method == "mc_dropout").Samples} on the other " +
                     $"{baselines.ValidationImages:N0} ({100 * MethodsBenchmark.DropoutValidationFraction:F0}%, stratified, the run's seed); " +
                     $"the search trains {baselines.DropoutSearch[0].Epochs} epochs per rate (the final model the full budget). Lowest validation NLL wins: p = {baselines.DropoutRate}.");
        s.AppendLine();
        s.AppendLine("| p | epochs | validation NLL | validation accuracy | validation ECE | seconds |");
        s.AppendLine("|---|---|---|---|---|---|");
        foreach (var c in baselines.DropoutSearch)
            s.AppendLine($"| {c.Rate}{(c.Rate == baselines.DropoutRate ? " (chosen)" : "")} | {c.Epochs} | {c.ValidationNll:F4} | {100 * c.ValidationAccuracy:F2}% | {c.ValidationEce:F4} | {c.Seconds:F0} |");
        s.AppendLine();
        s.AppendLine("```");
        s.AppendLine("mc_dropout:");
        s.AppendLine(baselines.McDropoutReport.ToString());
        s.AppendLine("deep_ensemble:");
        s.AppendLine(baselines.EnsembleReport.ToString());
        s.AppendLine("```");
        s.AppendLine();
        s.AppendLine("## Shared posteriors");
        s.AppendLine();
        s.AppendLine("```");
        s.AppendLine("variant shared:");
        s.AppendLine(outcome.SharedReport.ToString());
        s.AppendLine("variant hierarchical:");
        s.AppendLine(outcome.HierarchicalReport.ToString());
        s.AppendLine("```");
        s.AppendLine();
        s.AppendLine("Plots: `reliability-<method>.png`, `risk-coverage.png`, `histogram-entropy-<method>.png`, `histogram-mutual-information-<method>.png`, " +
                     "`posterior-plane.png` (stage-1 points of the largest layer, fitted components as 2-sigma ellipses, outliers in red).");
        return s.ToString();
    }

    /// <summary>The speed figures on the GPU side by side (issue 15's GPU rows): step ratios, prediction against deterministic / S, ML.NET against direct, stage 2.</summary>
    static void AppendGpuTable(StringBuilder s, Header h, MethodsBenchmark.Outcome outcome)
    {
        var det = h.Methods.Single(m => m.Method == "deterministic");
        double detStep = outcome.InterleavedStepMs["deterministic"];
        s.AppendLine($"## On the GPU ({GpuName()})");
        s.AppendLine();
        s.AppendLine("Stage 2 runs on the CPU whatever the device; every other figure is on the GPU, measured in this run.");
        s.AppendLine();
        s.AppendLine("| method | interleaved step ms | step / deterministic | images/s | images/s x S / deterministic | images/s via ML.NET | ML.NET / direct | stage 2 s |");
        s.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var m in h.Methods)
        {
            // A deep ensemble's step is a deterministic member's.
            double step = outcome.InterleavedStepMs.TryGetValue(m.Method, out var measured) ? measured : detStep;
            s.AppendLine($"| {m.Method} | {step:F2} | {step / detStep:F2} | {m.PredictImagesPerS:F0} | {m.PredictImagesPerS * m.Samples / det.PredictImagesPerS:F2} | " +
                         $"{m.PredictImagesPerSMLNet:F0} | {m.MLNetOverDirect:F2} | " +
                         $"{(m.PosteriorBuildSeconds is double b ? b.ToString("F2", CultureInfo.InvariantCulture) : "n/a")} |");
        }
        s.AppendLine();
    }

    /// <summary>The GPU's name from nvidia-smi ("CUDA device" where it cannot be asked).</summary>
    static string GpuName()
    {
        try
        {
            using var smi = Process.Start(new ProcessStartInfo("nvidia-smi", "--query-gpu=name --format=csv,noheader") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (smi is null) return "CUDA device";
            string name = smi.StandardOutput.ReadToEnd().Trim();
            smi.WaitForExit();
            return smi.ExitCode == 0 && name.Length > 0 ? name.Split('\n')[0] : "CUDA device";
        }
        catch (System.ComponentModel.Win32Exception) { return "CUDA device"; }
    }

    internal static string Cpu()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "unknown CPU" : line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { return "unknown CPU"; }
    }

    /// <summary>The checked-out commit, marked "+changes" when the work tree differs; "unknown" outside a git checkout.</summary>
    internal static string Commit()
    {
        string? Git(string arguments)
        {
            try
            {
                using var git = Process.Start(new ProcessStartInfo("git", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
                if (git is null) return null;
                string output = git.StandardOutput.ReadToEnd().Trim();
                git.WaitForExit();
                return git.ExitCode == 0 ? output : null;
            }
            catch (System.ComponentModel.Win32Exception) { return null; }
        }
        string? head = Git("rev-parse --short HEAD");
        if (head is null) return "unknown";
        return string.IsNullOrEmpty(Git("status --porcelain --untracked-files=no")) ? head : head + "+changes";
    }
}
