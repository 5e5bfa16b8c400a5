using MlpKit.Checkpoints;
using MlpKit.Ffn;
using MlpKit.Models;
using MlpKit.Models.Bert;
using MlpKit.Models.Mixtral;
using MlpKit.Tests.Support;
using static TorchSharp.torch;
using Xunit;

namespace MlpKit.Tests.Models;

public class ZooCheckpointTests
{
    static void AssertSameTensors(IReadOnlyDictionary<string, Tensor> a, IReadOnlyDictionary<string, Tensor> b)
    {
        Assert.Equal(a.Keys.OrderBy(k => k, StringComparer.Ordinal), b.Keys.OrderBy(k => k, StringComparer.Ordinal));
        foreach (var (name, t) in a)
        {
            Assert.Equal(t.dtype, b[name].dtype);
            Assert.True(BitEqual(t, b[name]), $"{name} differs");
        }
    }

    internal static bool BitEqual(Tensor a, Tensor b) =>
        a.dtype == b.dtype && a.shape.SequenceEqual(b.shape) &&
        a.contiguous().bytes.ToArray().AsSpan().SequenceEqual(b.contiguous().bytes.ToArray());

    [Theory]
    [InlineData("bert")]
    [InlineData("roberta")]
    [InlineData("gpt2")]
    [InlineData("mixtral")]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void SavingAFixtureWritesBackTheSameTensors(string arch)
    {
        var dir = TestPaths.TempDir();
        using var model = ModelZoo.Load(ZooFixtureTests.Dir(arch));
        ModelZoo.Save(model, dir);
        using var scope = NewDisposeScope();
        AssertSameTensors(SafeTensors.Load(Path.Combine(ZooFixtureTests.Dir(arch), "model.safetensors")),
            SafeTensors.Load(Path.Combine(dir, "model.safetensors")));
        var cfg = HfConfig.Load(Path.Combine(dir, "config.json"));
        Assert.Equal(arch, cfg.ModelType);
        Assert.False(cfg.Has(FfnWidths.LayerField));
        Assert.False(cfg.Has(FfnWidths.ExpertField));
    }

    [Theory]
    [InlineData("bert", 0)]
    [InlineData("bert", 3)]
    [InlineData("roberta", 2)]
    [InlineData("gpt2", 0)]
    [InlineData("mixtral", 0)]
    public void RandomPresetReloadsBitIdentically(string arch, int labels)
    {
        var dir = TestPaths.TempDir();
        using var model = ModelZoo.Create(ModelZoo.Presets(arch, "tiny", vocabSize: 120, numLabels: labels), seed: 5);
        ModelZoo.Save(model, dir);
        using var reloaded = ModelZoo.Load(dir);
        using var scope = NewDisposeScope();
        AssertSameTensors(HfTensorBinding.Export(model.Module, model.NameMap()), HfTensorBinding.Export(reloaded.Module, reloaded.NameMap()));
        Assert.Equal(model.CountParameters(), reloaded.CountParameters());
        // Same seed, same weights: initialisation is reproducible.
        using var again = ModelZoo.Create(ModelZoo.Presets(arch, "tiny", vocabSize: 120, numLabels: labels), seed: 5);
        AssertSameTensors(HfTensorBinding.Export(model.Module, model.NameMap()), HfTensorBinding.Export(again.Module, again.NameMap()));
    }

