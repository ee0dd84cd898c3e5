using System.Globalization;
using System.Text;

namespace MLNet.Bayesian.Data;

/// <summary>
/// Reads scikit-learn's 8x8 handwritten digits (digits.csv[.gz]: 64 values in 0..16, then the label),
/// the out-of-distribution set of this project. Ink is high, ground is 0: the same polarity as Fashion-MNIST.
/// </summary>
public static class DigitsCsvReader
{
    /// <summary>Where Debian's python3-sklearn installs the file.</summary>
    public const string DebianPath = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

    static readonly string[] DigitNames = Enumerable.Range(0, 10).Select(i => i.ToString(CultureInfo.InvariantCulture)).ToArray();

    /// <summary>Reads the file as 8x8 gray images scaled to [0, 1].</summary>
    public static ImageSet Read(string path)
    {
        string text = Encoding.ASCII.GetString(IdxReader.ReadAllBytesMaybeGzip(path));
        var pixels = new List<float>();
        var labels = new List<int>();
        int row = 0;
        foreach (string rawLine in text.Split('\n'))
        {
            string line = rawLine.Trim();
            row++;
            if (line.Length == 0) continue;
            string[] fields = line.Split(',');
            if (fields.Length != 65)
                throw new InvalidDataException($"'{path}' line {row}: expected 65 comma-separated values (64 pixels and a label), found {fields.Length}.");
            for (int i = 0; i < 65; i++)
            {
                if (!double.TryParse(fields[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || v < 0 || v > 16 || v != Math.Floor(v))
                    throw new InvalidDataException($"'{path}' line {row}, column {i + 1}: '{fields[i]}' is not an integer in 0..16.");
                if (i < 64) pixels.Add((float)(v / 16.0));
                else if (v > 9) throw new InvalidDataException($"'{path}' line {row}: label {v} is not a digit.");
                else labels.Add((int)v);
            }
        }
        if (labels.Count == 0) throw new InvalidDataException($"'{path}' holds no rows.");
        return new ImageSet(pixels.ToArray(), labels.ToArray(), 1, 8, 8, DigitNames);
    }

    /// <summary>Reads the file and resizes every image to <paramref name="size"/> x <paramref name="size"/>.</summary>
    public static ImageSet ReadResized(string path, int size = 28) => ImageOps.Resize(Read(path), size, size);
}
