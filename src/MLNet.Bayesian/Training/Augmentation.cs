using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>Batch augmentation: random crop after zero padding, optional horizontal flip. Seeded by the caller's Random.</summary>
internal static class Augmentation
{
    /// <summary>Returns an augmented copy of an N x C x H x W batch.</summary>
    public static Tensor Apply(Tensor batch, int padding, bool flip, Random rng)
    {
        if (padding <= 0 && !flip) return batch;
        long n = batch.shape[0], h = batch.shape[2], w = batch.shape[3];
        var padded = padding > 0 ? nn.functional.pad(batch, new long[] { padding, padding, padding, padding }) : batch;
        var images = new Tensor[n];
        for (long i = 0; i < n; i++)
        {
            int dy = padding > 0 ? rng.Next(2 * padding + 1) : 0;
            int dx = padding > 0 ? rng.Next(2 * padding + 1) : 0;
            var image = padded[i].narrow(1, dy, h).narrow(2, dx, w);
            if (flip && rng.Next(2) == 1) image = image.flip(2);
            images[i] = image;
        }
        return stack(images);
    }
}
