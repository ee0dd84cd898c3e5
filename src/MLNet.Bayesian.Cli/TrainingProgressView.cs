using MLNet.Bayesian.Training;
using Spectre.Console;

namespace MLNet.Bayesian.Cli;

/// <summary>
/// How <c>train</c> shows where it stands: in a terminal, one live bar for the whole run (stage, epoch, batch, elapsed,
/// time left) with the log lines above it; into a file or log, a plain line at the first batch and at every tenth of
/// the run, never a redrawn bar.
/// </summary>
internal sealed class TrainingProgressView
{
    readonly bool _interactive;
    ProgressTask? _task;
    int _reportedTenths = -1;

    public TrainingProgressView(bool interactive) => _interactive = interactive;

    /// <summary>Whether the console is a terminal that can redraw a bar.</summary>
    public static bool ConsoleIsInteractive => AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected;

    /// <summary>Runs <paramref name="train"/> with the view attached; <paramref name="train"/> gets the callback to call per batch.</summary>
    public T Run<T>(Func<Action<TrainingProgress>, T> train)
    {
        if (!_interactive) return train(Plain);
        T result = default!;
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                _task = context.AddTask("training: starting", maxValue: 1);
                result = train(p =>
                {
                    _task.MaxValue = p.BatchesPlanned;
                    _task.Value = p.BatchesDone;
                    _task.Description = $"stage {p.StageNumber} {p.Stage} epoch {p.Epoch}/{p.Epochs} batch {p.Batch}/{p.Batches}";
                });
                _task.Value = _task.MaxValue;
                _task.Description = "training: done";
            });
        return result;
    }

    /// <summary>
    /// A log line from the trainer (epochs, phases), shown above the bar or as a plain line. An epoch line puts its
    /// validation figures on a second, indented line, and in a terminal no line is wider than the terminal: a line that
    /// wraps there would confuse the redrawn bar below it.
    /// </summary>
    public void Line(string text)
    {
        if (_task is not null && text.StartsWith("stage 2: building", StringComparison.Ordinal)) _task.Description = "stage 2 building the shared posterior";
        // A message may hold several lines (the training report): each is cut on its own.
        foreach (string line in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var parts = line.Split("; validation ", 2);
            Write(parts[0]);
            if (parts.Length == 2) Write("    validation " + parts[1]);
        }
    }

    void Write(string line)
    {
        int width = AnsiConsole.Profile.Width;
        if (_interactive && width > 20 && line.Length >= width)
        {
            // Wrap rather than cut: indented continuation lines, each narrower than the terminal.
            int at = line.LastIndexOf(' ', Math.Min(line.Length - 1, width - 2));
            if (at <= 4) at = width - 2;
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line[..at])}[/]");
            Write("      " + line[at..].TrimStart());
            return;
        }
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]");
    }

    void Plain(TrainingProgress p)
    {
        int tenths = (int)(p.Fraction * 10);
        if (tenths <= _reportedTenths) return;
        _reportedTenths = tenths;
        Console.WriteLine($"training {p.Fraction:P0}: stage {p.StageNumber} ({p.Stage}) epoch {p.Epoch}/{p.Epochs} batch {p.Batch}/{p.Batches}, " +
                          $"{Format(p.Elapsed)} elapsed, about {Format(p.Remaining)} left");
    }

    static string Format(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours} h {t.Minutes:D2} min" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes} min {t.Seconds:D2} s" : $"{t.TotalSeconds:F0} s";
}
