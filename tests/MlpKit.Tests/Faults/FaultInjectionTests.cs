using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MlpKit.Tests.FineTuning;
using MlpKit.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace MlpKit.Tests.Faults;

/// <summary>
/// The fault-injection suite: compress, finetune and train-lm run as separate `mlpkit` processes that are killed
/// (SIGKILL, no chance to clean up) at random moments, restarted (with --resume where the command has it) and killed
/// again, until one run finishes. After every kill each output must be absent or load; every restart must continue
/// from the last checkpoint (no lost progress); the finished chain must equal an uninterrupted run (same weights, same
/// metrics, the same metrics.jsonl rows) and leave no temporaries behind.
///
/// CI runs <see cref="DefaultKills"/> kills per command; `tools/faults/run.sh N` runs N per command (the full run
/// uses 20, i.e. 60 kills) through the MLPKIT_FAULT_KILLS variable. Each test writes its tally to
/// artifacts/faults/COMMAND.json.
/// </summary>
public class FaultInjectionTests(ITestOutputHelper output)
{
    const int DefaultKills = 3;

    static int Kills => int.TryParse(Environment.GetEnvironmentVariable("MLPKIT_FAULT_KILLS"), out var k) && k > 0 ? k : DefaultKills;

    [Fact]
    public void CompressKilledAtRandomLeavesNoHalfFolder()
    {
        var model = FinetuneCommandTests.TinyBertWithData(out _, out _);
        var root = TestPaths.TempDir();
        var calib = Path.Combine(root, "calib.txt");
        File.WriteAllLines(calib, Enumerable.Range(0, 64).Select(i => $"the film was {(i % 3 == 0 ? "good" : i % 3 == 1 ? "awful" : "fun")} and the plot was {(i % 2 == 0 ? "boring" : "great")}"));
        string[] Args(string outDir) => ["--threads", "1", "compress", "--model", model, "--ratio", "0.5", "--calib", calib, "--ntk-samples", "0",
            "--out", outDir, "--report", outDir + ".report.json"];

        var baseline = Path.Combine(root, "baseline", "out");
        Assert.True(Cli.Run(Args(baseline)).ExitCode == 0);
        var expected = Hashes(baseline);

        var tally = new Tally("compress");
        var parent = Path.Combine(root, "chain");
        var outDir = Path.Combine(parent, "out");
        var budget = Cli.Duration(Args(Path.Combine(root, "timing", "out")));
        var rng = new Random(7);
        while (tally.Kills < Kills)
        {
            if (Directory.Exists(parent)) Directory.Delete(parent, recursive: true);
            // A chain: kill, check, rerun, until one run finishes; then the output must equal the baseline's. Compress
            // restarts from scratch, so under load (runs slower than the timed one) a chain could go on for minutes: after
            // 8 kills in a chain the next run is left to finish.
            var killsInChain = 0;
            while (true)
            {
                var killed = Cli.RunAndMaybeKill(Args(outDir), killsInChain++ >= 8 ? 600 : rng.NextDouble() * budget);
                if (killed) tally.Kills++;
                // After a kill the folder is absent or whole: it loads and holds every file of a finished run.
                if (Directory.Exists(outDir))
                {
                    if (!Loads(outDir) || !Hashes(outDir).Keys.SequenceEqual(expected.Keys)) tally.Corrupted++;
                }
                if (!killed) break;
            }
            if (!Hashes(outDir).SequenceEqual(expected)) tally.Mismatched++;
            // Whatever a killed run staged was removed by the run that finished.
            var extra = Directory.EnumerateFileSystemEntries(parent).Select(Path.GetFileName).Except(["out", "out.report.json"]).ToList();
            if (extra.Count > 0) { tally.Leftovers += extra.Count; output.WriteLine($"leftovers: {string.Join(", ", extra)}"); }
            tally.Chains++;
        }
        tally.AssertClean(output);
    }

    [Fact]
    public void FinetuneKilledAtRandomResumesToTheSameResult()
    {
        var model = FinetuneCommandTests.TinyBertWithData(out var train, out var dev, trainRows: 64, devRows: 16);
        string[] Args(string run, bool resume) => ["--threads", "1", "finetune", "--model", model, "--train", train, "--dev", dev, "--test", dev,
            "--method", "sparsegrad", "--density", "0.05", "--method-option", "calibration-steps=2", "--max-steps", "24", "--batch-size", "8",
            "--eval-every", "8", "--checkpoint-every", "3", "--out", run, .. (resume ? new[] { "--resume" } : [])];
        TrainingChains("finetune", (run, resume) => Args(run, resume),
            run => Path.Combine(run, "metrics.json"), metrics => ["dev", "test", "steps", "best_step"],
            run => Directory.Exists(Path.Combine(run, "model")) && !Loads(Path.Combine(run, "model")));
    }

