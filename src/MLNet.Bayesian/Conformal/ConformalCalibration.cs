using System.Globalization;
using MLNet.Bayesian.Uncertainty;

namespace MLNet.Bayesian.Conformal;

/// <summary>
/// A fitted split-conformal calibration (immutable): the conformity score's settings and the threshold, the
/// ceil((n + 1) * Coverage)-th smallest score of n labelled calibration rows the model did not train on. For a new
/// row exchangeable with them, the set of classes whose score is at most the threshold holds the true class with
/// probability at least Coverage (exactly Coverage in expectation when randomised, at most Coverage + 1 / (n + 1)
/// for continuous scores). A set of more than one class, or an empty one, is a row to review.
/// </summary>
public sealed class ConformalCalibration
{
    /// <summary>Settings of <see cref="Fit(IReadOnlyList{float}, int, IReadOnlyList{int}, Options)"/>.</summary>
    public sealed class Options
    {
        /// <summary>The conformity score: LAC (default), APS or RAPS.</summary>
        public ConformalMethod Method = ConformalMethod.Lac;
        /// <summary>Nominal coverage 1 - alpha, in (0, 1): the probability that a set holds the true class.</summary>
        public double Coverage = 0.9;
        /// <summary>RAPS only: the penalty per rank beyond <see cref="KReg"/> (0 makes RAPS equal to APS).</summary>
        public double Lambda = 0.01;
        /// <summary>RAPS only: the number of top classes that carry no penalty, at least 1.</summary>
        public int KReg = 2;
        /// <summary>
        /// APS and RAPS only: whether the label's own probability enters the score times a uniform draw (see
        /// <see cref="ConformalUniform"/>). Randomised sets reach the coverage exactly in expectation and can be empty;
        /// deterministic sets (the default) over-cover, by more when the top probabilities are high, and agree between
        /// the in-memory and the saved model. LAC's score is continuous and needs no draw: it refuses true.
        /// </summary>
        public bool Randomized;
        /// <summary>Seed of the per-row uniform draws (randomised sets only).</summary>
        public int Seed = 1;

        /// <summary>Throws an error naming the first option out of range.</summary>
        public void Validate()
        {
            OptionCheck.Defined(nameof(Method), Method);
            if (!double.IsFinite(Coverage) || Coverage <= 0 || Coverage >= 1)
                throw new ArgumentOutOfRangeException(nameof(Coverage), Coverage,
                    $"Coverage is {Coverage.ToString("R", CultureInfo.InvariantCulture)}; it must be strictly between 0 and 1 (0.9 asks for sets that hold the true class 90% of the time).");
            if (Randomized && Method == ConformalMethod.Lac)
                throw new ArgumentException("Randomized is for the APS and RAPS scores: LAC's score (1 - p of the label) is continuous, so its sets reach the coverage " +
                    "without a draw. Set Randomized = false, or Method = ConformalMethod.Aps or Raps.", nameof(Randomized));
            OptionCheck.NonNegative(nameof(Lambda), Lambda);
            OptionCheck.AtLeast(nameof(KReg), KReg, 1);
        }
    }

    ConformalCalibration(ConformalMethod method, double coverage, double lambda, int kReg, bool randomized, int seed, int classes, int calibrationRows, double threshold)
    {
        Method = method; Coverage = coverage; Lambda = lambda; KReg = kReg; Randomized = randomized; Seed = seed;
        Classes = classes; CalibrationRows = calibrationRows; Threshold = threshold;
    }

    /// <summary>The conformity score.</summary>
    public ConformalMethod Method { get; }
    /// <summary>Nominal coverage.</summary>
    public double Coverage { get; }
    /// <summary>RAPS penalty per rank beyond <see cref="KReg"/>.</summary>
    public double Lambda { get; }
    /// <summary>RAPS: top classes without penalty.</summary>
    public int KReg { get; }
    /// <summary>Whether the sets are randomised.</summary>
    public bool Randomized { get; }
    /// <summary>Seed of the per-row uniform draws.</summary>
    public int Seed { get; }
    /// <summary>Number of classes.</summary>
    public int Classes { get; }
    /// <summary>Number of calibration rows the threshold came from.</summary>
    public int CalibrationRows { get; }
    /// <summary>The calibrated threshold on the conformity score.</summary>
    public double Threshold { get; }

