namespace MLNet.Bayesian.Uncertainty;

/// <summary>
/// Post-hoc calibration by one temperature T fitted on validation data (Guo et al. 2017): probabilities
/// become softmax(log p / T). Works on the posterior-mean probabilities, so it applies to any model here.
/// </summary>
internal sealed class TemperatureScaling
{
    TemperatureScaling(double temperature) => Temperature = temperature;

    /// <summary>The fitted temperature (above 1 softens overconfident predictions).</summary>
    public double Temperature { get; }

    /// <summary>Fits T by minimising validation NLL (golden-section search on log T in [-3, 3]).</summary>
    public static TemperatureScaling Fit(ReadOnlySpan<float> probabilities, IReadOnlyList<int> labels, int classes)
    {
        var p = probabilities.ToArray();
        double Nll(double logT) => ClassificationMetrics.Compute(Apply(p, classes, Math.Exp(logT)), labels, classes).Nll;
        double a = -3, b = 3, phi = (Math.Sqrt(5) - 1) / 2;
        double c = b - phi * (b - a), d = a + phi * (b - a), fc = Nll(c), fd = Nll(d);
        for (int i = 0; i < 60; i++)
        {
            if (fc < fd) { b = d; d = c; fd = fc; c = b - phi * (b - a); fc = Nll(c); }
            else { a = c; c = d; fc = fd; d = a + phi * (b - a); fd = Nll(d); }
        }
        return new TemperatureScaling(Math.Exp((a + b) / 2));
    }

    /// <summary>Applies the temperature to N x C probabilities.</summary>
    public float[] Apply(ReadOnlySpan<float> probabilities, int classes) => Apply(probabilities.ToArray(), classes, Temperature);

    static float[] Apply(float[] probabilities, int classes, double temperature)
    {
        var output = new float[probabilities.Length];
        var logits = new double[classes];
        for (int row = 0; row < probabilities.Length / classes; row++)
        {
            double max = double.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                logits[c] = Math.Log(Math.Max(probabilities[row * classes + c], 1e-30)) / temperature;
                max = Math.Max(max, logits[c]);
            }
            double sum = 0;
            for (int c = 0; c < classes; c++) { logits[c] = Math.Exp(logits[c] - max); sum += logits[c]; }
            for (int c = 0; c < classes; c++) output[row * classes + c] = (float)(logits[c] / sum);
        }
        return output;
    }
}
