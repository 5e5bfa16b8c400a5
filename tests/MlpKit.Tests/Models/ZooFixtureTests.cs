using System.Text.Json.Nodes;
using MlpKit.Models;
using MlpKit.Generation;
using MlpKit.Tests.Support;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Models;

/// <summary>
/// Logits of each zoo model on the committed fixtures (tiny random HF-layout checkpoints) against those
/// computed by tools/reference/make_zoo_fixtures.py, an independent float64 PyTorch forward pass written
/// from the Hugging Face modeling code.
/// </summary>
public class ZooFixtureTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const float Tolerance = 1e-4f;

    internal static string Dir(string arch) => TestPaths.Fixture("zoo", arch);

    internal static JsonObject Expected(string arch) =>
        (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(Dir(arch), "expected.json")))!;

    internal static Tensor Ints(JsonObject e, string field) =>
        tensor(e[field]!.AsArray().SelectMany(r => r!.AsArray().Select(v => (long)v!)).ToArray(),
            new long[] { e[field]!.AsArray().Count, e[field]![0]!.AsArray().Count });

    internal static Tensor Floats(JsonObject e, string field) =>
        tensor(e[field]!.AsArray().Select(v => (float)(double)v!).ToArray(),
            e[field + "_shape"]!.AsArray().Select(v => (long)v!).ToArray());

    static float MaxDiff(Tensor a, Tensor b)
    {
        Assert.Equal(b.shape, a.shape);
        return (a - b).abs().max().item<float>();
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("roberta")]
    public void EncoderMatchesReference(string arch)
    {
        using var model = (IEncoderModel)ModelZoo.Load(Dir(arch));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var e = Expected(arch);
        var (ids, mask, types) = (Ints(e, "input_ids"), Ints(e, "attention_mask"), Ints(e, "token_type_ids"));
        Assert.Equal(arch, model.Architecture);
        Assert.Equal(3, model.NumLabels);
        var hidden = model.Encode(ids, mask, types);
        var logits = model.Classify(ids, mask, types);
        float dh = MaxDiff(hidden, Floats(e, "last_hidden_state")), dl = MaxDiff(logits, Floats(e, "class_logits"));
        output.WriteLine($"{arch}: max |diff| hidden {dh:E2}, class logits {dl:E2}");
        Assert.InRange(dh, 0, Tolerance);
        Assert.InRange(dl, 0, Tolerance);
        // The fixture is only a test if the outputs are far from trivial.
        Assert.True(Floats(e, "class_logits").abs().max().item<float>() > 0.5f);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("mixtral")]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mistral")]
    public void DecoderMatchesReference(string arch)
    {
        using var model = (ICausalLanguageModel)ModelZoo.Load(Dir(arch));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var e = Expected(arch);
        var logits = model.Forward(Ints(e, "input_ids"), Ints(e, "attention_mask"));
        var expected = Floats(e, "logits");
        float d = MaxDiff(logits, expected);
        output.WriteLine($"{arch}: max |diff| logits {d:E2} (logit std {expected.std().item<float>():F2})");
        Assert.InRange(d, 0, Tolerance);
        Assert.True(expected.std().item<float>() > 1f);
    }

    [Theory]
    [InlineData("gpt2", true)]
    [InlineData("gpt2", false)]
    [InlineData("mixtral", true)]
    [InlineData("mixtral", false)]
    [InlineData("llama", true)]
    [InlineData("llama", false)]
    [InlineData("qwen2", true)]
    [InlineData("mistral", true)]
    [InlineData("mistral", false)]
    public void GreedyContinuationMatchesReference(string arch, bool cache)
    {
        using var model = (ICausalLanguageModel)ModelZoo.Load(Dir(arch));
        var e = Expected(arch);
        var prompt = e["greedy_prompt"]!.AsArray().Select(v => (long)v!).ToArray();
        var expected = e["greedy_tokens"]!.AsArray().Select(v => (long)v!).ToArray();
        var got = TextGenerator.Generate(model, prompt, new GenerationOptions { MaxNewTokens = expected.Length, UseCache = cache });
        Assert.Equal(expected, got);
    }
}
