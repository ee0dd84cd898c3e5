using MLNet.Bayesian.Layers;
using MLNet.Bayesian.Onnx;
using MLNet.Bayesian.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using DataType = global::Onnx.TensorProto.Types.DataType;

namespace MLNet.Bayesian.Posterior;

/// <summary>
/// Stage 3's variational posterior as a TorchSharp module. Each component k is N(m_k, L_k L_k^T) on the plane
/// (weight, log sigma); components_mean holds the weight coordinate m_k[0] (K x 1). Trainable in the hierarchical
/// variant: components_mean, components_log_scale (m_k[1], K x 1), components_cholesky (K x 3: log l11, l21, log l22),
/// outliers_mu and outliers_rho (O each). m_k[1] is the mean of the log scale b that every member's noise is multiplied
/// by (exp(b)), so it is a scale and trains with the scales (<see cref="ScaleParameters"/>): at the means' slow rate
/// stage 3 could not move it from where stage 1 left it (issue 33). The shared variant's draw reads only each
/// component's weight coordinate (m_k[0] and l11): the other three numbers would get only the KL's gradient, which
/// Adam turns into steps of the full learning rate all the same, so they stay fixed (buffers components_mean_fixed
/// and components_cholesky_fixed) and components_mean and components_cholesky hold the one trainable column each
/// (K x 1): the trainable count then says what training can change.
/// Each draw samples every component once by reparameterisation and builds all layers' weights by one gather
/// from the table [components | outliers | ellipse blends], so the likelihood's gradient reaches every
/// variational parameter.
/// </summary>
internal sealed class SharedPosterior : nn.Module, IWeightPosterior
{
    readonly Parameter components_mean;
    readonly Parameter components_cholesky;
    // Hierarchical variant only: m_k[1], the mean of the log scale b (null otherwise).
    readonly Parameter? components_log_scale;
    // Shared variant only: the columns a draw does not read (m_k[1]; l21, log l22), fixed at stage 2's fit (null otherwise).
    readonly Tensor? components_mean_fixed, components_cholesky_fixed;
    readonly Parameter outliers_mu;
    readonly Parameter outliers_rho;
    // Prior tables and index tables are buffers: they move with .to(device) and are saved with the state dict.
    readonly Tensor prior_mean, prior_cholesky, prior_outlier_mu, prior_outlier_sigma;
    readonly Tensor gather_index, ellipse_first, ellipse_second, ellipse_alpha;
    readonly long[] _layerSizes;

    /// <summary>Creates the module from a stage-2 plan.</summary>
    public SharedPosterior(SharedPosteriorPlan plan, SamplingVariant variant, SharedPrior prior = SharedPrior.EmpiricalBayes,
        double priorSigma = 1.0, Device? device = null)
        : this(plan, variant, prior, priorSigma, device, new PriorVarianceFloors(0, 0), null, null, null)
    {
    }

    /// <summary>
    /// Creates the module with a prior whose variances are at least <paramref name="floors"/> (original units): a prior
    /// broader than the fit that q starts from (see <see cref="PriorVarianceFloors"/>).
    /// </summary>
    public SharedPosterior(SharedPosteriorPlan plan, SamplingVariant variant, SharedPrior prior, double priorSigma, Device? device,
        PriorVarianceFloors floors)
        : this(plan, variant, prior, priorSigma, device, floors, null, null, null)
    {
    }

