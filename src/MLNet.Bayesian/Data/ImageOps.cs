namespace MLNet.Bayesian.Data;

/// <summary>Pixel-level transforms used to build shifted and out-of-distribution test sets.</summary>
internal static class ImageOps
{
    /// <summary>Bilinear resize (pixel centres aligned, as image libraries do).</summary>
    public static ImageSet Resize(ImageSet set, int height, int width)
    {
        var output = new float[(long)set.Count * set.Channels * height * width];
        float sy = (float)set.Height / height, sx = (float)set.Width / width;
        for (int n = 0; n < set.Count; n++)
            for (int c = 0; c < set.Channels; c++)
            {
                int src = (n * set.Channels + c) * set.Height * set.Width;
                int dst = (n * set.Channels + c) * height * width;
                for (int y = 0; y < height; y++)
                {
                    float fy = Math.Clamp((y + 0.5f) * sy - 0.5f, 0, set.Height - 1);
                    int y0 = (int)fy, y1 = Math.Min(y0 + 1, set.Height - 1);
                    float wy = fy - y0;
                    for (int x = 0; x < width; x++)
                    {
                        float fx = Math.Clamp((x + 0.5f) * sx - 0.5f, 0, set.Width - 1);
                        int x0 = (int)fx, x1 = Math.Min(x0 + 1, set.Width - 1);
                        float wx = fx - x0;
                        float top = set.Pixels[src + y0 * set.Width + x0] * (1 - wx) + set.Pixels[src + y0 * set.Width + x1] * wx;
                        float bottom = set.Pixels[src + y1 * set.Width + x0] * (1 - wx) + set.Pixels[src + y1 * set.Width + x1] * wx;
                        output[dst + y * width + x] = top * (1 - wy) + bottom * wy;
                    }
                }
            }
        return new ImageSet(output, (int[])set.Labels.Clone(), set.Channels, height, width, set.ClassNames);
    }

    /// <summary>Rotates every image about its centre by <paramref name="degrees"/>, clockwise as displayed (rows top to bottom); bilinear, zero fill.</summary>
    public static ImageSet Rotate(ImageSet set, double degrees)
    {
        double a = degrees * Math.PI / 180, cos = Math.Cos(a), sin = Math.Sin(a);
        int h = set.Height, w = set.Width;
        double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0;
        var output = new float[set.Pixels.Length];
        for (int plane = 0; plane < set.Count * set.Channels; plane++)
        {
            int o = plane * h * w;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    double sx = cos * (x - cx) + sin * (y - cy) + cx;
                    double sy = -sin * (x - cx) + cos * (y - cy) + cy;
                    int x0 = (int)Math.Floor(sx), y0 = (int)Math.Floor(sy);
                    double fx = sx - x0, fy = sy - y0, v = 0;
                    for (int dy = 0; dy <= 1; dy++)
                        for (int dx = 0; dx <= 1; dx++)
                        {
                            int xx = x0 + dx, yy = y0 + dy;
                            if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
                            v += set.Pixels[o + yy * w + xx] * (dx == 1 ? fx : 1 - fx) * (dy == 1 ? fy : 1 - fy);
                        }
                    output[o + y * w + x] = (float)v;
                }
        }
        return new ImageSet(output, (int[])set.Labels.Clone(), set.Channels, h, w, set.ClassNames);
    }

    /// <summary>Adds Gaussian noise of the given standard deviation (seeded), clipped to [0, 1].</summary>
    public static ImageSet AddGaussianNoise(ImageSet set, double std, int seed)
    {
        var rng = new Random(seed);
        var output = new float[set.Pixels.Length];
        for (int i = 0; i < output.Length; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            double z = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            output[i] = (float)Math.Clamp(set.Pixels[i] + std * z, 0, 1);
        }
        return new ImageSet(output, (int[])set.Labels.Clone(), set.Channels, set.Height, set.Width, set.ClassNames);
    }
}