    /// <summary>
    /// The registry is the one list: every architecture builds from a config through it, saves and reloads through
    /// ModelZoo whatever its layout (USE-Lite has its own), and only architectures with presets are offered to init.
    /// </summary>
    [Fact]
    public void EveryRegisteredArchitectureRoundTripsThroughTheZoo()
    {
        Assert.Equal(ModelZoo.All.Count, ModelZoo.All.Select(a => a.Name).Distinct().Count());
        foreach (var arch in ModelZoo.All)
        {
            var config = arch.Preset is { } preset
                ? preset(PresetSize.Named("tiny"), 96, 0)
                : new MlpKit.Models.UseLite.UseLiteConfig { VocabSize = 96, EmbeddingDim = 16, HiddenDim = 32, FfnDims = [48, 40], Heads = 4 }.ToHf();
            Assert.Equal(arch.Name, config.ModelType);
            Assert.Equal(arch.Preset is not null, ModelZoo.Architectures.Contains(arch.Name));
            var dir = TestPaths.TempDir();
            using var model = ModelZoo.Create(config, seed: 3);
            Assert.Equal(arch.Name, model.Architecture);
            ModelZoo.Save(model, dir);
            using var reloaded = ModelZoo.Load(dir);
            Assert.Equal(arch.Name, reloaded.Architecture);
            using var scope = NewDisposeScope();
            AssertSameTensors(HfTensorBinding.Export(model.Module, model.NameMap()), HfTensorBinding.Export(reloaded.Module, reloaded.NameMap()));
        }
    }

    [Fact]
    public void ShardedSaveReloadsAndErrorsNameTheIndex()
    {
        var dir = TestPaths.TempDir();
        using var model = ModelZoo.Load(ZooFixtureTests.Dir("mixtral"));
        ModelZoo.Save(model, dir, maxShardBytes: 40_000);
        Assert.True(File.Exists(Path.Combine(dir, CheckpointWeights.IndexFileName)));
        Assert.False(File.Exists(Path.Combine(dir, CheckpointWeights.SingleFileName)));
        Assert.True(Directory.GetFiles(dir, "model-*-of-*.safetensors").Length > 1);
        using (var reloaded = ModelZoo.Load(dir))
        {
            using var scope = NewDisposeScope();
            AssertSameTensors(HfTensorBinding.Export(model.Module, model.NameMap()), HfTensorBinding.Export(reloaded.Module, reloaded.NameMap()));
        }
        // A config that promises more layers than the shards hold: the missing tensor is reported against the index.
        var cfg = HfConfig.Load(Path.Combine(dir, "config.json"));
        cfg.Set("num_hidden_layers", 3);
        cfg.Save(Path.Combine(dir, "config.json"));
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains("model.safetensors.index.json: model.layers.2.", ex.Message);
        Assert.Contains("missing tensor", ex.Message);
    }

