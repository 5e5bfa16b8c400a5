using MlpKit.Tests.FineTuning;
using MlpKit.Tests.Models;
using MlpKit.Tests.Support;
using Xunit;

namespace MlpKit.Tests.Cli;

/// <summary>Inputs a newcomer gets wrong: each is one line naming the option, file or field, exit 2, before any long work.</summary>
public class NewcomerMistakesTests
{
    [Fact]
    public void OptionValuesAreCheckedAndNamedInPlainWords()
    {
        var threads = CliHarness.Run("--threads", "-3", "info", "--model", ZooFixtureTests.Dir("bert"));
        CliHarness.AssertUserError(threads, "--threads -3");
        var ratio = CliHarness.Run("compress", "--model", ZooFixtureTests.Dir("bert"), "--ratio", "abc", "--out", TestPaths.TempDir());
        Assert.Equal(2, ratio.ExitCode);
        Assert.Contains("as a number", ratio.Stderr);
        Assert.DoesNotContain("System.", ratio.Stderr);
    }

    [Fact]
    public void TaskFilesMustBeUtf8AndTheRunFolderMustBeResumableOrAFolder()
    {
        var model = FinetuneCommandTests.TinyBertWithData(out var train, out var dev);
        var root = TestPaths.TempDir();
        var latin1 = Path.Combine(root, "latin1.tsv");
        File.WriteAllBytes(latin1, [.. "text\tlabel\nthe film was good\tpos\nthe "u8, 0xE9, .. " film\tneg\n"u8]);
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", latin1, "--dev", dev, "--method", "full", "--out", Path.Combine(root, "a")),
            "latin1.tsv", "line 3", "UTF-8");
        var file = Path.Combine(root, "a-file");
        File.WriteAllText(file, "x");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--method", "full", "--out", file), "--out", "is a file");
        CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--method", "full", "--resume", "--out", Path.Combine(root, "new")),
            "--resume", "nothing to resume");
        // Without --test the test score is "n/a", not NaN.
        var run = CliHarness.Run("finetune", "--model", model, "--train", train, "--dev", dev, "--method", "full", "--max-steps", "2", "--no-progress", "--out", Path.Combine(root, "ok"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("test n/a", run.Stdout);
        Assert.DoesNotContain("NaN", run.Stdout);
    }
}

public class UnwritableOutputTests
{
    [Fact]
    public void OutputsThatCannotBeWrittenAreRefusedWhenTheCommandLineIsRead()
    {
        var model = ZooFixtureTests.Dir("bert");
        var file = Path.Combine(TestPaths.TempDir(), "a-file");
        File.WriteAllText(file, "x");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        CliHarness.AssertUserError(CliHarness.Run("compress", "--model", model, "--ratio", "0.5", "--out", Path.Combine(TestPaths.TempDir(), "c"),
            "--report", Path.Combine(file, "r.json")), "--report", "a-file is a file, not a folder");
        CliHarness.AssertUserError(CliHarness.Run("compress", "--model", model, "--ratio", "0.5", "--out", file), "--out", "is a file, not a folder");
        CliHarness.AssertUserError(CliHarness.Run("train-lm", "--data", file, "--steps", "2", "--out", Path.Combine(file, "run")), "--out", "is a file");
        CliHarness.AssertUserError(CliHarness.Run("export", "--format", "onnx", "--model", model, "--out", TestPaths.TempDir()), "--out", "is a folder, not a file");
        if (Directory.Exists("/proc/self"))   // a folder nobody can create files in
            CliHarness.AssertUserError(CliHarness.Run("finetune", "--model", model, "--task", "spam", "--out", "/proc/self/run"), "--out /proc/self/run", "cannot write into");
        Assert.True(clock.Elapsed.TotalSeconds < 20, "refused before any work");
    }
}

public class DamagedWeightsTests
{
    [Theory]
    [InlineData("fusion")]
    [InlineData("prune-obs")]
    public void NanWeightsAreOneLineNamingTheBlockBeforeAnyWork(string method)
    {
        var dir = TestPaths.TempDir();
        using (var model = MlpKit.Models.ModelZoo.Create(MlpKit.Models.ModelZoo.Presets("bert", "tiny", vocabSize: 50), seed: 1))
        {
            using (TorchSharp.torch.no_grad()) model.FeedForwards[1].GetWeights().Up.fill_(double.NaN);
            MlpKit.Models.ModelZoo.Save(model, dir);
        }
        var r = CliHarness.Run("compress", "--model", dir, "--method", method, "--ratio", "0.5", "--input-format", "ids", "--out", Path.Combine(TestPaths.TempDir(), "out"));
        CliHarness.AssertUserError(r, "layers.1.mlp", "up.weight", "NaN");
    }
}
