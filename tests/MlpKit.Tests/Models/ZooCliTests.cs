using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Models;
using MlpKit.Tests.Support;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Models;

public class ZooCliTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("mixtral")]
    [InlineData("roberta")]
    [InlineData("llama")]
    public void InitThenInfoJsonRoundTrips(string arch)
    {
        var dir = Path.Combine(TestPaths.TempDir(), "m");
        var init = CliHarness.Run("init", "--arch", arch, "--preset", "tiny", "--out", dir, "--vocab-size", "300", "--seed", "7", "--tokenizer", "none");
        Assert.True(init.ExitCode == 0, init.ToString());
        var info = CliHarness.Run("info", "--model", dir, "--json");
        Assert.True(info.ExitCode == 0, info.ToString());
        var json = JsonNode.Parse(info.Stdout)!.AsObject();
        Assert.Equal(arch, (string)json["architecture"]!);
        Assert.Equal(300, (long)json["vocab_size"]!);
        Assert.Equal(64, (long)json["hidden_size"]!);

        using var model = ModelZoo.Load(dir);
        var counts = model.CountParameters();
        Assert.Equal(counts.Total, (long)json["parameters"]!["total"]!);
        Assert.Equal(counts.Mlp, (long)json["parameters"]!["mlp"]!);
        Assert.Equal(counts.Experts, (long)json["parameters"]!["experts"]!);
        Assert.Equal(model.FeedForwards.Count, json["feed_forwards"]!.AsArray().Count);
        Assert.All(json["feed_forwards"]!.AsArray(), f => Assert.Equal(256, (long)f!["hidden_dim"]!));

        // What init wrote reloads bit-identically: save the loaded model again and compare file contents.
        var again = Path.Combine(TestPaths.TempDir(), "again");
        ModelZoo.Save(model, again);
        using var scope = NewDisposeScope();
        var a = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        var b = SafeTensors.Load(Path.Combine(again, "model.safetensors"));
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a) Assert.True(ZooCheckpointTests.BitEqual(t, b[name]), name);
    }

    [Fact]
    public void InitIsSeeded()
    {
        var (d1, d2) = (Path.Combine(TestPaths.TempDir(), "a"), Path.Combine(TestPaths.TempDir(), "b"));
        Assert.Equal(0, CliHarness.Run("init", "--arch", "bert", "--out", d1, "--vocab-size", "100", "--seed", "3", "--tokenizer", "none").ExitCode);
        Assert.Equal(0, CliHarness.Run("init", "--arch", "bert", "--out", d2, "--vocab-size", "100", "--seed", "3", "--tokenizer", "none").ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(d1, "model.safetensors")), File.ReadAllBytes(Path.Combine(d2, "model.safetensors")));
    }

    [Fact]
    public void InfoTextShowsTheSplit()
    {
        var r = CliHarness.Run("info", "--model", ZooFixtureTests.Dir("mixtral"));
        Assert.True(r.ExitCode == 0, r.ToString());
        foreach (var word in new[] { "mixtral", "embeddings", "attention", "experts", "layers.1.moe.experts.3", "top-2", "MLP FLOPs per token" })
            Assert.Contains(word, r.Stdout);
    }

    [Fact]
    public void InitRefusesToOverwriteWithoutForce()
    {
        var dir = Path.Combine(TestPaths.TempDir(), "m");
        Assert.Equal(0, CliHarness.Run("init", "--arch", "gpt2", "--out", dir, "--vocab-size", "50", "--tokenizer", "none").ExitCode);
        CliHarness.AssertUserError(CliHarness.Run("init", "--arch", "gpt2", "--out", dir, "--vocab-size", "50", "--tokenizer", "none"), dir, "--force");
        Assert.Equal(0, CliHarness.Run("init", "--arch", "gpt2", "--out", dir, "--vocab-size", "50", "--force", "--tokenizer", "none").ExitCode);
    }

    [Fact]
    public void UnknownArchitectureIsAUsageError()
    {
        var r = CliHarness.Run("init", "--arch", "t5", "--out", TestPaths.TempDir());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("t5", r.Stderr);
    }

    [Fact]
    public void InfoErrorsNameTheFileAndField()
    {
        CliHarness.AssertUserError(CliHarness.Run("info", "--model", Path.Combine(TestPaths.TempDir(), "none")), "no such directory");

        var bad = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(bad, "config.json"), "{\"model_type\": \"gpt2\", \"n_embd\": ");
        CliHarness.AssertUserError(CliHarness.Run("info", "--model", bad), "config.json");

        var noHeads = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(noHeads, "config.json"), "{\"model_type\": \"gpt2\", \"vocab_size\": 10, \"n_embd\": 8, \"n_layer\": 1}");
        CliHarness.AssertUserError(CliHarness.Run("info", "--model", noHeads), "config.json", "n_head", "missing");

        var noWeights = TestPaths.TempDir();
        File.Copy(Path.Combine(ZooFixtureTests.Dir("gpt2"), "config.json"), Path.Combine(noWeights, "config.json"));
        CliHarness.AssertUserError(CliHarness.Run("info", "--model", noWeights), "model.safetensors");

        var truncated = TestPaths.TempDir();
        File.Copy(Path.Combine(ZooFixtureTests.Dir("gpt2"), "config.json"), Path.Combine(truncated, "config.json"));
        var bytes = File.ReadAllBytes(Path.Combine(ZooFixtureTests.Dir("gpt2"), "model.safetensors"));
        File.WriteAllBytes(Path.Combine(truncated, "model.safetensors"), bytes[..(bytes.Length / 2)]);
        CliHarness.AssertUserError(CliHarness.Run("info", "--model", truncated), "model.safetensors");
    }
}
