using System.Text.Json.Nodes;
using MlpKit.Generation;
using MlpKit.Models;
using MlpKit.Tests.Models;
using MlpKit.Tests.Support;
using Xunit;

namespace MlpKit.Tests.Generation;

/// <summary>`mlpkit generate` on every decoder kind: the reference fixtures' greedy continuations, EOS, and bad prompts.</summary>
public class GenerateCommandTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("mixtral")]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void GreedyIdsEqualTheReferenceContinuation(string arch)
    {
        var e = ZooFixtureTests.Expected(arch);
        var prompt = string.Join(' ', e["greedy_prompt"]!.AsArray().Select(v => (long)v!));
        var expected = e["greedy_tokens"]!.AsArray().Select(v => (long)v!).ToArray();
        // The fixtures' configs name an eos id; a continuation that reaches it stops there, as it should.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(ZooFixtureTests.Dir(arch), "config.json")))!.AsObject();
        long? eos = config["eos_token_id"] is JsonValue v ? v.GetValue<long>() : null;
        var stop = eos is long id && Array.IndexOf(expected, id) >= 0 ? Array.IndexOf(expected, id) + 1 : expected.Length;
        var r = CliHarness.Run("generate", "--model", ZooFixtureTests.Dir(arch), "--prompt-ids", prompt, "--max-new-tokens", expected.Length.ToString(), "--json");
        Assert.True(r.ExitCode == 0, r.ToString());
        var json = JsonNode.Parse(r.Stdout)!.AsObject();
        Assert.Equal(expected.Take(stop), json["generated_ids"]!.AsArray().Select(v => (long)v!));
        Assert.Equal(stop < expected.Length, (bool)json["stopped_at_eos"]!);
    }

    [Fact]
    public void BadPromptsAndOptionsAreOneLineErrors()
    {
        var dir = ZooFixtureTests.Dir("llama");
        CliHarness.AssertUserError(CliHarness.Run("generate", "--model", dir, "--prompt-ids", "1 999"), "999", "vocabulary");
        CliHarness.AssertUserError(CliHarness.Run("generate", "--model", dir, "--prompt-ids", "1 x"), "--prompt-ids", "'x'");
        CliHarness.AssertUserError(CliHarness.Run("generate", "--model", dir, "--prompt", "hello"), "tokenizer", "--prompt-ids");
        CliHarness.AssertUserError(CliHarness.Run("generate", "--model", dir), "--prompt");
        CliHarness.AssertUserError(CliHarness.Run("generate", "--model", dir, "--prompt-ids", "1", "--greedy", "--top-p", "0.9"), "--greedy");
        CliHarness.AssertUserError(CliHarness.Run("generate", "--model", ZooFixtureTests.Dir("bert"), "--prompt-ids", "1 2"), "not a decoder");
    }

    [Fact]
    public void SamplingIsSeededAndStopsAtEos()
    {
        using var model = (ICausalLanguageModel)ModelZoo.Load(ZooFixtureTests.Dir("llama"));
        var o = new GenerationOptions { MaxNewTokens = 12, Sample = true, Temperature = 1.5, TopP = 0.95, Seed = 4 };
        var a = TextGenerator.Generate(model, [1, 17, 42], o);
        Assert.Equal(a, TextGenerator.Generate(model, [1, 17, 42], o));
        var eos = a[2];
        var stopped = TextGenerator.Generate(model, [1, 17, 42], o with { EosTokenId = eos });
        Assert.Equal(eos, stopped[^1]);
        Assert.True(stopped.Length <= 3);
    }
}
