namespace MLNet.Bayesian.Backbones;

/// <summary>A pretrained network under the Bayesian head: images become its features, and only the head is trained.</summary>
public enum Backbone
{
    /// <summary>No backbone: the network is trained from scratch on the pixels.</summary>
    None,
    /// <summary>
    /// ImageNet ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 (ML.NET's DnnFeaturizeImage model):
    /// 512 features per RGB image, 224 x 224 by default.
    /// </summary>
    ResNet18ImageNet,
}

/// <summary>What of a backbone is trained.</summary>
public enum BackboneTraining
{
    /// <summary>Nothing: the images become the backbone's pooled features once, and only the head is trained (fast on a CPU).</summary>
    Frozen,
    /// <summary>
    /// Its last stage too (for ResNet-18 the last three blocks, 8.4 million weights): the images become the activations that
    /// enter that stage once, and the stage, initialised from the pretrained weights, is trained with the head through every
    /// stage of 2DGBNN (it becomes Bayesian too). Slower; the way to adapt the features to images far from ImageNet.
    /// </summary>
    LastStage,
}

/// <summary>The names of the backbones on the command line, and their defaults.</summary>
public static class BackboneNames
{
    /// <summary>The command-line name of each backbone (<c>--backbone</c>).</summary>
    public static IReadOnlyDictionary<string, Backbone> ByName { get; } = new Dictionary<string, Backbone>(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = Backbone.None,
        ["resnet18-imagenet"] = Backbone.ResNet18ImageNet,
    };

    /// <summary>The command-line name of each way to train a backbone (<c>--backbone-training</c>).</summary>
    public static IReadOnlyDictionary<string, BackboneTraining> TrainingByName { get; } = new Dictionary<string, BackboneTraining>(StringComparer.OrdinalIgnoreCase)
    {
        ["frozen"] = BackboneTraining.Frozen,
        ["last-stage"] = BackboneTraining.LastStage,
    };

    /// <summary>The command-line name of <paramref name="backbone"/>.</summary>
    public static string NameOf(Backbone backbone) => ByName.First(kv => kv.Value == backbone).Key;

    /// <summary>The input size (height = width) a backbone was trained at, which it gets unless told otherwise.</summary>
    public static int DefaultInputSize(Backbone backbone) => backbone switch
    {
        Backbone.ResNet18ImageNet => 224,
        _ => throw new ArgumentOutOfRangeException(nameof(backbone), backbone, "No backbone has no input size of its own."),
    };
}
