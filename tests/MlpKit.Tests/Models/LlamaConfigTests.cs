using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Models;
using MlpKit.Models.Llama;
using MlpKit.Tests.Support;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Models;

/// <summary>The Llama family's config.json: what is read, and what would change the results and is refused with the field named.</summary>
public class LlamaConfigTests
{
    static HfConfig Fixture(string arch, Action<JsonObject>? edit = null)
    {
        var root = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(ZooFixtureTests.Dir(arch), "config.json")))!;
        edit?.Invoke(root);
        return HfConfig.FromJson(root, "config.json");
    }

    [Fact]
    public void TheFixturesCoverGqaRopeScalingTiedEmbeddingsBiasesAndTheWindow()
    {
        var llama = LlamaConfigHf.Parse(Fixture("llama"));
        Assert.Equal(2, llama.NumKeyValueHeads);
        Assert.Equal("llama3", llama.RopeScaling!.Type);
        Assert.True(llama.QkvBias && llama.OutputBias);
        Assert.False(llama.TieWordEmbeddings);
        var qwen = LlamaConfigHf.Parse(Fixture("qwen2"));
        Assert.True(qwen.QkvBias);
        Assert.False(qwen.OutputBias);
        Assert.True(qwen.TieWordEmbeddings);
        Assert.Equal(3L, LlamaConfigHf.Parse(Fixture("mistral")).SlidingWindow);
    }

    [Fact]
    public void Llama3ScalingKeepsHighFrequenciesDividesLowOnesAndBlendsTheBand()
    {
        var cfg = LlamaConfigHf.Parse(Fixture("llama"));
        using var scope = NewDisposeScope();
        var plain = RotaryEmbedding.InverseFrequencies(cfg.HeadDim, cfg.RopeTheta).data<float>().ToArray();
        var scaled = LlamaRope.InverseFrequencies(cfg).data<float>().ToArray();
        Assert.Equal(plain[0], scaled[0]);                       // wavelength 6.3 < 64/4: unchanged
        Assert.InRange(scaled[1], plain[1] / 8, plain[1] * 0.999f); // 63 within [16, 64]: between
        Assert.Equal(plain[2] / 8, scaled[2], 6);                // 628 > 64: divided by the factor
        Assert.Equal(plain[3] / 8, scaled[3], 7);
    }

    [Theory]
    [InlineData("hidden_act", "gelu")]
    [InlineData("rope_scaling.rope_type", "yarn")]
    [InlineData("partial_rotary_factor", "0.5")]
    [InlineData("mlp_bias", "true")]
    [InlineData("num_key_value_heads", "3")]
    [InlineData("model_type", "falcon")]
    public void UnsupportedOptionsAreRefusedNamingTheField(string field, string value)
    {
        var cfg = Fixture("llama", root =>
        {
            JsonNode node = value switch { "true" => JsonValue.Create(true), _ when double.TryParse(value, out var d) => JsonValue.Create(d), _ => JsonValue.Create(value) };
            if (field.StartsWith("rope_scaling.")) ((JsonObject)root["rope_scaling"]!)["rope_type"] = node;
            else root[field] = node;
        });
        var ex = Assert.Throws<MlpKitException>(() => LlamaConfigHf.Parse(cfg));
        Assert.Contains(field.Split('.')[0], ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Qwen2PerLayerSlidingWindowIsRefusedThroughTheCli()
    {
        var dir = TestPaths.TempDir();
        foreach (var f in Directory.GetFiles(ZooFixtureTests.Dir("qwen2"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"use_sliding_window\": false", "\"use_sliding_window\": true"));
        CliHarness.AssertUserError(CliHarness.Run("info", "--model", dir), "use_sliding_window", "config.json");
    }
}
