using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Models.Bert;
using MlpKit.Models.Gpt2;
using MlpKit.Models.Mixtral;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// The registry of zoo architectures by name ("bert", "roberta", "gpt2", "mixtral", the Hugging Face
/// model_type): build from a config, load and save a model directory in the Hugging Face layout
/// (config.json + model.safetensors or a sharded index), and size presets for random initialisation.
/// </summary>
public static class ModelZoo
{
    public const string ConfigFileName = "config.json";

    public static IReadOnlyList<string> Architectures { get; } = new[] { "bert", "roberta", "gpt2", "mixtral" };
    public static IReadOnlyList<string> PresetNames { get; } = new[] { "tiny", "small" };

    /// <summary>The registry name for a config, from its model_type; unknown types are a user error.</summary>
    public static string ArchitectureOf(HfConfig config)
    {
        var type = config.ModelType;
        if (!Architectures.Contains(type))
            throw MlpKitException.Field(config.Path, "model_type", $"unknown architecture '{type}' (known: {string.Join(", ", Architectures)})");
        return type;
    }

    /// <summary>
    /// Builds the model a config describes, with Hugging Face-style random weights (seeded when given), in
    /// inference mode like <see cref="Load"/>; call Module.train() to enable the config's dropouts.
    /// </summary>
    public static ITransformerModel Create(HfConfig config, long? seed = null)
    {
        TorchRuntime.EnsureInitialized();
        var model = Build(config);
        try
        {
            RandomInit(model, config.GetDouble("initializer_range", 0.02), seed);
            // Inference mode, as after Load; training code calls Module.train() to enable dropout.
            model.Module.eval();
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>
    /// Loads DIR/config.json and the weights beside it. Tensors are converted to <paramref name="dtype"/>
    /// (default float32) and moved to <paramref name="device"/> (default CPU).
    /// </summary>
    public static ITransformerModel Load(string dir, ScalarType? dtype = null, Device? device = null)
    {
        TorchRuntime.EnsureInitialized();
        if (!Directory.Exists(dir)) throw new MlpKitException($"{dir}: model directory not found");
        var configPath = Path.Combine(dir, ConfigFileName);
        if (!File.Exists(configPath)) throw new MlpKitException($"{configPath}: file not found (a model directory needs config.json)");
        var config = HfConfig.Load(configPath);
        var model = Build(config);
        try
        {
            var weightsFile = CheckpointWeights.FileOf(dir);
            var tensors = CheckpointWeights.Load(dir);
            try
            {
                HfTensorBinding.Load(model.Module, model.NameMap(), tensors, weightsFile);
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
            if (dtype is ScalarType d && d != ScalarType.Float32) model.Module.to(d);
            if (device is not null && device.type != DeviceType.CPU) model.Module.to(device);
            model.Module.eval();
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>
    /// Builds the model a config describes and fills it from tensors under Hugging Face names (the same checks
    /// as <see cref="Load"/>: every tensor present, of the right shape, none unknown); <paramref name="file"/>
    /// names the source in errors.
    /// </summary>
    public static ITransformerModel FromTensors(HfConfig config, IReadOnlyDictionary<string, Tensor> tensors, string file)
    {
        TorchRuntime.EnsureInitialized();
        var model = Build(config);
        try
        {
            HfTensorBinding.Load(model.Module, model.NameMap(), tensors, file);
            model.Module.eval();
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>
    /// Writes DIR/config.json and the weights (Hugging Face names and layouts), each file atomically; weights
    /// above <paramref name="maxShardBytes"/> go into Hugging Face-style shards with an index.
    /// </summary>
    public static void Save(ITransformerModel model, string dir, long maxShardBytes = 2L << 30)
    {
        Directory.CreateDirectory(dir);
        using var scope = NewDisposeScope();
        var tensors = HfTensorBinding.Export(model.Module, model.NameMap())
            .ToDictionary(kv => kv.Key, kv => kv.Value.device.type == DeviceType.CPU ? kv.Value : kv.Value.cpu());
        CheckpointWeights.Save(dir, tensors, maxShardBytes);
        var config = model.ExportConfig();
        config.Set("torch_dtype", DTypeName(tensors.Values.First().dtype));
        config.Save(Path.Combine(dir, ConfigFileName));
    }

    /// <summary>
    /// A config for random initialisation. tiny: 2 layers, hidden 64, 4 heads, FFN 256 (Mixtral: 4 experts of
    /// 256, top-2); small: 4 layers, hidden 256, 4 heads, FFN 1024 (Mixtral: 8 experts of 512, top-2).
    /// <paramref name="vocabSize"/> defaults to the real model's vocabulary; pass the size of the tokenizer
    /// files you ship with the checkpoint. <paramref name="numLabels"/> &gt; 0 adds a sequence-classification
    /// head (BERT/RoBERTa only).
    /// </summary>
    public static HfConfig Presets(string architecture, string preset, long? vocabSize = null, int numLabels = 0)
    {
        if (!Architectures.Contains(architecture))
            throw new MlpKitException($"--arch {architecture}: unknown architecture (known: {string.Join(", ", Architectures)})");
        if (!PresetNames.Contains(preset))
            throw new MlpKitException($"--preset {preset}: unknown preset (known: {string.Join(", ", PresetNames)})");
        if (vocabSize is <= 0) throw new MlpKitException($"vocabulary size must be positive, got {vocabSize}");
        if (numLabels < 0 || (numLabels > 0 && architecture is not ("bert" or "roberta")))
            throw new MlpKitException($"a classification head ({numLabels} labels) is available for bert and roberta only");
        bool tiny = preset == "tiny";
        long hidden = tiny ? 64 : 256;
        int layers = tiny ? 2 : 4;
        const int heads = 4;
        long ffn = 4 * hidden;
        var cfg = architecture switch
        {
            "bert" => BertConfigHf.Create(false, vocabSize ?? 30522, hidden, layers, heads, ffn, tiny ? 128 : 512, numLabels),
            "roberta" => BertConfigHf.Create(true, vocabSize ?? 50265, hidden, layers, heads, ffn, tiny ? 128 : 512, numLabels),
            "gpt2" => Gpt2ConfigHf.Create(vocabSize ?? 50257, hidden, layers, heads, tiny ? 128 : 512),
            _ => MixtralConfigHf.Create(vocabSize ?? 32000, hidden, layers, heads, 2, tiny ? 256 : 512, tiny ? 4 : 8, 2, tiny ? 128 : 512),
        };
        return cfg;
    }

    static ITransformerModel Build(HfConfig config)
    {
        ITransformerModel model = ArchitectureOf(config) switch
        {
            "bert" or "roberta" => new BertModel(BertConfigHf.Parse(config), config),
            "gpt2" => new Gpt2Model(Gpt2ConfigHf.Parse(config), config),
            _ => new MixtralModel(MixtralConfigHf.Parse(config), config),
        };
        // nn.Embedding's weight (unlike Linear's) joins the caller's dispose scope: a model built inside a
        // scope would lose it when the scope ends. The model owns its tensors for its whole life.
        foreach (var p in model.Module.parameters()) p.DetachFromDisposeScope();
        foreach (var b in model.Module.buffers()) b.DetachFromDisposeScope();
        return model;
    }

    /// <summary>
    /// Hugging Face's _init_weights: matrices and embeddings ~ N(0, initializer_range), biases 0, norm scales 1.
    /// Internal parameter names mark norms with "norm" or "ln_".
    /// </summary>
    static void RandomInit(ITransformerModel model, double std, long? seed)
    {
        using var generator = seed is long s ? new torch.Generator((ulong)s) : null;
        using var _ = no_grad();
        foreach (var (name, p) in model.Module.named_parameters())
        {
            bool norm = name.Contains("norm") || name.Contains("ln_");
            if (norm && name.EndsWith(".weight", StringComparison.Ordinal)) p.fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, std, generator);
        }
    }

    static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float64 => "float64",
        _ => t.ToString().ToLowerInvariant(),
    };
}
