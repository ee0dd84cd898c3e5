using MLNet.Bayesian.Torch;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Architectures;

/// <summary>
/// A small Vision Transformer (Dosovitskiy et al. 2021): patch embedding by a strided convolution, a class
/// token, learned position embeddings, pre-norm encoder blocks whose attention and MLP are built from
/// Linear layers (so that every projection becomes Bayesian), and a linear head on the class token.
/// </summary>
public sealed class SmallVit : Module<Tensor, Tensor>
{
    readonly Module<Tensor, Tensor> patch;
    readonly Module<Tensor, Tensor> blocks;
    readonly Module<Tensor, Tensor> norm;
    readonly Module<Tensor, Tensor> head;
    readonly TorchSharp.Modules.Parameter cls_token;
    readonly TorchSharp.Modules.Parameter position;

    /// <summary>Creates the network for square-ish images whose sides are multiples of <paramref name="patchSize"/>.</summary>
    public SmallVit(int channels, int height, int width, int classes, int patchSize = 4, int dim = 64, int depth = 4, int heads = 4)
        : base(nameof(SmallVit))
    {
        if (height % patchSize != 0 || width % patchSize != 0)
            throw new ArgumentException($"Image size {height}x{width} is not a multiple of the patch size {patchSize}.");
        int tokens = height / patchSize * (width / patchSize) + 1;
        patch = Conv2d(channels, dim, patchSize, stride: patchSize);
        blocks = Sequential(Enumerable.Range(0, depth).Select(_ => (Module<Tensor, Tensor>)new EncoderBlock(dim, heads)).ToList());
        norm = LayerNorm(dim);
        head = Linear(dim, classes);
        cls_token = new TorchSharp.Modules.Parameter(zeros(1, 1, dim));
        position = new TorchSharp.Modules.Parameter(randn(1, tokens, dim) * 0.02);
        RegisterComponents();
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor input)
    {
        var x = patch.call(input).flatten(2).transpose(1, 2);            // N x patches x dim
        x = cat(new[] { cls_token.expand(x.shape[0], -1, -1), x }, 1).Plus(position);
        x = norm.call(blocks.call(x));
        return head.call(x.select(1, 0));
    }

    sealed class EncoderBlock : Module<Tensor, Tensor>
    {
        readonly Module<Tensor, Tensor> norm1, qkv, proj, norm2, mlp;
        readonly int _heads;

        public EncoderBlock(int dim, int heads) : base(nameof(EncoderBlock))
        {
            _heads = heads;
            norm1 = LayerNorm(dim);
            qkv = Linear(dim, 3 * dim);
            proj = Linear(dim, dim);
            norm2 = LayerNorm(dim);
            mlp = Sequential(Linear(dim, 2 * dim), GELU(), Linear(2 * dim, dim));
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            long n = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / _heads;
            var parts = qkv.call(norm1.call(x)).view(n, t, 3, _heads, hd).permute(2, 0, 3, 1, 4); // 3 x N x heads x T x hd
            var attention = functional.softmax(parts[0].matmul(parts[1].transpose(-2, -1)) * ScalarSafeOps.Constant(1 / Math.Sqrt(hd), x), -1);
            var mixed = attention.matmul(parts[2]).transpose(1, 2).reshape(n, t, d);
            x = x.Plus(proj.call(mixed));
            return x.Plus(mlp.call(norm2.call(x)));
        }
    }
}
