using System.ComponentModel;
using System.Text;
using MLNet.Bayesian.Cli.Sharding;
using MLNet.Bayesian.Data;
using Spectre.Console;
using Spectre.Console.Cli;
using MLNet.Bayesian.Persistence;

namespace MLNet.Bayesian.Cli.Commands;

/// <summary>
/// Joins the CSV parts of a sharded <c>score</c> into one CSV, after checking that every image of the folder has
/// exactly one row across the parts. Exit code 0 when it wrote the CSV; 1 when anything is missing, duplicated or
/// torn, with every problem listed (on the console, and all of them in <c>&lt;out&gt;.problems.txt</c>) and no CSV left
/// (a merged CSV of an earlier run is removed: it no longer matches the parts).
/// </summary>
internal sealed class MergeCommand : Command<MergeCommand.Settings>
{
    const int ShownProblems = 20;

    public sealed class Settings : CommandSettings
    {
        [CommandOption("--images <FOLDER>"), Description("The folder that was scored (every image in it must have exactly one row). Required.")]
        public string Images { get; set; } = "";

        [CommandOption("--out <CSV>"), Description("The merged CSV; its parts are read from beside it (predictions.part-K-of-N.csv for predictions.csv)."), DefaultValue("predictions.csv")]
        public string Out { get; set; } = "predictions.csv";

        [CommandOption("--shards <N>"), Description("The shard count of the run. Default: the N of the parts found (an error when parts of several counts are there).")]
        public int? Shards { get; set; }

        public override ValidationResult Validate()
        {
            if (!Directory.Exists(Images)) return ValidationResult.Error($"--images: folder '{Images}' does not exist.");
            return Shards is < 1 ? ValidationResult.Error("--shards must be at least 1.") : ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellation)
    {
        string root = Path.GetFullPath(settings.Images);
        var paths = ImageFolder.ListImageFiles(root).Select(f => Path.GetRelativePath(root, f)).ToList();
        var check = PartsCheck.Run(settings.Out, settings.Images, paths, settings.Shards);
        string problemsFile = settings.Out + ".problems.txt";
        if (Path.GetDirectoryName(Path.GetFullPath(settings.Out)) is { } folder) Directory.CreateDirectory(folder);
        if (check.Problems.Count > 0)
        {
            AtomicFile.WriteAllLines(problemsFile, check.Problems);
            // A merged CSV of an earlier, complete run would now be read as the answer: it no longer is.
            if (File.Exists(settings.Out))
            {
                File.Delete(settings.Out);
                File.Delete(PredictionsCsv.ModelFile(settings.Out));
                AnsiConsole.MarkupLine($"[yellow]removed the earlier {Markup.Escape(settings.Out)}: it no longer matches the parts[/]");
            }
            AnsiConsole.MarkupLine($"[red]{check.Problems.Count} problem(s); {Markup.Escape(settings.Out)} was not written:[/]");
            // Plain writes: Spectre would fold long paths at the console width.
            foreach (string problem in check.Problems.Take(ShownProblems)) Console.WriteLine("  " + problem);
            if (check.Problems.Count > ShownProblems) Console.WriteLine($"  ... and {check.Problems.Count - ShownProblems} more");
            AnsiConsole.MarkupLine($"every problem: {Markup.Escape(problemsFile)}");
            // A line of its own, so that a script (eng/slurm/score-array.sh) can submit exactly these shards again.
            if (check.ShardsToRunAgain.Count > 0) Console.WriteLine($"shards to run again: {string.Join(" ", check.ShardsToRunAgain)}");
            return 1;
        }
        if (File.Exists(problemsFile)) File.Delete(problemsFile);

        // Rows in the folder's order, as a single score run writes them; written beside the target and renamed, so
        // that a reader never sees half a file.
        AtomicFile.Write(settings.Out, temporary =>
        {
            using var writer = new StreamWriter(temporary, append: false, new UTF8Encoding(false));
            writer.NewLine = "\n";
            writer.WriteLine(check.Header);
            foreach (string path in paths) writer.WriteLine(check.Rows[path]);
        });
        if (check.Model is { } model) AtomicFile.WriteAllText(PredictionsCsv.ModelFile(settings.Out), model + "\n");
        AnsiConsole.MarkupLine($"{paths.Count} images, one row each from {check.Count} parts ({check.ErrorRows} error rows) -> {Markup.Escape(settings.Out)}");
        return 0;
    }
}
