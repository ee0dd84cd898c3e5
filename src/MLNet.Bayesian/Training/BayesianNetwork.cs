using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Posterior;
using MLNet.Bayesian.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Training;

/// <summary>
/// A classifier that moves through the stages of 2DGBNN: deterministic, then mean-field, then shared
/// posterior. It wraps any TorchSharp module built from Conv2d/Linear (+ other layers). From stage 1 on, every
/// forward pass runs on one draw of the posterior: <see cref="forward"/> draws a fresh one (training),
/// <see cref="Draw"/> hands out the seeded draw s that prediction and export use.
/// Children: "network" (the user's module) and, in the shared stage, "posterior". The baselines end in their own
/// stages: MC dropout (<see cref="BayesianStage.McDropout"/>) draws masks of the trained weights; a deep ensemble
/// (<see cref="BayesianStage.DeepEnsemble"/>) also holds members "member1", "member2", ... and draw s runs member s mod M.
/// </summary>
public sealed class BayesianNetwork : nn.Module<Tensor, Tensor>
{
    readonly nn.Module<Tensor, Tensor> network;
    SharedPosterior? posterior;
    IReadOnlyList<(string Name, StochasticLayer Layer)> _layers = Array.Empty<(string, StochasticLayer)>();
    StochasticLayer[] _layerModules = Array.Empty<StochasticLayer>();
    NetworkPosterior _posterior = new PointEstimate();
    long _deterministicWeightCount;
    nn.Module<Tensor, Tensor>[] _members;

    NoiseSource? _trainingNoise;

    /// <summary>Wraps a deterministic network (stage 0).</summary>
    public BayesianNetwork(nn.Module<Tensor, Tensor> network) : base(nameof(BayesianNetwork))
    {
        // A network built directly (not through BayesianTrainer) still finds the machine's LibTorch when asked to. Called
        // here rather than in a static constructor: a failure (no PyTorch found) then reaches the caller as the error that
        // says how to fix it, every time, instead of a TypeInitializationException that poisons the type for the process.
        LibTorchRuntime.EnsureLoaded();
        this.network = network;
        _members = new[] { network };
        RegisterComponents();
    }

    /// <summary>The current stage.</summary>
    public BayesianStage Stage => _posterior.Stage;

    /// <summary>Moves to the stage of <paramref name="next"/>, which from now on draws, runs and weighs the network.</summary>
    void Become(NetworkPosterior next)
    {
        _posterior = next;
        // A scale belongs to the posterior it was fitted for.
        _posteriorScale = 1.0;
        _scalarSafe = null;
    }

    double _posteriorScale = 1.0;

    /// <summary>
    /// The spread of the scoring draws about the posterior's means: every standard normal number a scoring draw (a seeded
    /// <see cref="Draw"/>, or <see cref="forward"/> in evaluation mode) takes is multiplied by it, so a Gaussian posterior (mean-field, 2DGBNN) is scored with its
    /// standard deviations times this (1: as trained). Fitted after training on validation NLL
    /// (PosteriorScaleFit): a uniform tempering (not a prior precision, which would change the shape): the
    /// ELBO fixes where the spread is large relative to elsewhere, and held-out data fix how large it is overall. In the
    /// hierarchical variant it scales both the component draw and each member's noise, so a weight's spread shrinks by
    /// more than this factor where the log scale varies.
    /// Training's draws ignore it. MC dropout's masks and a deep ensemble's members have no Gaussian spread and ignore it too.
    /// Back to 1 when the stage changes.
    /// </summary>
    public double PosteriorScale
    {
        get => _posteriorScale;
        set
        {
            OptionCheck.Positive(nameof(PosteriorScale), value);
            _posteriorScale = value;
        }
    }
    /// <summary>The networks a deep ensemble averages (member 0 is <see cref="Network"/>); one, <see cref="Network"/>, otherwise.</summary>
    public IReadOnlyList<nn.Module<Tensor, Tensor>> Members => _members;

    /// <summary>
    /// The draws a prediction averages when <paramref name="requested"/> are asked for: 1 for a deterministic network,
    /// the number of members for a deep ensemble (its draws are its members), <paramref name="requested"/> otherwise.
    /// </summary>
    public int SampleCount(int requested) => _posterior.SampleCount(requested);

    /// <summary>The wrapped network (member 0 of a deep ensemble).</summary>
    public nn.Module<Tensor, Tensor> Network => network;
    /// <summary>The Bayesian layers (empty in stage 0).</summary>
    internal IReadOnlyList<(string Name, StochasticLayer Layer)> Layers => _layers;
    /// <summary>The shared posterior (stage 3 only).</summary>
    internal SharedPosterior? SharedPosterior => posterior;

    /// <summary>Whether scoring may skip the garbage-collection pause (see <see cref="GcPause.IsScalarSafe"/>); the modules are fixed after conversion.</summary>
    internal bool ScalarSafeForward => _scalarSafe ??= GcPause.IsScalarSafe(this);
    bool? _scalarSafe;

