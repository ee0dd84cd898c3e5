using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace MLNet.Bayesian.Architectures;

/// <summary>
/// A small Vision Transformer (Dosovitskiy et al. 2021): patch embedding by a strided convolution, a class
/// token, learned position embeddings, pre-norm encoder blocks whose attention and MLP are built from
/// Linear layers (so that every projection becomes Bayesian), and a linear head on the class token.
/// </summary>
public sealed class SmallVit : Module<Tensor, Tensor>, IOnnxExportable
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

    string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string input)
    {
        var g = exporter.Graph;
        long dim = cls_token.shape[2];
        string patches = g.Node("Transpose", new[] { g.Node("Reshape", new[] { exporter.Export(patch, input), g.Int64s("shape", 0, dim, -1) }) },
            ("perm", new long[] { 0, 2, 1 }));                                                                                   // N x patches x dim
        // The class token repeated over the batch: Expand to [N, 1, dim], N read from the input's shape.
        string batch = g.Node("Slice", new[] { g.Node("Shape", new[] { input }), g.Int64s("start", 0), g.Int64s("end", 1) });
        string cls = g.Node("Expand", new[] { exporter.Weight(cls_token), g.Node("Concat", new[] { batch, g.Int64s("rest", 1, dim) }, ("axis", 0L)) });
        string x = g.Node("Add", new[] { g.Node("Concat", new[] { cls, patches }, ("axis", 1L)), exporter.Weight(position) });
        x = exporter.Export(norm, exporter.Export(blocks, x));
        // The class token's row (a scalar index: Gather drops the axis, N x dim).
        return exporter.Export(head, g.Node("Gather", new[] { x, g.Initializer("token", new long[] { 0 }) }, ("axis", 1L)));
    }

    sealed class EncoderBlock : Module<Tensor, Tensor>, IOnnxExportable
    {
        readonly Module<Tensor, Tensor> norm1, qkv, proj, norm2, mlp;
        readonly int _heads, _dim;

        public EncoderBlock(int dim, int heads) : base(nameof(EncoderBlock))
        {
            _heads = heads;
            _dim = dim;
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

        string IOnnxExportable.ExportOnnx(OnnxNetworkExporter exporter, string x)
        {
            var g = exporter.Graph;
            var layers = mlp.named_children().Select(c => c.module).ToList();
            long dim = _dim, hd = dim / _heads;
            string parts = g.Node("Transpose", new[] { g.Node("Reshape", new[] { exporter.LinearOnLastAxis(qkv, exporter.Export(norm1, x)), g.Int64s("shape", 0, 0, 3, _heads, hd) }) },
                ("perm", new long[] { 2, 0, 3, 1, 4 }));                                                                        // 3 x N x heads x T x hd
            // A scalar index: Gather drops the axis, N x heads x T x hd.
            string Part(long i) => g.Node("Gather", new[] { parts, g.Initializer("part", new long[] { i }) }, ("axis", 0L));
            string scores = g.Node("Mul", new[] { g.Node("MatMul", new[] { Part(0), g.Node("Transpose", new[] { Part(1) }, ("perm", new long[] { 0, 1, 3, 2 })) }),
                g.Scalar("scale", (float)(1 / Math.Sqrt(hd))) });
            string mixed = g.Node("MatMul", new[] { g.Node("Softmax", new[] { scores }, ("axis", -1L)), Part(2) });
            mixed = g.Node("Reshape", new[] { g.Node("Transpose", new[] { mixed }, ("perm", new long[] { 0, 2, 1, 3 })), g.Int64s("shape", 0, 0, dim) });
            x = g.Node("Add", new[] { x, exporter.LinearOnLastAxis(proj, mixed) });
            string hidden = exporter.Export(layers[1], exporter.LinearOnLastAxis(layers[0], exporter.Export(norm2, x)));
            return g.Node("Add", new[] { x, exporter.LinearOnLastAxis(layers[2], hidden) });
        }
    }
}