    /// <summary>
    /// Fits the threshold on <paramref name="probabilities"/> (n rows of <paramref name="classes"/>, row-major) and
    /// their true classes <paramref name="labels"/> (0-based). The rows must not have been used to train the model.
    /// </summary>
    public static ConformalCalibration Fit(IReadOnlyList<float> probabilities, int classes, IReadOnlyList<int> labels, Options? options = null)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(labels);
        options ??= new Options();
        options.Validate();
        OptionCheck.AtLeast(nameof(classes), classes, 2);
        int n = labels.Count;
        if (probabilities.Count != (long)n * classes)
            throw new ArgumentException($"{probabilities.Count} probabilities were given for {n} labels of {classes} classes; expected {(long)n * classes}.", nameof(probabilities));
        long index = ConformalScore.QuantileIndex(n, options.Coverage);
        if (index > n)
            throw new ArgumentException($"{n} calibration rows are too few for Coverage {options.Coverage.ToString(CultureInfo.InvariantCulture)}: " +
                $"split conformal needs ceil((n + 1) * Coverage) <= n, that is at least {MinimumRows(options.Coverage)} rows. Give more calibration rows or lower Coverage.", nameof(labels));
        var row = new float[classes];
        var scores = new double[n];
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < classes; c++) row[c] = probabilities[i * classes + c];
            int label = labels[i];
            if (label < 0 || label >= classes)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Calibration row {i} has label {label}; labels must be class indices 0 to {classes - 1}.");
            foreach (float p in row)
                if (!float.IsFinite(p))
                    throw new ArgumentException($"Calibration row {i} has a probability that is not a finite number.", nameof(probabilities));
            double u = options.Randomized ? ConformalUniform.Of(row, options.Seed) : 1;
            scores[i] = ConformalScore.Score(row, label, options.Method, options.Lambda, options.KReg, u);
        }
        Array.Sort(scores);
        return new ConformalCalibration(options.Method, options.Coverage, options.Lambda, options.KReg, options.Randomized, options.Seed,
            classes, n, scores[index - 1]);
    }

    /// <summary>Fits on a scored batch (<see cref="PredictiveDistribution.Probabilities"/>) and its 0-based labels.</summary>
    public static ConformalCalibration Fit(PredictiveDistribution scores, IReadOnlyList<int> labels, Options? options = null)
    {
        ArgumentNullException.ThrowIfNull(scores);
        return Fit(scores.Probabilities, scores.Classes, labels, options);
    }

    /// <summary>The fewest calibration rows that support <paramref name="coverage"/>.</summary>
    public static int MinimumRows(double coverage)
    {
        int n = 1;
        while (ConformalScore.QuantileIndex(n, coverage) > n) n++;
        return n;
    }

    /// <summary>
    /// The prediction set of one row: <paramref name="inSet"/>[c] is whether class c is in it (K entries); returns
    /// the set's size.
    /// </summary>
    public int PredictionSet(ReadOnlySpan<float> probabilities, Span<bool> inSet)
    {
        if (probabilities.Length != Classes || inSet.Length != Classes)
            throw new ArgumentException($"The calibration is for {Classes} classes; the row has {probabilities.Length} probabilities and the set {inSet.Length} entries.");
        double u = Randomized ? ConformalUniform.Of(probabilities, Seed) : 1;
        return ConformalScore.Set(probabilities, Threshold, Method, Lambda, KReg, u, Randomized, inSet);
    }

    /// <summary>The prediction set of row <paramref name="index"/> of a scored batch, as class indices in order of probability.</summary>
    public IReadOnlyList<int> PredictionSet(PredictiveDistribution scores, int index)
    {
        ArgumentNullException.ThrowIfNull(scores);
        var row = scores.Row(index);
        var inSet = new bool[Classes];
        PredictionSet(row, inSet);
        var order = new int[Classes];
        ConformalScore.Rank(row, order);
        return order.Where(c => inSet[c]).ToArray();
    }

    /// <summary>
    /// Empirical coverage (share of rows whose set holds the label), mean set size and the shares of empty and
    /// multi-class sets on labelled rows (row-major probabilities, 0-based labels).
    /// </summary>
    public ConformalEvaluation Evaluate(IReadOnlyList<float> probabilities, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(probabilities);
        ArgumentNullException.ThrowIfNull(labels);
        int n = labels.Count;
        if (n == 0) throw new ArgumentException("Coverage needs at least one labelled row.", nameof(labels));
        if (probabilities.Count != (long)n * Classes)
            throw new ArgumentException($"{probabilities.Count} probabilities were given for {n} labels of {Classes} classes.", nameof(probabilities));
        var row = new float[Classes];
        var inSet = new bool[Classes];
        long covered = 0, sizes = 0, empty = 0, several = 0;
        for (int i = 0; i < n; i++)
        {
            for (int c = 0; c < Classes; c++) row[c] = probabilities[i * Classes + c];
            int size = PredictionSet(row, inSet);
            if (labels[i] < 0 || labels[i] >= Classes)
                throw new ArgumentOutOfRangeException(nameof(labels), labels[i], $"Row {i} has label {labels[i]}; labels must be class indices 0 to {Classes - 1}.");
            if (inSet[labels[i]]) covered++;
            sizes += size;
            if (size == 0) empty++;
            if (size > 1) several++;
        }
        return new ConformalEvaluation(n, (double)covered / n, (double)sizes / n, (double)empty / n, (double)several / n);
    }

    /// <summary>The settings and threshold as numbers, in the order <see cref="FromParameters"/> reads them (the saved model carries them).</summary>
    internal double[] ToParameters() => new[] { 1.0, (double)Method, Coverage, Lambda, KReg, Randomized ? 1 : 0, Seed, Classes, CalibrationRows, Threshold };

    /// <summary>Reads <see cref="ToParameters"/>; the first number is the layout's version.</summary>
    internal static ConformalCalibration FromParameters(ReadOnlySpan<double> p)
    {
        if (p.Length != 10 || p[0] != 1.0)
            throw new InvalidDataException($"The saved conformal calibration has {p.Length} numbers (version {(p.Length > 0 ? p[0] : double.NaN)}); this version reads 10 numbers of version 1.");
        return new ConformalCalibration((ConformalMethod)(int)p[1], p[2], p[3], (int)p[4], p[5] != 0, (int)p[6], (int)p[7], (int)p[8], p[9]);
    }
}

/// <summary>How conformal sets did on labelled rows.</summary>
/// <param name="Rows">Rows evaluated.</param>
/// <param name="Coverage">Share of rows whose set holds the true class.</param>
/// <param name="MeanSetSize">Mean number of classes per set.</param>
/// <param name="EmptyShare">Share of empty sets.</param>
/// <param name="MultiClassShare">Share of sets with more than one class.</param>
public sealed record ConformalEvaluation(int Rows, double Coverage, double MeanSetSize, double EmptyShare, double MultiClassShare);