    /// <summary>Number of trainable scalars right now.</summary>
    public long TrainableParameterCount => parameters().Where(p => p.requires_grad).Sum(p => p.numel());

    /// <summary>Number of weights of the Conv2d/Linear layers that become Bayesian (recorded at conversion).</summary>
    public long BayesianWeightCount => _deterministicWeightCount;

    /// <summary>Stage 0 to 1: every Conv2d/Linear becomes a mean-field layer initialised at its weights.</summary>
    public void ConvertToMeanField(double initialSigma = 1e-3)
    {
        if (Stage != BayesianStage.Deterministic) throw new InvalidOperationException($"The network is already in stage {Stage}.");
        _layers = BayesianConversion.ToMeanField(network, initialSigma);
        _layerModules = _layers.Select(l => l.Layer).ToArray();
        _deterministicWeightCount = _layers.Sum(l => l.Layer.WeightCount);
        Become(new LayerPosterior(BayesianStage.MeanField, _layerModules, new MeanFieldPosterior(_layerModules)));
    }

    /// <summary>
    /// Stage 0 to MC dropout: every Conv2d/Linear becomes a layer whose trained weight each draw masks (see
    /// <see cref="McDropoutPosterior"/>); the first layer's input (the pixels) is never dropped.
    /// </summary>
    internal void UseMcDropout(double rate)
    {
        if (Stage != BayesianStage.Deterministic) throw new InvalidOperationException($"MC dropout starts from a deterministic network, not stage {Stage}.");
        _layers = BayesianConversion.ToMeanField(network);
        foreach (var (_, layer) in _layers) layer.UsePointWeight();
        _layerModules = _layers.Select(l => l.Layer).ToArray();
        _deterministicWeightCount = _layers.Sum(l => l.Layer.WeightCount);
        Become(new LayerPosterior(BayesianStage.McDropout, _layerModules,
            new McDropoutPosterior(_layerModules, _layers.Select((_, i) => i == 0 ? 0.0 : rate).ToArray())));
    }

    /// <summary>
    /// Stage 0 to deep ensemble: this network becomes member 0 and <paramref name="others"/> (trained deterministic
    /// networks of the same architecture) members 1, 2, ...; this network owns them from now on.
    /// </summary>
    internal void UseEnsemble(IReadOnlyList<BayesianNetwork> others)
    {
        if (Stage != BayesianStage.Deterministic) throw new InvalidOperationException($"A deep ensemble is made of deterministic networks, not stage {Stage}.");
        if (others.Count == 0 || others.Any(o => o.Stage != BayesianStage.Deterministic || ReferenceEquals(o, this)))
            throw new ArgumentException("A deep ensemble needs at least one other deterministic network.", nameof(others));
        for (int i = 0; i < others.Count; i++) register_module($"member{i + 1}", others[i]);
        _members = others.Select(o => o.Network).Prepend(network).ToArray();
        Become(new EnsemblePosterior(_members));
    }

    /// <summary>The module that runs draw <paramref name="sample"/>: member s mod M of a deep ensemble, else <see cref="Network"/> (its draws are weights).</summary>
    internal nn.Module<Tensor, Tensor> MemberFor(int sample) => _members[sample % _members.Length];

    /// <summary>The stage-1 posterior as points, with the recorded gradient magnitudes (may be null).</summary>
    internal IReadOnlyList<PosteriorLayerPoints> PosteriorPoints(IReadOnlyList<float[]>? gradientMagnitudes)
    {
        if (Stage != BayesianStage.MeanField) throw new InvalidOperationException("Posterior points exist only in the mean-field stage.");
        using var scope = NewDisposeScope();
        return _layers.Select((l, i) => new PosteriorLayerPoints(l.Name, l.Layer.WeightShape,
            l.Layer.WeightMu!.detach().cpu().data<float>().ToArray(),
            l.Layer.WeightSigma().detach().cpu().data<float>().ToArray(),
            gradientMagnitudes?[i])).ToList();
    }

    /// <summary>Stage 2 to 3: the layers give up their own Gaussians and take draws of the shared posterior.</summary>
    internal void UseSharedPosterior(SharedPosterior shared)
    {
        if (Stage != BayesianStage.MeanField) throw new InvalidOperationException($"A shared posterior replaces a mean-field one, not stage {Stage}.");
        if (shared.Plan.Layers.Count != _layers.Count)
            throw new ArgumentException($"The plan covers {shared.Plan.Layers.Count} layers; the network has {_layers.Count}.");
        for (int i = 0; i < _layers.Count; i++)
            if (shared.Plan.Layers[i].Count != _layers[i].Layer.WeightCount)
                throw new ArgumentException($"Layer {_layers[i].Name}: the plan holds {shared.Plan.Layers[i].Count} weights, the layer {_layers[i].Layer.WeightCount}.");
        foreach (var (_, layer) in _layers) layer.UseSharedWeights();
        posterior = shared;
        register_module("posterior", shared);
        Become(new LayerPosterior(BayesianStage.Shared, _layerModules, shared));
    }

