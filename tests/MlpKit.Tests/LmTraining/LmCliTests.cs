using System.Text.Json;
using MlpKit.Tests.Support;
using Xunit;

namespace MlpKit.Tests.LmTraining;

[Collection(MlpKit.Tests.Training.TorchRngCollection.Name)]
public class LmCliTests
{
    static readonly string[] Tiny =
        ["--experts", "4", "--expert-size", "8", "--k", "2", "--layers", "1", "--d-model", "16", "--heads", "2", "--context", "16",
         "--batch", "4", "--warmup", "1", "--threads", "1"];

    static string Corpus()
    {
        var file = Path.Combine(TestPaths.TempDir(), "tiny.txt");
        File.WriteAllText(file, TinyLm.Text(60));
        return file;
    }

    [Fact]
    public void TrainThenEvalRoundTrip()
    {
        var corpus = Corpus();
        var run = Path.Combine(TestPaths.TempDir(), "run");
        var t = CliHarness.Run(["train-lm", "--data", corpus, "--ffn", "sigma-moe", "--steps", "6", "--eval-every", "3", "--out", run, .. Tiny]);
        Assert.True(t.ExitCode == 0, t.ToString());
        foreach (var f in new[] { "config.json", "metrics.jsonl", "curves.png", "report.json", "usage.png", "best/model.safetensors", "checkpoint/trainer.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"missing {f}\n{t}");
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        var r = report.RootElement;
        Assert.Equal(6, r.GetProperty("steps").GetInt64());
        Assert.Equal(1, r.GetProperty("usage").GetArrayLength());
        Assert.Equal(4, r.GetProperty("usage")[0].GetProperty("counts").GetArrayLength());
        Assert.InRange(r.GetProperty("nominal_compute_percent").GetDouble(), 49.99, 50.01);   // K/N_E = 2/4

        var e = CliHarness.Run("eval-lm", "--run", run, "--data", corpus, "--split", "valid", "--json", "--threads", "1");
        Assert.True(e.ExitCode == 0, e.ToString());
        using var ev = JsonDocument.Parse(e.Stdout);
        var ppl = ev.RootElement.GetProperty("perplexity").GetDouble();
        // eval-lm reloads best/ from disk; report.json scored the same weights in the training process.
        Assert.Equal(r.GetProperty("valid_perplexity").GetDouble(), ppl, 4);
        var loss = ev.RootElement.GetProperty("loss").GetDouble();
        var tokens = ev.RootElement.GetProperty("tokens").GetInt64();
        var chars = ev.RootElement.GetProperty("chars").GetInt64();
        Assert.Equal(loss * tokens / chars / Math.Log(2), ev.RootElement.GetProperty("bits_per_char").GetDouble(), 9);

        var test = CliHarness.Run("eval-lm", "--run", run, "--data", corpus, "--split", "test", "--threads", "1");
        Assert.True(test.ExitCode == 0, test.ToString());
        Assert.Contains("bits/char", test.Stdout);

        // generate reads the run folder too: byte tokens, greedy, the same ids twice, as many as asked.
        string[] gen = ["generate", "--model", run, "--prompt", "The ", "--max-new-tokens", "5", "--json", "--threads", "1"];
        var g1 = CliHarness.Run(gen);
        Assert.True(g1.ExitCode == 0, g1.ToString());
        using var gj = JsonDocument.Parse(g1.Stdout);
        Assert.Equal(new[] { 84, 104, 101, 32 }, gj.RootElement.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()));
        Assert.Equal(5, gj.RootElement.GetProperty("generated_ids").GetArrayLength());
        Assert.Equal(g1.Stdout, CliHarness.Run(gen).Stdout);
    }

    [Fact]
    public void TrainedBpeIsLearnedOnceAndReusedByEval()
    {
        var corpus = Corpus();
        var run = Path.Combine(TestPaths.TempDir(), "run");
        var t = CliHarness.Run(["train-lm", "--data", corpus, "--tokenizer", "bpe:300", "--ffn", "dense", "--steps", "2", "--out", run, .. Tiny]);
        Assert.True(t.ExitCode == 0, t.ToString());
        var vocab = Path.Combine(run, "tokenizer", "vocab.json");
        Assert.True(File.Exists(vocab) && File.Exists(Path.Combine(run, "tokenizer", "merges.txt")), t.ToString());
        var written = File.GetLastWriteTimeUtc(vocab);
        using var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json")));
        var e = CliHarness.Run("eval-lm", "--run", run, "--split", "valid", "--json", "--threads", "1");
        Assert.True(e.ExitCode == 0, e.ToString());
        using var ev = JsonDocument.Parse(e.Stdout);
        Assert.Equal(report.RootElement.GetProperty("valid_perplexity").GetDouble(), ev.RootElement.GetProperty("perplexity").GetDouble(), 4);
        Assert.Equal(written, File.GetLastWriteTimeUtc(vocab));
    }

    [Fact]
    public void ResumeContinuesAFinishedOrStoppedRunFromItsCheckpoint()
    {
        var corpus = Corpus();
        var run = Path.Combine(TestPaths.TempDir(), "run");
        Assert.Equal(0, CliHarness.Run(["train-lm", "--data", corpus, "--ffn", "dense", "--steps", "3", "--out", run, .. Tiny]).ExitCode);
        var again = CliHarness.Run("train-lm", "--out", run, "--resume", "--threads", "1");
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("resumed at step 3", again.Stderr);
    }

    [Fact]
    public void UnknownFfnIsAOneLineError()
    {
        var r = CliHarness.Run(["train-lm", "--data", Corpus(), "--ffn", "bogus", "--steps", "2", "--out", TestPaths.TempDir(), .. Tiny]);
        CliHarness.AssertUserError(r, "bogus", "sigma-moe");
    }

    [Fact]
    public void MissingCorpusFileIsAOneLineError()
    {
        var missing = Path.Combine(TestPaths.TempDir(), "nope.txt");
        var r = CliHarness.Run(["train-lm", "--data", missing, "--ffn", "dense", "--steps", "2", "--out", TestPaths.TempDir(), .. Tiny]);
        CliHarness.AssertUserError(r, "nope.txt", "not found");
        CliHarness.AssertUserError(CliHarness.Run("eval-lm", "--run", TestPaths.TempDir()), "config.json");
    }
}
