using MLNet.Bayesian.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNet.Bayesian.Layers;

/// <summary>
/// Base of the Bayesian replacements of Conv2d and Linear. In stage 1 the layer owns its mean-field Gaussian
/// (sigma = softplus(rho) + floor); in stage 3 it owns no weight parameters at all. Either way the weight of a
/// forward pass is one draw of the network's posterior, handed in for that call (<see cref="WeightContext"/>):
/// BayesianNetwork draws it. The bias stays a point estimate, as 2dgbnn.md prescribes.
/// State-dict names: weight_mu, weight_rho, bias.
/// </summary>
internal abstract class StochasticLayer : nn.Module<Tensor, Tensor>
{
    /// <summary>Lower bound added to softplus(rho) so that sigma never reaches zero.</summary>
    public const double SigmaFloor = 1e-6;

    Parameter? weight_mu;
    Parameter? weight_rho;
    Parameter? bias;

    /// <summary>Takes the weight and bias of a deterministic layer; the layer starts in mean-field mode.</summary>
    protected StochasticLayer(string name, Tensor weight, Tensor? bias, double initialSigma) : base(name)
    {
        WeightShape = weight.shape;
        using (no_grad())
        {
            weight_mu = new Parameter(weight.detach().clone());
            double rho = InverseSoftplus(Math.Max(initialSigma - SigmaFloor, 1e-12));
            weight_rho = new Parameter(full_like(weight, rho));
            if (bias is not null) this.bias = new Parameter(bias.detach().clone());
        }
        // A module outlives any dispose scope it was built in.
        weight_mu.DetachFromDisposeScope();
        weight_rho.DetachFromDisposeScope();
        this.bias?.DetachFromDisposeScope();
        RegisterComponents();
        ModuleDevice.Record(this, weight.device);
    }

    /// <summary>rho such that softplus(rho) = sigma, stable for small sigma.</summary>
    public static double InverseSoftplus(double sigma) => sigma > 20 ? sigma : sigma + Math.Log(-Math.Exp(-sigma) + 1);

    /// <summary>Shape of the weight tensor.</summary>
    public long[] WeightShape { get; }
    /// <summary>Number of weights.</summary>
    public long WeightCount => WeightShape.Aggregate(1L, (a, b) => a * b);
    /// <summary>Current weight source.</summary>
    public WeightMode Mode { get; private set; } = WeightMode.MeanField;
    /// <summary>Mean-field mean (null in shared mode).</summary>
    public Parameter? WeightMu => weight_mu;
    /// <summary>Mean-field rho (null in shared mode).</summary>
    public Parameter? WeightRho => weight_rho;
    /// <summary>The deterministic bias, if any.</summary>
    public Parameter? Bias => bias;

    /// <summary>Mean-field sigma = softplus(rho) + floor.</summary>
    public Tensor WeightSigma()
    {
        if (weight_rho is null) throw new InvalidOperationException($"Layer {GetName()} has no mean-field parameters in {Mode} mode.");
        return ScalarSafeOps.Add(ScalarSafeOps.Softplus(weight_rho), SigmaFloor);
    }

    /// <summary>Switches to shared mode: the mean-field parameters are released and no longer trained.</summary>
    public void UseSharedWeights()
    {
        weight_mu?.Dispose();
        weight_rho?.Dispose();
        weight_mu = null;
        weight_rho = null;
        // The registry still holds the old names; rebuilding it from the fields drops them.
        _internal_params.Remove("weight_mu");
        _internal_params.Remove("weight_rho");
        Mode = WeightMode.Shared;
    }

    /// <summary>
    /// Switches to point mode (MC dropout): <c>weight_mu</c> stays as the trained weight and the scale is released;
    /// the draws of the network's posterior mask that weight.
    /// </summary>
    internal void UsePointWeight()
    {
        if (Mode != WeightMode.MeanField) throw new InvalidOperationException($"Layer {GetName()} is in {Mode} mode; a point weight replaces a mean-field one.");
        weight_rho?.Dispose();
        weight_rho = null;
        _internal_params.Remove("weight_rho");
        Mode = WeightMode.Point;
    }

    /// <summary>
    /// The weight for this forward pass: this layer's part of the call's posterior draw, and S when the call runs S
    /// stacked draws at once (the weight is then [S, ...] and the input batch S copies, sample-major), else 0.
    /// </summary>
    protected (Tensor Weight, int Stacked) CurrentWeight()
    {
        var (weight, stacked) = WeightContext.For(this) ?? throw new InvalidOperationException(
            $"Layer {GetName()} ({Mode}) has no weight for this call: call the network through BayesianNetwork, which draws the weights from the posterior.");
        var expected = stacked == 0 ? WeightShape : WeightShape.Prepend(stacked).ToArray();
        if (!weight.shape.SequenceEqual(expected))
            throw new ArgumentException($"Layer {GetName()} expects a weight of shape [{string.Join(", ", expected)}], got [{string.Join(", ", weight.shape)}].");
        return (weight, stacked);
    }

    /// <summary>KL(N(mu, sigma^2) || N(0, priorSigma^2)) summed over the layer's weights.</summary>
    public Tensor KLToZeroMeanPrior(double priorSigma)
    {
        var sigma = WeightSigma();
        var logPrior = ScalarSafeOps.Constant(Math.Log(priorSigma) - 0.5, sigma);
        var inverseTwiceVariance = ScalarSafeOps.Constant(1 / (2 * priorSigma * priorSigma), sigma);
        return logPrior.Minus(sigma.log()).Plus(sigma.Square().Plus(weight_mu!.Square()) * inverseTwiceVariance).sum();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            weight_mu?.Dispose();
            weight_rho?.Dispose();
            bias?.Dispose();
        }
        base.Dispose(disposing);
    }
}