    /// <summary>
    /// Creates the module with the prior from <paramref name="plan"/> and the variational parameters
    /// started elsewhere (used by <see cref="Remerge"/>, which keeps what training has learned).
    /// </summary>
    SharedPosterior(SharedPosteriorPlan plan, SamplingVariant variant, SharedPrior prior, double priorSigma, Device? device,
        PriorVarianceFloors floors, Gaussian2[]? startComponents, float[]? startOutlierMu, float[]? startOutlierRho) : base(nameof(SharedPosterior))
    {
        ArgumentNullException.ThrowIfNull(floors);
        if (!(floors.Weight >= 0 && floors.LogSigma >= 0) || double.IsInfinity(floors.Weight) || double.IsInfinity(floors.LogSigma))
            throw new ArgumentOutOfRangeException(nameof(floors), floors, "The prior's variance floors must be finite and at least 0.");
        Floors = floors;
        Plan = plan;
        _layerSizes = plan.Layers.Select(slice => slice.Count).ToArray();
        Variant = variant;
        PriorKind = prior;
        PriorSigma = priorSigma;
        device ??= CPU;
        int k = plan.Components.Length;
        var mean = new float[k * 2];
        var chol = new float[k * 3];
        for (int c = 0; c < k; c++)
        {
            var g = plan.Components[c];
            var (l11, l21, l22) = g.Cholesky();
            mean[2 * c] = (float)g.Mx; mean[2 * c + 1] = (float)g.My;
            chol[3 * c] = (float)Math.Log(l11); chol[3 * c + 1] = (float)l21; chol[3 * c + 2] = (float)Math.Log(l22);
        }
        var outRho = startOutlierRho ?? plan.OutlierSigma.Select(s => (float)StochasticLayer.InverseSoftplus(Math.Max(s - StochasticLayer.SigmaFloor, 1e-12))).ToArray();
        var (startMean, startChol) = startComponents is null ? (mean, chol) : Tables(startComponents);

        if (variant == SamplingVariant.Shared)
        {
            var fullMean = tensor(startMean, new long[] { k, 2 }, device: device);
            var fullChol = tensor(startChol, new long[] { k, 3 }, device: device);
            components_mean = new Parameter(fullMean[.., ..1].contiguous());
            components_cholesky = new Parameter(fullChol[.., ..1].contiguous());
            components_mean_fixed = fullMean[.., 1..].contiguous().DetachFromDisposeScope();
            components_cholesky_fixed = fullChol[.., 1..].contiguous().DetachFromDisposeScope();
            fullMean.Dispose();
            fullChol.Dispose();
        }
        else
        {
            var fullMean = tensor(startMean, new long[] { k, 2 }, device: device);
            components_mean = new Parameter(fullMean[.., ..1].contiguous());
            components_log_scale = new Parameter(fullMean[.., 1..].contiguous());
            fullMean.Dispose();
            components_cholesky = new Parameter(tensor(startChol, new long[] { k, 3 }, device: device));
        }
        outliers_mu = new Parameter(tensor(startOutlierMu ?? plan.OutlierMu, device: device));
        outliers_rho = new Parameter(tensor(outRho, device: device));

        if (prior == SharedPrior.EmpiricalBayes)
        {
            var (priorMean, priorChol) = Tables(plan.Components.Select(floors.Apply).ToArray());
            prior_mean = tensor(priorMean, new long[] { k, 2 }, device: device);
            prior_cholesky = tensor(priorChol, new long[] { k, 3 }, device: device);
            prior_outlier_mu = tensor(plan.OutlierMu, device: device);
            double outlierFloor = Math.Sqrt(floors.Weight);
            prior_outlier_sigma = tensor(plan.OutlierSigma.Select(v => (float)Math.Max(v, outlierFloor)).ToArray(), device: device);
        }
        else
        {
            var zeroMean = new float[k * 2];
            var diagChol = new float[k * 3];
            for (int c = 0; c < k; c++)
            {
                zeroMean[2 * c + 1] = mean[2 * c + 1];
                diagChol[3 * c] = (float)Math.Log(priorSigma);
                diagChol[3 * c + 2] = (float)(0.5 * Math.Log(Math.Max(plan.Components[c].Syy, floors.LogSigma)));
            }
            prior_mean = tensor(zeroMean, new long[] { k, 2 }, device: device);
            prior_cholesky = tensor(diagChol, new long[] { k, 3 }, device: device);
            prior_outlier_mu = zeros(plan.OutlierMu.Length, device: device);
            prior_outlier_sigma = full(plan.OutlierMu.Length, priorSigma, device: device);
        }
        gather_index = tensor(plan.GatherIndex(), device: device);
        ellipse_first = tensor(plan.EllipseFirst.Select(v => (long)v).ToArray(), device: device);
        ellipse_second = tensor(plan.EllipseSecond.Select(v => (long)v).ToArray(), device: device);
        ellipse_alpha = stack(new[] { tensor(plan.EllipseAlphaFirst), tensor(plan.EllipseAlphaSecond) }, 1).to(device);
        // A module outlives any dispose scope it was built in.
        components_log_scale?.DetachFromDisposeScope();
        foreach (var t in new Tensor[] { components_mean, components_cholesky, outliers_mu, outliers_rho, prior_mean, prior_cholesky,
                     prior_outlier_mu, prior_outlier_sigma, gather_index, ellipse_first, ellipse_second, ellipse_alpha })
            t.DetachFromDisposeScope();
        RegisterComponents();
        ModuleDevice.Record(this, device);
    }

