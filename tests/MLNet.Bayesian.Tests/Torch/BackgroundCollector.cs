using TorchSharp;

namespace MLNet.Bayesian.Tests.Torch;

/// <summary>
/// Collects and finalizes without pause on another thread until disposed, with garbage Scalars in the finalizer queue so
/// that freed native memory is reused quickly: the conditions under which a temporary Scalar handed to LibTorch fails.
/// </summary>
internal sealed class BackgroundCollector : IDisposable
{
    readonly CancellationTokenSource _stop = new();
    readonly Task _task;

    public BackgroundCollector()
    {
        _task = Task.Run(() =>
        {
            while (!_stop.IsCancellationRequested)
            {
                for (int i = 0; i < 64; i++) _ = (i + 0.5).ToScalar();
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        });
    }

    public void Dispose()
    {
        _stop.Cancel();
        _task.Wait();
        _stop.Dispose();
    }
}