    [Fact]
    public void TrainLmKilledAtRandomResumesToTheSameResult()
    {
        var root = TestPaths.TempDir();
        var corpus = Path.Combine(root, "corpus.txt");
        var rng = new Random(3);
        var words = new[] { "the", "union", "state", "of", "our", "nation", "is", "strong", "people", "work", "together" };
        File.WriteAllLines(corpus, Enumerable.Range(0, 400).Select(_ => string.Join(' ', Enumerable.Range(0, 12).Select(_ => words[rng.Next(words.Length)]))));
        string[] Args(string run, bool resume) => resume
            ? ["--threads", "1", "train-lm", "--out", run, "--resume"]
            : ["--threads", "1", "train-lm", "--data", corpus, "--ffn", "sigma-moe", "--experts", "4", "--expert-size", "16", "--k", "2",
               "--layers", "1", "--d-model", "32", "--heads", "2", "--context", "32", "--batch", "4", "--steps", "24", "--warmup", "3",
               "--eval-every", "8", "--eval-tokens", "2048", "--report-tokens", "2048", "--checkpoint-every", "3", "--out", run];
        TrainingChains("train-lm", Args, run => Path.Combine(run, "report.json"), _ => null, _ => false);
    }

    /// <summary>
    /// Chains of killed and resumed training runs. <paramref name="result"/> names the file a finished run writes last;
    /// <paramref name="fields"/> the fields of it that must equal the uninterrupted run's (null: all but timings);
    /// <paramref name="badOutput"/> says whether a killed run left an output that does not load.
    /// </summary>
    void TrainingChains(string command, Func<string, bool, string[]> args, Func<string, string> result,
        Func<JsonObject, string[]?> fields, Func<string, bool> badOutput)
    {
        var root = TestPaths.TempDir();
        var baseline = Path.Combine(root, "baseline");
        Assert.True(Cli.Run(args(baseline, false)).ExitCode == 0);
        var expected = Comparable(JsonNode.Parse(File.ReadAllText(result(baseline)))!.AsObject(), fields);
        var expectedLog = LogRows(baseline);

        var tally = new Tally(command);
        var budget = Cli.Duration(args(Path.Combine(root, "timing"), false));
        var rng = new Random(11);
        var run = Path.Combine(root, "chain");
        while (tally.Kills < Kills)
        {
            if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
            long checkpointStep = -1;
            while (true)
            {
                var resume = CheckpointStep(run) is not null;
                var killed = Cli.RunAndMaybeKill(args(run, resume), rng.NextDouble() * budget);
                if (killed) tally.Kills++;
                var step = CheckpointStep(run);
                // Progress is never lost: the checkpoint a restart began from is never replaced by an earlier one.
                if (step is { } s && s < checkpointStep) tally.Lost++;
                if (step is { } s2) checkpointStep = s2;
                if (badOutput(run)) tally.Corrupted++;
                if (!killed) break;
            }
            var got = File.Exists(result(run)) ? Comparable(JsonNode.Parse(File.ReadAllText(result(run)))!.AsObject(), fields) : "(missing)";
            if (got != expected) { tally.Mismatched++; output.WriteLine($"expected {expected}\n     got {got}"); }
            // metrics.jsonl is cut back to the resumed step and appended, never truncated: the same rows as one run.
            if (!LogRows(run).SequenceEqual(expectedLog)) { tally.Mismatched++; output.WriteLine("metrics.jsonl differs from the uninterrupted run's"); }
            var temps = Directory.EnumerateFileSystemEntries(run, "*", SearchOption.AllDirectories)
                .Where(p => p.Contains(".tmp", StringComparison.Ordinal) || p.Contains(".staging-", StringComparison.Ordinal) || p.EndsWith(".old", StringComparison.Ordinal)).ToList();
            if (temps.Count > 0) { tally.Leftovers += temps.Count; output.WriteLine($"leftovers: {string.Join(", ", temps)}"); }
            tally.Chains++;
        }
        tally.AssertClean(output);
    }

