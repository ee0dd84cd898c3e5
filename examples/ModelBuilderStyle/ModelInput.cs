namespace ModelBuilderStyle;

/// <summary>One image to classify, as Model Builder generates it.</summary>
public sealed class ModelInput
{
    /// <summary>Path of the image file.</summary>
    public string ImagePath { get; set; } = "";
    /// <summary>Its class (the folder name) when known; empty when predicting.</summary>
    public string Label { get; set; } = "";
}