    static (float[] Mean, float[] Cholesky) Tables(Gaussian2[] components)
    {
        var mean = new float[components.Length * 2];
        var chol = new float[components.Length * 3];
        for (int c = 0; c < components.Length; c++)
        {
            var (l11, l21, l22) = components[c].Cholesky();
            mean[2 * c] = (float)components[c].Mx; mean[2 * c + 1] = (float)components[c].My;
            chol[3 * c] = (float)Math.Log(l11); chol[3 * c + 1] = (float)l21; chol[3 * c + 2] = (float)Math.Log(l22);
        }
        return (mean, chol);
    }

    /// <summary>The prior of the KL term.</summary>
    public SharedPrior PriorKind { get; }
    /// <summary>Scale of the zero-mean prior option.</summary>
    public double PriorSigma { get; }
    /// <summary>The least variances of the prior (original units).</summary>
    public PriorVarianceFloors Floors { get; }

    /// <summary>
    /// The full component tables, mean (K x 2) and raw Cholesky factor (K x 3): the weight-coordinate means joined to the
    /// log-scale means (hierarchical) or to the fixed columns (shared).
    /// </summary>
    (Tensor Mean, Tensor Cholesky) ComponentTables() => components_mean_fixed is null
        ? (cat(new[] { components_mean, components_log_scale! }, 1), components_cholesky)
        : (cat(new[] { components_mean, components_mean_fixed }, 1), cat(new[] { components_cholesky, components_cholesky_fixed! }, 1));

    /// <summary>
    /// Merges components whose current posteriors are closer than <paramref name="threshold"/> (squared W2),
    /// weighted by member counts, within their pools. Returns null when no pair is that close; otherwise a new
    /// module that keeps the learned parameters (merged ones moment-matched) and merges the priors alike.
    /// </summary>
    public SharedPosterior? Remerge(double threshold)
    {
        var current = CurrentComponents();
        var (merged, _, map) = SharedPosteriorBuilder.MergeWithMap(current, Plan.MemberCounts, threshold, Plan.ComponentPools);
        if (merged.Length == current.Length) return null;
        var priors = new Gaussian2[merged.Length];
        for (int g = 0; g < merged.Length; g++)
        {
            var members = Enumerable.Range(0, map.Length).Where(c => map[c] == g).ToArray();
            priors[g] = Gaussian2.MomentMatch(members.Select(c => Plan.Components[c]).ToArray(),
                members.Select(c => (double)Math.Max(Plan.MemberCounts[c], 1)).ToArray());
        }
        var plan = Plan.WithMergedComponents(map, priors);
        float[] mu, rho;
        using (NewDisposeScope())
        {
            mu = outliers_mu.detach().cpu().data<float>().ToArray();
            rho = outliers_rho.detach().cpu().data<float>().ToArray();
        }
        return new SharedPosterior(plan, Variant, PriorKind, PriorSigma, components_mean.device, Floors, merged, mu, rho);
    }