    /// <summary>The step of RUN/checkpoint, read as --resume reads it; null when there is none.</summary>
    static long? CheckpointStep(string run)
    {
        try
        {
            var dir = MlpKit.Training.TrainerCheckpoint.ResolveForResume(Path.Combine(run, "checkpoint"));
            return MlpKit.Training.TrainerCheckpoint.ReadState(dir).Step;
        }
        catch (MlpKit.MlpKitException) { return null; }
    }

    /// <summary>The result JSON without what depends on the clock or the process (times, speeds, memory).</summary>
    static string Comparable(JsonObject o, Func<JsonObject, string[]?> fields)
    {
        var keep = fields(o);
        var copy = new JsonObject();
        foreach (var (k, v) in o)
        {
            if (keep is not null ? !keep.Contains(k) : IsTiming(k)) continue;
            copy[k] = v?.DeepClone();
        }
        return copy.ToJsonString();
    }

    static bool IsTiming(string key) => key.Contains("second", StringComparison.Ordinal) || key.Contains("rss", StringComparison.Ordinal)
        || key.Contains("per_s", StringComparison.Ordinal) || key.Contains("elapsed", StringComparison.Ordinal) || key.Contains("time", StringComparison.Ordinal);

    /// <summary>metrics.jsonl rows without timings.</summary>
    static List<string> LogRows(string run)
    {
        var path = Path.Combine(run, "metrics.jsonl");
        if (!File.Exists(path)) return [];
        return File.ReadLines(path).Where(l => l.Length > 0)
            .Select(l => Comparable(JsonNode.Parse(l)!.AsObject(), _ => null)).ToList();
    }

    static bool Loads(string dir)
    {
        try
        {
            using var m = MlpKit.Models.ModelZoo.Load(dir);
            return true;
        }
        catch (Exception) { return false; }
    }

    static SortedDictionary<string, string> Hashes(string dir) => new(
        Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);

    sealed class Tally(string command)
    {
        public int Kills, Chains, Corrupted, Lost, Mismatched, Leftovers;

        public void AssertClean(ITestOutputHelper output)
        {
            var line = $"{command}: {Kills} kills over {Chains} chains; corrupted outputs {Corrupted}, lost progress {Lost}, " +
                       $"results different from an uninterrupted run {Mismatched}, leftover temporaries {Leftovers}";
            output.WriteLine(line);
            var dir = Path.Combine(TestPaths.RepoRoot, "artifacts", "faults");
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, command + ".json"), new JsonObject
            {
                ["command"] = command, ["kills"] = Kills, ["chains"] = Chains, ["corrupted"] = Corrupted, ["lost_progress"] = Lost,
                ["mismatched"] = Mismatched, ["leftovers"] = Leftovers, ["summary"] = line,
            }.ToJsonString() + "\n");
            Assert.True(Corrupted == 0 && Lost == 0 && Mismatched == 0 && Leftovers == 0, line);
        }
    }

    /// <summary>`mlpkit` as a child process (the CLI assembly beside the tests), so a kill is a real SIGKILL.</summary>
    static class Cli
    {
        static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "MlpKit.Cli.dll");

        public static (int ExitCode, string Stderr) Run(string[] args)
        {
            using var p = Start(args);
            var err = p.StandardError.ReadToEndAsync();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"mlpkit {string.Join(' ', args)}: exit {p.ExitCode}\n{err.Result}");
            return (p.ExitCode, err.Result);
        }

        /// <summary>Seconds an uninterrupted run takes (startup included): the range the kill moments are drawn from.</summary>
        public static double Duration(string[] args)
        {
            var clock = Stopwatch.StartNew();
            Run(args);
            return clock.Elapsed.TotalSeconds;
        }

        /// <summary>Runs; kills it (SIGKILL) after <paramref name="seconds"/> unless it finished. True when it was killed.</summary>
        public static bool RunAndMaybeKill(string[] args, double seconds)
        {
            using var p = Start(args);
            var err = p.StandardError.ReadToEndAsync();
            if (p.WaitForExit(TimeSpan.FromSeconds(seconds)))
            {
                Assert.True(p.ExitCode == 0, $"mlpkit {string.Join(' ', args)}: exit {p.ExitCode}\n{err.Result}");
                return false;
            }
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return true;
        }

        static Process Start(string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            psi.ArgumentList.Add(Dll);
            foreach (var a in args) psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            _ = p.StandardOutput.ReadToEndAsync();   // drained, so a full pipe never blocks the child
            return p;
        }
    }
}
