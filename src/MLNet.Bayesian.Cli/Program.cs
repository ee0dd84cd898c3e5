using MLNet.Bayesian.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

// Into a file or a scheduler's log (Slurm, CI) Spectre would fold every line at 80 columns, splitting paths; there,
// lines are as wide as COLUMNS says, else 240.
if (Console.IsOutputRedirected)
    AnsiConsole.Profile.Width = int.TryParse(Environment.GetEnvironmentVariable("COLUMNS"), out int columns) && columns > 0 ? columns : 240;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("mlnet-bayesian");
    config.AddCommand<TrainCommand>("train")
        .WithDescription("Train a 2DGBNN image classifier on a folder of images (one sub-folder per class) or on Fashion-MNIST, and save it as an ML.NET model zip.")
        .WithExample("train", "--data", "images/", "--out", "model.zip");
    config.AddCommand<EvaluateCommand>("evaluate")
        .WithDescription("Evaluate a model on a labelled image folder (and optionally out-of-distribution images); write metrics.json and PNG plots.")
        .WithExample("evaluate", "--model", "model.zip", "--data", "test/", "--ood", "other/", "--report", "report/");
    config.AddCommand<ScoreCommand>("score")
        .WithDescription("Score every image in a folder into a CSV: prediction, probabilities, uncertainty and a needs_review flag; unreadable files get an error row.")
        .WithExample("score", "--model", "model.zip", "--images", "incoming/", "--out", "predictions.csv")
        .WithExample("score", "--model", "model.zip", "--images", "incoming/", "--out", "predictions.csv", "--shard", "0/4");
    config.AddCommand<MergeCommand>("merge")
        .WithDescription("Join the CSV parts of a sharded score run (predictions.part-K-of-N.csv) into one CSV, after checking that every image has exactly one row; exit code 1 and a list when any is missing or duplicated.")
        .WithExample("merge", "--images", "incoming/", "--out", "predictions.csv");
    config.AddCommand<ReviewCommand>("review")
        .WithDescription("Open the rows of a predictions CSV that need review in a web page on localhost: the image, the top classes, why it was flagged; accept, relabel or mark unknown by mouse or keyboard. Decisions go to predictions.decisions.csv as they are made (train --reviewed learns from them). POST /predict scores an image.")
        .WithExample("review", "--model", "model.zip", "--predictions", "predictions.csv", "--images", "incoming/");
});
return app.Run(args);