    [Fact]
    public void PerLayerWidthsSurviveSaveAndReload()
    {
        var dir = TestPaths.TempDir();
        using var model = ModelZoo.Create(ModelZoo.Presets("gpt2", "tiny", vocabSize: 64), seed: 1);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 1, 5, 9, 2 }, new long[] { 1, 4 });
        // Keep the first 100 neurons of layer 1, as a pruning step would.
        var ffn = model.FeedForwards[1];
        var w = ffn.GetWeights();
        ffn.SetWeights(new FeedForwardWeights(w.Up.narrow(0, 0, 100), w.UpBias!.narrow(0, 0, 100), null,
            w.Down.narrow(1, 0, 100), w.DownBias, w.Activation));
        var before = ((ICausalLanguageModel)model).Forward(ids);
        ModelZoo.Save(model, dir);
        Assert.Equal(new[] { 256, 100 }, HfConfig.Load(Path.Combine(dir, "config.json")).GetIntArray(FfnWidths.LayerField));
        using var reloaded = (ICausalLanguageModel)ModelZoo.Load(dir);
        Assert.Equal(new long[] { 256, 100 }, reloaded.FeedForwards.Select(f => f.HiddenDim));
        Assert.True(BitEqual(before, reloaded.Forward(ids)));
    }

    [Fact]
    public void PerExpertWidthsSurviveSaveAndReload()
    {
        var dir = TestPaths.TempDir();
        var cfg = ModelZoo.Presets("mixtral", "tiny", vocabSize: 64);
        cfg.Set(FfnWidths.ExpertField, System.Text.Json.Nodes.JsonNode.Parse("[[16,32,48,64],[8,8,8,200]]"));
        using var model = ModelZoo.Create(cfg, seed: 2);
        Assert.Equal(new long[] { 16, 32, 48, 64, 8, 8, 8, 200 }, model.FeedForwards.Select(f => f.HiddenDim));
        Assert.Equal(2, model.MoeBlocks.Count);
        ModelZoo.Save(model, dir);
        using var reloaded = ModelZoo.Load(dir);
        Assert.Equal(new long[] { 16, 32, 48, 64, 8, 8, 8, 200 }, reloaded.FeedForwards.Select(f => f.HiddenDim));
        using var scope = NewDisposeScope();
        AssertSameTensors(HfTensorBinding.Export(model.Module, model.NameMap()), HfTensorBinding.Export(reloaded.Module, reloaded.NameMap()));
    }

    [Fact]
    public void BadWidthOverrideNamesTheField()
    {
        var cfg = ModelZoo.Presets("bert", "tiny", vocabSize: 64);
        cfg.Set(FfnWidths.LayerField, System.Text.Json.Nodes.JsonNode.Parse("[64]"));
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Create(cfg));
        Assert.Contains("mlpkit_intermediate_sizes", ex.Message);
        Assert.Contains("2 layers", ex.Message);
    }

    /// <summary>Copies a fixture, rewriting its tensors, so error paths see a real file.</summary>
    static string MutatedFixture(string arch, Action<Dictionary<string, Tensor>> edit)
    {
        var dir = TestPaths.TempDir();
        File.Copy(Path.Combine(ZooFixtureTests.Dir(arch), "config.json"), Path.Combine(dir, "config.json"));
        var tensors = SafeTensors.Load(Path.Combine(ZooFixtureTests.Dir(arch), "model.safetensors"));
        edit(tensors);
        SafeTensors.Save(Path.Combine(dir, "model.safetensors"), tensors);
        return dir;
    }

    [Fact]
    public void MissingTensorNamesFileAndTensor()
    {
        var dir = MutatedFixture("bert", t => t.Remove("bert.encoder.layer.1.output.dense.weight"));
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains("model.safetensors: bert.encoder.layer.1.output.dense.weight: missing tensor", ex.Message);
    }

    [Fact]
    public void MisShapedTensorNamesFileTensorAndShapes()
    {
        var dir = MutatedFixture("bert", t => t["bert.encoder.layer.0.intermediate.dense.weight"] = t["bert.encoder.layer.0.intermediate.dense.weight"].t().contiguous());
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains("model.safetensors: bert.encoder.layer.0.intermediate.dense.weight: expected shape [64, 32], got [32, 64]", ex.Message);
    }

    [Fact]
    public void Gpt2ConvWeightsAreCheckedInFileLayout()
    {
        // An [out, in] (nn.Linear-style) c_fc weight is the classic conversion mistake; the error shows the file layout.
        var dir = MutatedFixture("gpt2", t => t["transformer.h.1.mlp.c_fc.weight"] = t["transformer.h.1.mlp.c_fc.weight"].t().contiguous());
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains("transformer.h.1.mlp.c_fc.weight: expected shape [32, 128], got [128, 32]", ex.Message);
    }

    [Fact]
    public void UnexpectedTensorIsNamed()
    {
        var dir = MutatedFixture("mixtral", t => t["model.layers.5.mlp.w1.weight"] = zeros(2, 2));
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains("model.safetensors: model.layers.5.mlp.w1.weight: unexpected tensor", ex.Message);
    }

    [Fact]
    public void UnknownArchitectureNamesConfigField()
    {
        var dir = TestPaths.TempDir();
        File.WriteAllText(Path.Combine(dir, "config.json"), "{\"model_type\": \"t5\"}");
        var ex = Assert.Throws<MlpKitException>(() => ModelZoo.Load(dir));
        Assert.Contains("config.json: model_type: unknown architecture 't5'", ex.Message);
    }

    [Theory]
    [InlineData("bert", "bert.")]
    [InlineData("gpt2", "transformer.")]
    [InlineData("mixtral", "model.")]
    public void BaseModelCheckpointWithoutPrefixLoads(string arch, string prefix)
    {
        // A bare base-model checkpoint (BertModel, GPT2Model, ...) names tensors without the task prefix; it
        // may also carry buffers and tied copies that HF ignores.
        var dir = MutatedFixture(arch, t =>
        {
            foreach (var name in t.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
            {
                t[name[prefix.Length..]] = t[name];
                t.Remove(name);
            }
            if (arch == "gpt2")
            {
                t["lm_head.weight"] = t["wte.weight"];
                t["h.0.attn.bias"] = ones(1, 1, 32, 32);
            }
            if (arch == "bert") t["embeddings.position_ids"] = arange(32L).unsqueeze(0).to_type(ScalarType.Float32);
        });
        using var a = ModelZoo.Load(ZooFixtureTests.Dir(arch));
        using var b = ModelZoo.Load(dir);
        using var scope = NewDisposeScope();
        AssertSameTensors(HfTensorBinding.Export(a.Module, a.NameMap()), HfTensorBinding.Export(b.Module, b.NameMap()));
    }

    [Fact]
    public void LowPrecisionCheckpointLoadsIntoFloat32()
    {
        var dir = MutatedFixture("gpt2", t =>
        {
            foreach (var k in t.Keys.ToList()) t[k] = t[k].to_type(ScalarType.BFloat16);
        });
        using var model = (ICausalLanguageModel)ModelZoo.Load(dir);
        Assert.Equal(ScalarType.Float32, model.Module.parameters().First().dtype);
        using var reference = (ICausalLanguageModel)ModelZoo.Load(ZooFixtureTests.Dir("gpt2"));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 1, 2, 3 }, new long[] { 1, 3 });
        // bf16 keeps ~3 significant digits: close to, but not equal to, the float32 logits.
        var diff = (model.Forward(ids) - reference.Forward(ids)).abs().max().item<float>();
        Assert.InRange(diff, 1e-6f, 1.0f);
    }

    [Fact]
    public void TiedMixtralSavesNoLmHeadAndReloads()
    {
        var dir = TestPaths.TempDir();
        var cfg = ModelZoo.Presets("mixtral", "tiny", vocabSize: 64);
        cfg.Set("tie_word_embeddings", true);
        using var model = (ICausalLanguageModel)ModelZoo.Create(cfg, seed: 3);
        ModelZoo.Save(model, dir);
        using var scope = NewDisposeScope();
        var file = SafeTensors.Load(Path.Combine(dir, "model.safetensors"));
        Assert.DoesNotContain("lm_head.weight", file.Keys);
        Assert.Contains("model.embed_tokens.weight", file.Keys);
        using var reloaded = (ICausalLanguageModel)ModelZoo.Load(dir);
        using var _ = no_grad();
        var ids = tensor(new long[] { 4, 8, 15 }, new long[] { 1, 3 });
        Assert.True(BitEqual(model.Forward(ids), reloaded.Forward(ids)));
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("mixtral")]
    [InlineData("bert")]
    public void Bfloat16LoadRunsCloseToFloat32(string arch)
    {
        using var f32 = ModelZoo.Load(ZooFixtureTests.Dir(arch));
        using var bf16 = ModelZoo.Load(ZooFixtureTests.Dir(arch), ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, bf16.Module.parameters().First().dtype);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 2, 7, 11, 5 }, new long[] { 1, 4 });
        Tensor Run(ITransformerModel m) => m is ICausalLanguageModel lm ? lm.Forward(ids) : ((IEncoderModel)m).Encode(ids);
        var a = Run(f32);
        var b = Run(bf16).to_type(ScalarType.Float32);
        var rel = ((a - b).abs().max() / a.abs().max()).item<float>();
        Assert.InRange(rel, 0f, 0.1f);
    }

    [Theory]
    [InlineData("bert")]
    [InlineData("roberta")]
    [InlineData("gpt2")]
    public void DropoutActsInTrainingModeOnly(string arch)
    {
        // The fixtures' configs carry HF's 0.1 dropouts; loading gives inference mode.
        using var model = ModelZoo.Load(ZooFixtureTests.Dir(arch));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 0, 7, 11, 5, 2 }, new long[] { 1, 5 });
        Tensor Run() => model is ICausalLanguageModel lm ? lm.Forward(ids) : ((IEncoderModel)model).Classify(ids);
        Assert.True(BitEqual(Run(), Run()));
        var eval = Run();
        model.Module.train();
        Assert.False(BitEqual(eval, Run()));
        model.Module.eval();
        Assert.True(BitEqual(eval, Run()));
    }

    [Fact]
    public void FeedForwardsAndMoeBlocksCoverEveryBlock()
    {
        using var bert = ModelZoo.Load(ZooFixtureTests.Dir("bert"));
        Assert.Equal(2, bert.FeedForwards.Count);
        Assert.All(bert.FeedForwards, f => { Assert.Equal(FfnActivation.Gelu, f.Activation); Assert.Equal(64, f.HiddenDim); Assert.False(f.IsGated); });
        Assert.Empty(bert.MoeBlocks);
        using var gpt2 = ModelZoo.Load(ZooFixtureTests.Dir("gpt2"));
        Assert.All(gpt2.FeedForwards, f => { Assert.Equal(FfnActivation.GeluTanh, f.Activation); Assert.Equal(128, f.HiddenDim); });
        using var mixtral = ModelZoo.Load(ZooFixtureTests.Dir("mixtral"));
        Assert.Equal(8, mixtral.FeedForwards.Count);
        Assert.Equal(2, mixtral.MoeBlocks.Count);
        Assert.All(mixtral.MoeBlocks, m => { Assert.Equal(2, m.TopK); Assert.Equal(new long[] { 4, 32 }, m.RouterWeight.shape); });
        Assert.All(mixtral.FeedForwards, f => { Assert.True(f.IsGated); Assert.Equal(FfnActivation.Silu, f.Activation); });
        // The experts' weights are the checkpoint's w1 (gate), w3 (up), w2 (down).
        using var scope = NewDisposeScope();
        var file = SafeTensors.Load(Path.Combine(ZooFixtureTests.Dir("mixtral"), "model.safetensors"));
        var w = mixtral.MoeBlocks[1].Experts[2].GetWeights();
        Assert.True(BitEqual(w.Gate!, file["model.layers.1.block_sparse_moe.experts.2.w1.weight"]));
        Assert.True(BitEqual(w.Up, file["model.layers.1.block_sparse_moe.experts.2.w3.weight"]));
        Assert.True(BitEqual(w.Down, file["model.layers.1.block_sparse_moe.experts.2.w2.weight"]));
    }

    [Fact]
    public void ParameterCountsAndFlopsFollowTheShapes()
    {
        using var gpt2 = ModelZoo.Create(ModelZoo.Presets("gpt2", "tiny", vocabSize: 100));
        // wte 100·64 + wpe 128·64; per layer: attention 64·192+192 + 64·64+64, MLP 64·256+256 + 256·64+64,
        // norms 4·64; final norm 2·64.
        var c = gpt2.CountParameters();
        Assert.Equal(100 * 64 + 128 * 64, c.Embeddings);
        Assert.Equal(2 * (64 * 192 + 192 + 64 * 64 + 64), c.Attention);
        Assert.Equal(2 * (64 * 256 + 256 + 256 * 64 + 64), c.Mlp);
        Assert.Equal(0, c.Experts);
        Assert.Equal(2 * 4 * 64 + 2 * 64, c.Other);
        Assert.Equal(gpt2.Module.parameters().Sum(p => p.numel()), c.Total);
        Assert.Equal(2 * 2 * (64 * 256 + 256 * 64), gpt2.MlpFlopsPerToken().Total);

        using var mixtral = ModelZoo.Create(ModelZoo.Presets("mixtral", "tiny", vocabSize: 100));
        var m = mixtral.CountParameters();
        Assert.Equal(2 * 4 * 3 * 64 * 256, m.Experts);
        Assert.Equal(0, m.Mlp);
        Assert.Equal(2 * 100 * 64, m.Embeddings);   // untied LM head
        Assert.Equal(mixtral.Module.parameters().Sum(p => p.numel()), m.Total);
        var f = mixtral.MlpFlopsPerToken();
        Assert.Equal(2 * 2 * 4 * 64, f.Router);
        Assert.Equal(2 * 2 * 2 * (2 * 64 * 256 + 256 * 64), f.ActiveExperts);
    }
}