    /// <summary>The stage-2 plan this posterior was built from.</summary>
    public SharedPosteriorPlan Plan { get; }
    /// <summary>How component draws become weights.</summary>
    public SamplingVariant Variant { get; }
    /// <summary>Trainable component means of the weight coordinate, m_k[0] (K x 1).</summary>
    public Parameter ComponentsMean => components_mean;
    /// <summary>Hierarchical variant: the trainable means of the log-scale coordinate, m_k[1] (K x 1); null in the shared variant (fixed there).</summary>
    public Parameter? ComponentsLogScale => components_log_scale;
    /// <summary>Trainable raw Cholesky factors: K x 3 (log l11, l21, log l22; hierarchical), or K x 1, log l11 (shared).</summary>
    public Parameter ComponentsCholesky => components_cholesky;

    /// <summary>
    /// The parameters that set a scale (Cholesky factors, outlier rho, and in the hierarchical variant the log-scale means):
    /// stage 3 trains them at their own rate.
    /// </summary>
    public IEnumerable<Parameter> ScaleParameters => components_log_scale is null
        ? new[] { components_cholesky, outliers_rho }
        : new[] { components_cholesky, components_log_scale, outliers_rho };
    /// <summary>Outlier means.</summary>
    public Parameter OutliersMu => outliers_mu;
    /// <summary>Outlier rho (sigma = softplus(rho) + floor).</summary>
    public Parameter OutliersRho => outliers_rho;

    Tensor[] IWeightPosterior.Draw(NoiseSource noise) => Draw(noise);

    /// <summary>Draws one sample of every layer's weight tensor, in the plan's layer order.</summary>
    internal Tensor[] Draw(NoiseSource noise)
    {
        Tensor flat;
        if (Variant == SamplingVariant.Shared)
        {
            flat = DrawTable(noise).index_select(0, gather_index);
        }
        else
        {
            var (z, outlierSigma) = DrawComponents(noise);
            var loc = z[.., 0];
            var scale = z[.., 1].exp();
            var locTable = cat(new[] { loc, outliers_mu, Blend(loc) });
            var scaleTable = cat(new[] { scale, outlierSigma, Blend(scale) });
            var locs = locTable.index_select(0, gather_index);
            flat = locs.Plus(scaleTable.index_select(0, gather_index) * noise.Normal(locs));
        }
        // One split rather than a narrow per layer: backward then joins the layers' gradients with one cat, where
        // every narrow would add a zero-filled gradient of the whole table.
        var parts = flat.split(_layerSizes);
        var weights = new Tensor[parts.Length];
        for (int i = 0; i < weights.Length; i++) weights[i] = parts[i].view(Plan.Layers[i].Shape);
        return weights;
    }

    /// <summary>
    /// Shared variant: one draw of the value table [components | outliers | ellipse blends] that every weight
    /// gathers from through <see cref="SharedPosteriorPlan.GatherIndex"/>. The ONNX export stores these tables.
    /// </summary>
    internal Tensor DrawTable(NoiseSource noise)
    {
        if (Variant != SamplingVariant.Shared)
            throw new InvalidOperationException($"Only the shared variant draws value tables; this posterior is {Variant}.");
        var (z, outlierSigma) = DrawComponents(noise);
        var componentValue = z[.., 0];
        var outlierValue = outliers_mu.Plus(outlierSigma * noise.Normal(outliers_mu));
        return cat(new[] { componentValue, outlierValue, Blend(componentValue) });
    }