    /// <summary>Swaps in a re-merged shared posterior (see <see cref="SharedPosterior.Remerge"/>); the old one is disposed.</summary>
    internal void ReplaceSharedPosterior(SharedPosterior replacement)
    {
        if (Stage != BayesianStage.Shared) throw new InvalidOperationException("Only a shared posterior can be replaced.");
        if (replacement.Plan.WeightCount != posterior!.Plan.WeightCount)
            throw new ArgumentException("The replacement covers a different set of weights.");
        var old = posterior;
        register_module("posterior", null!);
        posterior = replacement;
        register_module("posterior", replacement);
        // The same stage on a new posterior: the scale stays (the trainer re-merges before it fits one).
        _posterior = new LayerPosterior(BayesianStage.Shared, _layerModules, replacement);
        old.Dispose();
    }

    /// <summary>KL(q || prior) of the whole network (zero in stage 0).</summary>
    public Tensor KL(double priorSigma) => _posterior.KL(priorSigma);

    /// <summary>
    /// Posterior draw <paramref name="sample"/> for the scorer seed <paramref name="seed"/>: one weight tensor per
    /// layer (in <see cref="Layers"/> order), a function of (seed, sample) alone, the same numbers on every device.
    /// Empty in stage 0. Dispose it (or create it inside a dispose scope) to free the tensors.
    /// </summary>
    public WeightDraw Draw(int seed, int sample) => _posterior.Draw(seed, sample, _posteriorScale);

    /// <summary>The seeded draws (seed, s) written into an ONNX graph; per draw, the graph value of each of <see cref="Layers"/>' weights.</summary>
    internal string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples) => _posterior.ExportDraws(g, seed, samples, PosteriorScale);


    /// <summary>Stage 1: the posterior mean of every layer (mu), as a draw.</summary>
    internal WeightDraw MeanFieldMean()
        => (_posterior as LayerPosterior)?.Weights is MeanFieldPosterior meanField ? new WeightDraw(meanField.Mean()) : throw new InvalidOperationException($"The network is in stage {Stage}, not mean-field.");

    /// <summary>One forward pass on the given draw (stage 0 ignores it).</summary>
    public Tensor Forward(Tensor input, WeightDraw draw) => _posterior.Forward(network, input, draw);

    /// <summary>
    /// S forward passes at once, one per stacked draw: <paramref name="stackedWeights"/> holds every layer's S draws
    /// ([S, ...] each, in <see cref="Layers"/> order). The batch is copied S times (sample-major), so the other layers
    /// see one batch of S x N rows; the Bayesian layers give copy s weight s (a grouped convolution, a batched matmul).
    /// Returns [S, N, ...]. A deep ensemble has no weights to stack: its posterior (EnsemblePosterior) refuses.
    /// </summary>
    internal Tensor ForwardStacked(Tensor input, IReadOnlyList<Tensor> stackedWeights, int samples)
    {
        long n = input.shape[0];
        var repeats = new long[input.dim()];
        Array.Fill(repeats, 1L);
        repeats[0] = samples;
        var copies = samples == 1 ? input : input.repeat(repeats);
        var output = _posterior.ForwardStacked(network, copies, stackedWeights, samples);
        return output.view(new[] { samples, n }.Concat(output.shape.Skip(1)).ToArray());
    }

    /// <summary>
    /// Where training's draws take their noise: the generator the trainer seeded for this network (on the CPU), so that
    /// two networks training in one process do not share a stream; LibTorch's global generator when none was given
    /// (a network trained by hand, or on a GPU, where TorchSharp 0.107 cannot make a generator of its own).
    /// </summary>
    internal NoiseSource TrainingNoise => _trainingNoise ?? NoiseSource.Global;

    /// <summary>Makes <paramref name="noise"/> (owned from now on) the source of training's draws; null: the global generator.</summary>
    internal void UseTrainingNoise(NoiseSource? noise)
    {
        _trainingNoise?.Dispose();
        _trainingNoise = noise;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) UseTrainingNoise(null);
        base.Dispose(disposing);
    }

    /// <summary>
    /// One forward pass on a fresh draw (training: from <see cref="TrainingNoise"/>; evaluation mode: from LibTorch's global
    /// generator; a deep ensemble: a random member).
    /// In evaluation mode the draw spreads by <see cref="PosteriorScale"/>, as seeded draws do.
    /// </summary>
    public override Tensor forward(Tensor input)
        // Training draws the posterior as it is; unseeded scoring (evaluation mode) with the scale it scores with.
        => _posterior.ForwardFresh(network, input, training ? TrainingNoise : NoiseSource.GlobalScaled(_posteriorScale));
}
