namespace MLNet.Bayesian.MLNetIntegration;

/// <summary>Colour handling of the trainer's input images.</summary>
public enum ImageColorMode
{
    /// <summary>Gray when every pixel of the first training image has R = G = B, else RGB.</summary>
    Auto,
    /// <summary>One channel (the mean of R, G and B for colour input).</summary>
    Gray,
    /// <summary>Three channels R, G, B.</summary>
    Rgb,
}