    /// <summary>
    /// The hierarchical variant writes whole weights (<see cref="OnnxDraws"/>). The shared variant writes the S value
    /// tables ([S, components + outliers + blends]) and one compact component index per layer (uint8 up to 256
    /// components, else uint16), cast and gathered in the graph: the saved model is then about the size of the index.
    /// </summary>
    public string[][] ExportDraws(OnnxGraphBuilder g, int seed, int samples, double scale)
    {
        if (Variant != SamplingVariant.Shared) return OnnxDraws.PerLayerSamples(g, this, seed, samples, scale);
        var drawn = new List<float[]>();
        using (no_grad())
            for (int s = 0; s < samples; s++)
            {
                using var scope = NewDisposeScope();
                using var noise = NoiseSource.Seeded(DrawSeeds.Of(seed, s), scale);
                drawn.Add(DrawTable(noise).cpu().data<float>().ToArray());
            }
        string tables = g.Initializer("posterior_tables", drawn.SelectMany(v => v).ToArray(), samples, drawn[0].Length);
        var indices = Plan.Layers.Select(layer => ScatterIndex(g, layer.Offset, layer.Count)).ToArray();
        return Enumerable.Range(0, samples).Select(s =>
        {
            string row = g.Node("Gather", new[] { tables, g.Initializer("sample", new long[] { s }) }, ("axis", 0L));   // [1, width]
            row = g.Node("Reshape", new[] { row, g.Int64s("flat", -1) });
            return Plan.Layers.Select((layer, i) =>
                g.Node("Reshape", new[] { g.Node("Gather", new[] { row, indices[i] }, ("axis", 0L)), g.Int64s("shape", layer.Shape) })).ToArray();
        }).ToArray();
    }

    /// <summary>
    /// One layer's gather index into a value table, built in the graph from its part of the compact component index
    /// (weights <paramref name="start"/> to start + count - 1): Cast(uint8/uint16 -> int64), then ScatterElements puts
    /// K + o at the layer's outlier positions and K + O + e at its ellipse positions (both lists are small), as in
    /// <see cref="SharedPosteriorPlan.GatherIndex"/>.
    /// </summary>
    string ScatterIndex(OnnxGraphBuilder g, long start, long count)
    {
        var compact = Plan.CompactComponentIndex;
        var part = Array.CreateInstance(compact.GetType().GetElementType()!, count);
        Array.Copy(compact, start, part, 0, count);
        string index = g.Node("Cast", new[] { g.IndexInitializer("component_index", part) }, ("to", (long)DataType.Int64));
        int k = Plan.Components.Length, o = Plan.OutlierPositions.Length;
        var positions = new List<long>();
        var slots = new List<long>();
        for (int j = 0; j < o; j++)
            if (Plan.OutlierPositions[j] >= start && Plan.OutlierPositions[j] < start + count) { positions.Add(Plan.OutlierPositions[j] - start); slots.Add(k + j); }
        for (int e = 0; e < Plan.EllipsePositions.Length; e++)
            if (Plan.EllipsePositions[e] >= start && Plan.EllipsePositions[e] < start + count) { positions.Add(Plan.EllipsePositions[e] - start); slots.Add(k + o + e); }
        if (positions.Count == 0) return index;
        return g.Node("ScatterElements", new[] { index, g.Initializer("positions", positions.ToArray(), positions.Count), g.Initializer("slots", slots.ToArray(), slots.Count) }, ("axis", 0L));
    }

    (Tensor Z, Tensor OutlierSigma) DrawComponents(NoiseSource noise)
    {
        var (mean, cholesky) = ComponentTables();
        var z = mean.Plus(CholeskyTimes(cholesky, noise.Normal(mean)));
        var outlierSigma = ScalarSafeOps.Add(ScalarSafeOps.Softplus(outliers_rho), StochasticLayer.SigmaFloor);
        return (z, outlierSigma);
    }

    /// <summary>The shared posterior's KL; its prior is the one fitted in stage 2 (<paramref name="priorSigma"/> is stage 1's and plays no part).</summary>
    Tensor IWeightPosterior.KL(double priorSigma) => KL();

