namespace MLNet.Bayesian.Persistence;

/// <summary>What the trainer's image column holds.</summary>
internal enum ImageColumnKind
{
    /// <summary>An MLImage (mlContext.Transforms.LoadImages).</summary>
    Image,
    /// <summary>Encoded image bytes (LoadRawImageBytes); decoded by this library, so models trained on it cannot be saved.</summary>
    Bytes,
    /// <summary>A known-size float vector of planar C x H x W pixels (ExtractPixels).</summary>
    Vector,
}

/// <summary>How the image column becomes the network's input: the column, its kind and the shape the network sees.</summary>
internal sealed record ImageInputSpec(string ColumnName, ImageColumnKind Kind, int Channels, int Height, int Width, float VectorPixelScale)
{
    /// <summary>Values per image (C x H x W).</summary>
    public int Size => Channels * Height * Width;
}
