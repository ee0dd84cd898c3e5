namespace ColourPhotos;

/// <summary>One photo to classify, as Model Builder generates it.</summary>
public sealed class ModelInput
{
    /// <summary>Path of the image file (PNG or JPEG, any size, colour or gray).</summary>
    public string ImagePath { get; set; } = "";
    /// <summary>Its class (the folder name) when known; empty when predicting.</summary>
    public string Label { get; set; } = "";
}
