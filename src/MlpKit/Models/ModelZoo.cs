using MlpKit.Checkpoints;
using MlpKit.Models.Bert;
using MlpKit.Models.Gpt2;
using MlpKit.Models.Llama;
using MlpKit.Models.Mixtral;
using MlpKit.Models.UseLite;
using MlpKit.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Models;

/// <summary>
/// The registry of architectures by name (the Hugging Face model_type): build from a config, load and save a model
/// directory (the Hugging Face layout, config.json + model.safetensors or a sharded index, unless the architecture
/// has its own), and size presets for random initialisation. Each architecture is one <see cref="ModelArchitecture"/>
/// record in its own folder; adding one is a folder plus one line in <see cref="All"/>.
/// </summary>
public static class ModelZoo
{
    public const string ConfigFileName = "config.json";

    /// <summary>Every architecture, one line each.</summary>
    public static IReadOnlyList<ModelArchitecture> All { get; } =
    [
        BertArchitecture.Bert,
        BertArchitecture.Roberta,
        Gpt2Architecture.Gpt2,
        MixtralArchitecture.Mixtral,
        LlamaArchitecture.Llama,
        UseLiteArchitecture.UseLite,
    ];

    /// <summary>The architectures `init` can create (those with presets).</summary>
    public static IReadOnlyList<string> Architectures { get; } = All.Where(a => a.Preset is not null).Select(a => a.Name).ToList();
    public static IReadOnlyList<string> PresetNames { get; } = PresetSize.All.Select(p => p.Name).ToList();

    /// <summary>The architecture named <paramref name="name"/> (or reading that model_type), or null.</summary>
    public static ModelArchitecture? Find(string name) => All.FirstOrDefault(a => a.Reads(name));

    /// <summary>The registry entry for a config, from its model_type; unknown types are a user error.</summary>
    public static ModelArchitecture ArchitectureOf(HfConfig config) => Find(config.ModelType)
        ?? throw MlpKitException.Field(config.Path, "model_type", $"unknown architecture '{config.ModelType}' (known: {string.Join(", ", All.SelectMany(a => a.AlsoReads.Prepend(a.Name)))})");

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
        ModelArchitecture arch;
        HfConfig? config = null;
        if (File.Exists(configPath))
        {
            config = HfConfig.Load(configPath);
            arch = ArchitectureOf(config);
        }
        else
            arch = All.FirstOrDefault(a => a.RecognizesFolder?.Invoke(dir) == true)
                ?? throw new MlpKitException($"{configPath}: file not found (a model directory needs config.json)");
        var model = arch.LoadFolder is { } load ? load(dir) : LoadHfLayout(dir, config!);
        try
        {
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

    static ITransformerModel LoadHfLayout(string dir, HfConfig config)
    {
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
    /// <see cref="Save"/> plus what <paramref name="extra"/> adds (tokenizer files, cluster sizes), written as one folder
    /// that appears whole or not at all (<see cref="AtomicDirectory"/>): a run killed while exporting leaves no half model.
    /// </summary>
    public static void SaveWhole(ITransformerModel model, string dir, Action<string>? extra = null) =>
        AtomicDirectory.Write(dir, staging =>
        {
            Save(model, staging);
            extra?.Invoke(staging);
        });

    /// <summary>
    /// Writes DIR/config.json and the weights (Hugging Face names and layouts), each file atomically; weights
    /// above <paramref name="maxShardBytes"/> go into Hugging Face-style shards with an index.
    /// </summary>
    public static void Save(ITransformerModel model, string dir, long maxShardBytes = 2L << 30)
    {
        if (Find(model.Architecture)?.SaveFolder is { } save)
        {
            save(model, dir);
            return;
        }
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
    /// A config for random initialisation at one of the <see cref="PresetSize"/>s (the architecture's record adds its
    /// own details, e.g. Mixtral's experts). <paramref name="vocabSize"/> defaults to the real model's vocabulary;
    /// pass the size of the tokenizer files you ship with the checkpoint. <paramref name="numLabels"/> &gt; 0 adds a
    /// sequence-classification head (architectures with <see cref="ModelArchitecture.ClassificationHead"/>).
    /// </summary>
    public static HfConfig Presets(string architecture, string preset, long? vocabSize = null, int numLabels = 0)
    {
        var arch = Find(architecture) is { Preset: not null } a ? a
            : throw new MlpKitException($"--arch {architecture}: unknown architecture (known: {string.Join(", ", Architectures)})");
        var size = PresetSize.Named(preset);
        if (vocabSize is <= 0) throw new MlpKitException($"vocabulary size must be positive, got {vocabSize}");
        if (numLabels < 0 || (numLabels > 0 && !arch.ClassificationHead))
            throw new MlpKitException($"a classification head ({numLabels} labels) is available for {string.Join(" and ", All.Where(x => x.ClassificationHead).Select(x => x.Name))} only");
        return arch.Preset!(size, vocabSize, numLabels);
    }

    static ITransformerModel Build(HfConfig config)
    {
        var model = ArchitectureOf(config).Build(config);
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
