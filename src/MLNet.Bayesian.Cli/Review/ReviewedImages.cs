using Microsoft.ML;
using MLNet.Bayesian.Data;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>
/// What <c>train --reviewed</c> takes from decisions files: the images a person labelled (accepted or relabelled), which
/// join the training data, and those marked unknown, which never train and instead measure how much of the unfamiliar
/// the new review rule sends to a person. Also what the old model did on them (from the decisions: its predicted label
/// and whether it flagged the row), for the before/after report.
/// </summary>
internal sealed class ReviewedImages
{
    ReviewedImages(IReadOnlyList<ImageFolderEntry> labelled, IReadOnlyList<ReviewDecision> labelledDecisions, IReadOnlyList<ReviewDecision> unknown)
    {
        Labelled = labelled; _labelledDecisions = labelledDecisions; Unknown = unknown;
    }

    readonly IReadOnlyList<ReviewDecision> _labelledDecisions;

    /// <summary>The accepted and relabelled images with the class the person gave.</summary>
    public IReadOnlyList<ImageFolderEntry> Labelled { get; }
    /// <summary>The images marked unknown.</summary>
    public IReadOnlyList<ReviewDecision> Unknown { get; }

    /// <summary>The old model's accuracy on <see cref="Labelled"/> (its predicted label against the person's); NaN for none.</summary>
    public double AccuracyBefore => _labelledDecisions.Count == 0 ? double.NaN : _labelledDecisions.Count(d => d.PredictedLabel == d.Label) / (double)_labelledDecisions.Count;
    /// <summary>The share of <see cref="Unknown"/> the old model's rule flagged; NaN for none.</summary>
    public double UnknownFlaggedBefore => Unknown.Count == 0 ? double.NaN : Unknown.Count(d => d.Flagged) / (double)Unknown.Count;

    /// <summary>
    /// Reads decisions files. Every labelled image must still exist and carry one of <paramref name="classes"/>; an
    /// error names the file, the image and the fix, rather than training on less than the person decided.
    /// </summary>
    public static ReviewedImages Read(IEnumerable<string> files, IReadOnlySet<string> classes)
    {
        var byImage = new Dictionary<string, ReviewDecision>(StringComparer.Ordinal);
        foreach (string file in files)
            foreach (var d in DecisionLog.Read(file))
            {
                if (d.Image.Length == 0)
                    throw new InvalidDataException($"--reviewed '{file}': '{d.Path}' has no image file (its path led outside the scored folder); remove its line.");
                if (d.Verdict != ReviewVerdict.Unknown && !classes.Contains(d.Label))
                    throw new InvalidDataException($"--reviewed '{file}': '{d.Path}' is labelled '{d.Label}', which is not a class of --data ({string.Join(", ", classes.Order())}); " +
                                                   "add a folder for it, or train on the data the reviewed model was trained on.");
                if (!File.Exists(d.Image))
                    throw new FileNotFoundException($"--reviewed '{file}': the image of '{d.Path}' is no longer at {d.Image}; put it back or remove its line.", d.Image);
                byImage[d.Image] = d;
            }
        var labelled = byImage.Values.Where(d => d.Verdict != ReviewVerdict.Unknown).ToList();
        return new ReviewedImages(labelled.Select(d => new ImageFolderEntry { ImagePath = d.Image, Label = d.Label }).ToList(), labelled,
            byImage.Values.Where(d => d.Verdict == ReviewVerdict.Unknown).ToList());
    }

    /// <summary>The training entries with the labelled images added; a reviewed image already among them takes the person's label.</summary>
    public List<ImageFolderEntry> AddTo(IEnumerable<ImageFolderEntry> entries)
    {
        var reviewed = Labelled.ToDictionary(e => Path.GetFullPath(e.ImagePath), StringComparer.Ordinal);
        var unknown = Unknown.Select(d => Path.GetFullPath(d.Image)).ToHashSet(StringComparer.Ordinal);
        // An image marked unknown leaves the training data too: it measures the rule, so it must not also train.
        var kept = entries.Where(e => !reviewed.ContainsKey(Path.GetFullPath(e.ImagePath)) && !unknown.Contains(Path.GetFullPath(e.ImagePath))).ToList();
        kept.AddRange(reviewed.Values);
        return kept;
    }

    /// <summary>
    /// The new model on the reviewed images: its accuracy on <see cref="Labelled"/> (images it trained on, unless they fell
    /// into the validation share) and the share of <see cref="Unknown"/> its rule flags.
    /// </summary>
    public (double Accuracy, double UnknownFlagged) Measure(MLContext ml, ITransformer pipeline, IReadOnlyList<string> classes, ReviewRule rule)
    {
        double accuracy = double.NaN, flagged = double.NaN;
        if (Labelled.Count > 0)
        {
            var rows = ScoredImage.ReadAll(pipeline.Transform(ImageInputs.Load(ml, Labelled)), sets: false);
            accuracy = rows.Zip(Labelled).Count(x => classes[(int)x.First.PredictedLabel - 1] == x.Second.Label) / (double)rows.Count;
        }
        if (Unknown.Count > 0)
        {
            var entries = Unknown.Select(d => new ImageFolderEntry { ImagePath = d.Image, Label = "" });
            var rows = ScoredImage.ReadAll(pipeline.Transform(ImageInputs.Load(ml, entries)), sets: false);
            flagged = rows.Count(r => rule.NeedsReview(s => r.Scores[s])) / (double)rows.Count;
        }
        return (accuracy, flagged);
    }
}