    /// <summary>KL(q || prior): closed-form 2-D KL per component plus 1-D KL per outlier, summed.</summary>
    /// <remarks>
    /// Per component, with q = N(m, L L^T) and the prior N(m0, S0) of precision P = S0^-1:
    /// KL = 0.5 (tr(P L L^T) + (m - m0)^T P (m - m0) - 2 + log det S0 - log det L L^T). Everything that depends on the
    /// prior alone is computed once (<see cref="PriorConstants"/>), and the terms in q are sums of products of whole
    /// [K, 3] and [K, 2] tables: it runs every training step, where each small tensor operation costs about as much
    /// as a layer's worth of arithmetic at these sizes (from some 75 operations to some 40).
    /// </remarks>
    public Tensor KL()
    {
        var c = PriorConstants();
        var (mean, cholesky) = ComponentTables();
        // [l11, l21, l22] from the raw table [log l11, l21, log l22]: exp of the masked table is 1 in the l21 column.
        var l = (cholesky * c.LogColumns).exp().mul(c.LogColumns).addcmul(cholesky, c.PlainColumn, ScalarSafeOps.OneScalar);
        // tr(P L L^T) = Pxx l11^2 + Pyy (l21^2 + l22^2) + 2 Pxy l11 l21.
        var trace = l.Square().mul(c.TraceWeights).sum().Plus(l.select(1, 0).mul(l.select(1, 1)).mul(c.TwicePxy).sum());
        var d = mean.Minus(prior_mean);
        var quad = d.Square().mul(c.QuadWeights).sum().Plus(d.select(1, 0).mul(d.select(1, 1)).mul(c.TwicePxy).sum());
        // log det(L L^T) = 2 (log l11 + log l22): the raw table's first and last columns.
        var logDetQ = cholesky.mul(c.TwiceLogColumns).sum();
        var components = trace.Plus(quad).Minus(logDetQ).mul(c.Half);

        var sigma = ScalarSafeOps.Add(ScalarSafeOps.Softplus(outliers_rho), StochasticLayer.SigmaFloor);
        var outliers = sigma.Square().Plus(outliers_mu.Minus(prior_outlier_mu).Square()).mul(c.InverseTwicePriorVariance).sum()
            .Minus(sigma.log().sum());
        return components.Plus(outliers).Plus(c.Constant);
    }

    /// <summary>
    /// The KL's terms that depend on the prior alone, on the prior's device and dtype (recomputed after the module
    /// moves). Not module buffers: they are derived, so they stay out of the state dict.
    /// </summary>
    sealed record KlConstants(Device Device, ScalarType DType, Tensor LogColumns, Tensor PlainColumn, Tensor TwiceLogColumns,
        Tensor TraceWeights, Tensor QuadWeights, Tensor TwicePxy, Tensor InverseTwicePriorVariance, Tensor Half, Tensor Constant) : IDisposable
    {
        public void Dispose()
        {
            foreach (var t in new[] { LogColumns, PlainColumn, TwiceLogColumns, TraceWeights, QuadWeights, TwicePxy, InverseTwicePriorVariance, Half, Constant })
                t.Dispose();
        }
    }

    KlConstants? _klConstants;

    KlConstants PriorConstants()
    {
        var device = prior_cholesky.device;
        var dtype = prior_cholesky.dtype;
        if (_klConstants is { } cached && cached.Device.type == device.type && cached.Device.index == device.index && cached.DType == dtype)
            return cached;
        _klConstants?.Dispose();
        using (no_grad())
        using (NewDisposeScope())
        {
            var p = CovarianceParts(prior_cholesky);
            var det = (p.xx * p.yy).Minus(p.xy * p.xy);
            var pxx = p.yy / det; var pxy = -p.xy / det; var pyy = p.xx / det;
            var two = ScalarSafeOps.Constant(2, prior_cholesky);
            var logDetP = prior_cholesky[.., 0].Plus(prior_cholesky[.., 2]) * two;
            var priorSigma = prior_outlier_sigma;
            // 0.5 sum(log det S0 - 2) + sum(log sigma0 - 0.5): the KL's constant part.
            var constant = (ScalarSafeOps.Add(logDetP, -2).sum() * ScalarSafeOps.Constant(0.5, logDetP))
                .Plus(ScalarSafeOps.Add(priorSigma.log(), -0.5).sum());
            Tensor Keep(Tensor t) => t.contiguous().DetachFromDisposeScope();
            Tensor Row(params double[] v) => Keep(tensor(v, dtype: dtype, device: device));
            _klConstants = new KlConstants(device, dtype,
                LogColumns: Row(1, 0, 1), PlainColumn: Row(0, 1, 0), TwiceLogColumns: Row(2, 0, 2),
                TraceWeights: Keep(stack(new[] { pxx, pyy, pyy }, 1)), QuadWeights: Keep(stack(new[] { pxx, pyy }, 1)), TwicePxy: Keep(pxy * two),
                InverseTwicePriorVariance: Keep((priorSigma.Square() * two).reciprocal()), Half: Keep(ScalarSafeOps.Constant(0.5, prior_cholesky)),
                Constant: Keep(constant));
        }
        return _klConstants;
    }

