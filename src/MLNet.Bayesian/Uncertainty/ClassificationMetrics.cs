namespace MLNet.Bayesian.Uncertainty;

/// <summary>Accuracy and calibration of probabilistic predictions.</summary>
public sealed record ClassificationMetrics(double Accuracy, double Nll, double Ece, double Brier, int Count)
{
    /// <summary>Default number of equal-width confidence bins of the ECE.</summary>
    public const int DefaultEceBins = 15;

    /// <summary>Computes the metrics from N x C probabilities and true labels.</summary>
    public static ClassificationMetrics Compute(ReadOnlySpan<float> probabilities, IReadOnlyList<int> labels, int classes, int eceBins = DefaultEceBins)
    {
        int n = labels.Count;
        if (n == 0) throw new ArgumentException("No predictions to score.");
        if (probabilities.Length != n * classes)
            throw new ArgumentException($"{probabilities.Length} probabilities do not match {n} rows of {classes} classes.");
        double correct = 0, nll = 0, brier = 0;
        var binCount = new double[eceBins]; var binCorrect = new double[eceBins]; var binConfidence = new double[eceBins];
        for (int i = 0; i < n; i++)
        {
            var row = probabilities.Slice(i * classes, classes);
            int label = labels[i];
            if (label < 0 || label >= classes) throw new ArgumentException($"Label {label} of row {i} is outside the {classes} classes.");
            int arg = 0;
            for (int c = 1; c < classes; c++) if (row[c] > row[arg]) arg = c;
            bool hit = arg == label;
            if (hit) correct++;
            nll -= Math.Log(Math.Max(row[label], 1e-12));
            for (int c = 0; c < classes; c++) { double t = (c == label ? 1 : 0) - row[c]; brier += t * t; }
            double confidence = row[arg];
            int bin = Math.Min((int)(confidence * eceBins), eceBins - 1);
            binCount[bin]++; binConfidence[bin] += confidence; if (hit) binCorrect[bin]++;
        }
        double ece = 0;
        for (int b = 0; b < eceBins; b++)
            if (binCount[b] > 0) ece += binCount[b] / n * Math.Abs(binCorrect[b] / binCount[b] - binConfidence[b] / binCount[b]);
        return new ClassificationMetrics(correct / n, nll / n, ece, brier / n, n);
    }

    /// <inheritdoc />
    public override string ToString() => $"accuracy {Accuracy:P2}, NLL {Nll:F4}, ECE {Ece:F4}, Brier {Brier:F4} (n={Count})";
}
