using System.CommandLine;
using System.Text.Json;

namespace MlpKit.Cli;

/// <summary>
/// Runs a command body with the project's error contract: a user error (bad input, missing file) prints one
/// line naming the file and field and exits 2; anything else exits 1; stack traces only with --verbose.
/// </summary>
public static class CliRun
{
    public const int Ok = 0;
    public const int InternalError = 1;
    public const int UserError = 2;
    public const int Interrupted = 130;

    public static void SetAction(Command command, Func<CliContext, int> body) =>
        command.SetAction((parse, cancel) => Task.FromResult(Execute(parse, cancel, body)));

    public static int Execute(ParseResult parse, CancellationToken cancel, Func<CliContext, int> body)
    {
        var ctx = CliContext.From(parse, cancel);
        var finished = new ManualResetEventSlim();
        using var watchdog = cancel.Register(() => StopSoon(finished));
        try
        {
            return body(ctx);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("mlpkit: interrupted");
            return Interrupted;
        }
        catch (Exception e) when (UserMessage(e) is { } message)
        {
            Console.Error.WriteLine($"mlpkit: error: {message}");
            if (ctx.Verbose) Console.Error.WriteLine(e);
            return UserError;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"mlpkit: internal error: {e.GetType().Name}: {e.Message}" +
                                    (ctx.Verbose ? "" : " (run with --verbose for the stack trace)"));
            if (ctx.Verbose) Console.Error.WriteLine(e);
            return InternalError;
        }
        finally
        {
            finished.Set();
        }
    }

    /// <summary>
    /// Ctrl+C: library phases check the token where they can stop cleanly (between training steps, evaluation batches,
    /// layers). Whatever is still running two seconds later, and is not holding a <see cref="MlpKit.Runtime.GracefulStop"/>
    /// (the trainer, finishing its step and checkpoint), is stopped here: outputs are written atomically, so nothing
    /// half-written is left behind, and the next run removes any staging leftovers.
    /// </summary>
    static void StopSoon(ManualResetEventSlim finished) => new Thread(() =>
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var lastHeld = TimeSpan.Zero;
        while (!finished.Wait(100))
        {
            // A released hold gets a second more, for the command to say where its checkpoint is.
            if (MlpKit.Runtime.GracefulStop.Held) lastHeld = clock.Elapsed;
            if (clock.Elapsed.TotalSeconds < 2 || MlpKit.Runtime.GracefulStop.Held || (lastHeld > TimeSpan.Zero && (clock.Elapsed - lastHeld).TotalSeconds < 1)) continue;
            Console.Error.WriteLine("mlpkit: interrupted");
            Console.Error.Flush();
            // _exit, not Environment.Exit: the main thread is inside libtorch, and running its static destructors
            // under it would turn a clean stop into a crash report.
            if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) ExitNow(Interrupted);
            Environment.Exit(Interrupted);
        }
    }) { IsBackground = true, Name = "mlpkit-interrupt" }.Start();

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "_exit")]
    static extern void ExitNow(int status);

    /// <summary>The one-line message for errors caused by the user's input, or null for program faults.</summary>
    static string? UserMessage(Exception e) => e switch
    {
        MlpKitException m => m.Message,
        FileNotFoundException f => f.FileName is { } name ? $"{name}: file not found" : f.Message,
        DirectoryNotFoundException d => d.Message,
        UnauthorizedAccessException u => u.Message,
        JsonException j => $"malformed JSON: {j.Message}",
        _ => null,
    };
}
