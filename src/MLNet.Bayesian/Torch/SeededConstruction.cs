using static TorchSharp.torch;

namespace MLNet.Bayesian.Torch;

/// <summary>
/// Builds a network whose initial weights follow from a seed. TorchSharp's layers draw their initial weights from
/// LibTorch's one global generator and take no generator of their own, so seeding it and building must happen as one
/// step: two trainers in one process that seed and build at the same moment would otherwise interleave their draws,
/// and neither would get the weights its seed promises. Building is short; everything random after it (training's
/// posterior draws, dropout masks) comes from the trainer's own generator (<see cref="NoiseSource.Seeded"/>).
/// The lock orders this library's builds only: application code that draws from the global generator on another thread
/// at the moment a network is built still moves its initial weights.
/// </summary>
internal static class SeededConstruction
{
    static readonly object Gate = new();

    /// <summary>Seeds LibTorch's global generator with <paramref name="seed"/> and runs <paramref name="build"/>, with no other build in between.</summary>
    public static T Build<T>(long seed, Func<T> build)
    {
        ArgumentNullException.ThrowIfNull(build);
        lock (Gate)
        {
            random.manual_seed(seed);
            return build();
        }
    }
}