    /// <summary>Current components as 2-D Gaussians (for statistics, plots and re-merging).</summary>
    public Gaussian2[] CurrentComponents()
    {
        using var scope = NewDisposeScope();
        var (mean, cholesky) = ComponentTables();
        var m = mean.detach().cpu().data<float>().ToArray();
        var l = cholesky.detach().cpu().data<float>().ToArray();
        return Enumerable.Range(0, m.Length / 2).Select(c =>
            Gaussian2.FromCholesky(m[2 * c], m[2 * c + 1], Math.Exp(l[3 * c]), l[3 * c + 1], Math.Exp(l[3 * c + 2]))).ToArray();
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing) _klConstants?.Dispose();
        base.Dispose(disposing);
    }

    Tensor Blend(Tensor perComponent)
    {
        if (Plan.EllipsePositions.Length == 0) return perComponent.new_empty(0);
        return (perComponent.index_select(0, ellipse_first) * ellipse_alpha[.., 0])
            .Plus(perComponent.index_select(0, ellipse_second) * ellipse_alpha[.., 1]);
    }

    static Tensor CholeskyTimes(Tensor raw, Tensor eps)
    {
        var l11 = raw[.., 0].exp(); var l21 = raw[.., 1]; var l22 = raw[.., 2].exp();
        var e0 = eps[.., 0]; var e1 = eps[.., 1];
        return stack(new[] { l11 * e0, (l21 * e0).Plus(l22 * e1) }, 1);
    }

    static (Tensor xx, Tensor xy, Tensor yy) CovarianceParts(Tensor raw)
    {
        var l11 = raw[.., 0].exp(); var l21 = raw[.., 1]; var l22 = raw[.., 2].exp();
        return (l11 * l11, l11 * l21, (l21 * l21).Plus(l22 * l22));
    }
}

/// <summary>
/// The least variances of stage 3's prior, in original units: of the weight coordinate (the outliers' prior sigma is
/// at least its square root) and of log sigma. Why: the empirical-Bayes prior is stage 2's fit, whose variances can be
/// as small as the data's own spread (about 1e-18 for log sigma after a stage 1 that learned no scale); one optimiser
/// step then moves q by 10^4 prior standard deviations and the KL explodes. A prior that is broader than q's start
/// keeps the KL bounded and lets the data, not the fit, set the scales.
/// </summary>
/// <param name="Weight">Least variance of a component's weight coordinate (and squared sigma of an outlier's prior).</param>
/// <param name="LogSigma">Least variance of a component's log-sigma coordinate.</param>
internal sealed record PriorVarianceFloors(double Weight, double LogSigma)
{
    /// <summary><paramref name="g"/> with its variances raised to the floors (the covariance scaled to stay positive definite).</summary>
    public Gaussian2 Apply(Gaussian2 g)
    {
        double sxx = Math.Max(g.Sxx, Weight), syy = Math.Max(g.Syy, LogSigma);
        // Keep the correlation: raising a variance alone cannot break positive definiteness, scaling Sxy keeps the shape.
        double sxy = g.Sxx > 0 && g.Syy > 0 ? g.Sxy * Math.Sqrt(sxx / g.Sxx * (syy / g.Syy)) : 0;
        return g with { Sxx = sxx, Sxy = sxy, Syy = syy };
    }
}
