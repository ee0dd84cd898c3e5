namespace MLNet.Bayesian.Data;

/// <summary>
/// A labelled set of equally sized images held as one contiguous float array (N x C x H x W,
/// values in [0, 1]) with class indices. The in-memory form the readers produce and the trainers consume.
/// </summary>
public sealed class ImageSet
{
    /// <summary>Creates a set; validates that the arrays agree with the shape.</summary>
    public ImageSet(float[] pixels, int[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"Image shape {channels}x{height}x{width} must be positive.");
        if (pixels.Length != (long)labels.Length * channels * height * width)
            throw new ArgumentException($"{pixels.Length} pixel values do not match {labels.Length} images of {channels}x{height}x{width}.");
        for (int i = 0; i < labels.Length; i++)
            if (labels[i] < 0 || labels[i] >= classNames.Count)
                throw new ArgumentException($"Label {labels[i]} of image {i} is outside the {classNames.Count} classes.");
        Pixels = pixels;
        Labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        ClassNames = classNames;
    }

    /// <summary>Pixel values, N x C x H x W, in [0, 1].</summary>
    public float[] Pixels { get; }
    /// <summary>Class index of each image.</summary>
    public int[] Labels { get; }
    /// <summary>Channels per image (1 for gray, 3 for RGB).</summary>
    public int Channels { get; }
    /// <summary>Image height in pixels.</summary>
    public int Height { get; }
    /// <summary>Image width in pixels.</summary>
    public int Width { get; }
    /// <summary>Class names, indexed by label.</summary>
    public IReadOnlyList<string> ClassNames { get; }
    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;
    /// <summary>Values per image (C x H x W).</summary>
    public int ImageSize => Channels * Height * Width;

    /// <summary>Whether each item is a feature vector (C x 1 x 1: a backbone's features or a float-vector column) rather than an image.</summary>
    public bool IsFeatureVectors => Height == 1 && Width == 1;

    /// <summary>
    /// Each channel's mean and standard deviation over the set (for feature vectors: each feature's), the standard deviation
    /// floored at 1e-6 of the largest so that a constant feature divides by a small number, not 0.
    /// </summary>
    public (float[] Mean, float[] Std) ChannelStatistics()
    {
        var sum = new double[Channels];
        var squares = new double[Channels];
        int plane = Height * Width;
        for (int i = 0; i < Count; i++)
        {
            var image = Image(i);
            for (int c = 0; c < Channels; c++)
                foreach (float v in image.Slice(c * plane, plane)) { sum[c] += v; squares[c] += (double)v * v; }
        }
        double n = (double)Count * plane;
        var mean = sum.Select(s => (float)(s / n)).ToArray();
        var std = squares.Select((q, c) => Math.Sqrt(Math.Max(q / n - (double)mean[c] * mean[c], 0))).ToArray();
        double floor = Math.Max(std.DefaultIfEmpty(0).Max() * 1e-6, 1e-12);
        return (mean, std.Select(s => (float)Math.Max(s, floor)).ToArray());
    }

    /// <summary>The pixels of one image.</summary>
    public ReadOnlySpan<float> Image(int index) => Pixels.AsSpan(index * ImageSize, ImageSize);

    /// <summary>A new set holding the given images, in that order.</summary>
    public ImageSet Select(IReadOnlyList<int> indices)
    {
        var pixels = new float[(long)indices.Count * ImageSize];
        var labels = new int[indices.Count];
        for (int i = 0; i < indices.Count; i++)
        {
            Image(indices[i]).CopyTo(pixels.AsSpan(i * ImageSize, ImageSize));
            labels[i] = Labels[indices[i]];
        }
        return new ImageSet(pixels, labels, Channels, Height, Width, ClassNames);
    }

    /// <summary>The first <paramref name="perClass"/> images of every class, in their original order.</summary>
    public ImageSet StratifiedHead(int perClass)
    {
        var taken = new int[ClassNames.Count];
        var indices = new List<int>();
        for (int i = 0; i < Count; i++)
            if (taken[Labels[i]] < perClass) { taken[Labels[i]]++; indices.Add(i); }
        return Select(indices);
    }

    /// <summary>Splits off a random, class-stratified fraction (seeded).</summary>
    public (ImageSet Kept, ImageSet Split) StratifiedSplit(double fraction, int seed)
    {
        if (fraction <= 0 || fraction >= 1) throw new ArgumentOutOfRangeException(nameof(fraction), "must be in (0, 1)");
        var rng = new Random(seed);
        var rest = new List<int>();
        var split = new List<int>();
        for (int c = 0; c < ClassNames.Count; c++)
        {
            var members = Enumerable.Range(0, Count).Where(i => Labels[i] == c).OrderBy(_ => rng.Next()).ToList();
            int n = (int)Math.Round(members.Count * fraction);
            split.AddRange(members.Take(n));
            rest.AddRange(members.Skip(n));
        }
        rest.Sort();
        split.Sort();
        return (Select(rest), Select(split));
    }
}
