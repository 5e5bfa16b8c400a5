namespace MlpKit.Runtime;

/// <summary>
/// Who may finish their work after Ctrl+C. A command's front end stops the process a moment after Ctrl+C (phases with
/// nothing to save: loading, compressing, evaluating) unless a hold is taken: the trainer holds one while it runs, so
/// it can end the current step and write its checkpoint before it returns.
/// </summary>
public static class GracefulStop
{
    static int _holds;

    public static bool Held => Volatile.Read(ref _holds) > 0;

    /// <summary>Until disposed, an interrupted command waits for the holder instead of stopping the process.</summary>
    public static IDisposable Hold()
    {
        Interlocked.Increment(ref _holds);
        return new Release();
    }

    sealed class Release : IDisposable
    {
        int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0) Interlocked.Decrement(ref _holds);
        }
    }
}
