using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;

namespace MLNet.Bayesian.Cli.Review;

/// <summary>
/// PredictionEngines shared by the requests of a web server, as Microsoft.Extensions.ML's PredictionEnginePool does (that
/// package is not served here): an engine is not thread-safe and costs far more to create than to use, so each request
/// borrows one and gives it back. Built on ASP.NET Core's <see cref="ObjectPool{T}"/>; at most
/// <paramref name="retained"/> engines are kept, more are created under a burst and disposed when given back.
/// </summary>
internal sealed class PredictionEnginePool<TIn, TOut> : IDisposable where TIn : class where TOut : class, new()
{
    readonly ObjectPool<PredictionEngine<TIn, TOut>> _pool;

    public PredictionEnginePool(Func<PredictionEngine<TIn, TOut>> create, int retained)
        => _pool = new DefaultObjectPoolProvider { MaximumRetained = retained }.Create(new Policy(create));

    /// <summary>Runs <paramref name="input"/> through a borrowed engine.</summary>
    public TOut Predict(TIn input)
    {
        var engine = _pool.Get();
        try { return engine.Predict(input); }
        finally { _pool.Return(engine); }
    }

    // The provider makes a pool that disposes the engines it drops and, when disposed, those it holds.
    public void Dispose() => (_pool as IDisposable)?.Dispose();

    sealed class Policy(Func<PredictionEngine<TIn, TOut>> create) : IPooledObjectPolicy<PredictionEngine<TIn, TOut>>
    {
        public PredictionEngine<TIn, TOut> Create() => create();
        public bool Return(PredictionEngine<TIn, TOut> engine) => true;
    }
}
