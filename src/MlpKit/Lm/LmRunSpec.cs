using System.Text.Json;
using MlpKit.Checkpoints;
using MlpKit.Ffn.Variants;
using MlpKit.Training;

namespace MlpKit.Lm;

/// <summary>
/// Everything that defines an LM run, saved as RUN/config.json so that --resume and eval-lm rebuild the same model.
/// The MoE shape (experts, expert size, k) fixes the parameter budget of the family: dense and topk take the
/// parameter-equal d_ff with <see cref="ParamsEqual"/> (else <see cref="DFf"/>, default 4·d_model), pkm is always
/// parameter-matched to it, the MoEs use it directly.
/// </summary>
public sealed record LmRunSpec
{
    public string Data { get; init; } = "sotu";
    public string Tokenizer { get; init; } = "byte";
    public string Ffn { get; init; } = "sigma-moe";
    public long Experts { get; init; } = 16;
    public long ExpertSize { get; init; } = 128;
    public long K { get; init; } = 4;
    public bool ParamsEqual { get; init; }
    /// <summary>sigma-moe only: gate "sigmoid" (default), or the paper's ablations "softmax-before" / "softmax-after" top-k.</summary>
    public string? Selection { get; init; }
    public long DFf { get; init; }
    public double Gamma { get; init; } = 1e-4;
    public double ExpertDropout { get; init; }
    public long PkmHeads { get; init; } = 4;
    public long PkmKnn { get; init; } = 32;
    public int Layers { get; init; } = 4;
    public long DModel { get; init; } = 128;
    public int Heads { get; init; } = 4;
    public long Context { get; init; } = 128;
    public double Dropout { get; init; }
    /// <summary>
    /// "rope" (default): RoPE attention trained on random windows. "xl": Transformer-XL relative attention with one
    /// cached segment, trained on consecutive segments of <see cref="Batch"/> parallel lanes and evaluated carrying memory.
    /// </summary>
    public string Attention { get; init; } = LmConfig.RopeAttention;
    public int Batch { get; init; } = 16;
    public long Steps { get; init; } = 1000;
    public double Lr { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.01;
    public long Warmup { get; init; } = 100;
    public double Clip { get; init; } = 1.0;
    public long EvalEvery { get; init; } = 200;
    /// <summary>
    /// Valid tokens scored at each periodic evaluation (0 = all). Bounded by default: the whole SOTU valid split takes
    /// minutes per evaluation on a CPU; the final report scores <see cref="ReportTokens"/>.
    /// </summary>
    public long EvalTokens { get; init; } = DefaultEvalTokens;

    public const long DefaultEvalTokens = 65536;
    /// <summary>Valid tokens scored for report.json (0 = the whole split; `eval-lm` scores a whole split on request).</summary>
    public long ReportTokens { get; init; } = DefaultReportTokens;

    public const long DefaultReportTokens = 131072;
    public long CheckpointEvery { get; init; } = 200;
    public long Seed { get; init; } = 42;

    public static readonly IReadOnlyDictionary<string, MoeSelection> Selections = new Dictionary<string, MoeSelection>
    {
        ["sigmoid"] = MoeSelection.Sigmoid,
        ["softmax-before"] = MoeSelection.SoftmaxBeforeTopK,
        ["softmax-after"] = MoeSelection.SoftmaxAfterTopK,
    };

    /// <summary>
    /// Applies "NAME" or "NAME:key=value,key=value" (keys experts, expert-size, k, selection) to this spec: how
    /// experiments name ablations such as "sigma-moe:selection=softmax-after" or "switch:experts=4,expert-size=128".
    /// </summary>
    public LmRunSpec WithVariant(string variant)
    {
        var parts = variant.Split(':', 2);
        var s = this with { Ffn = parts[0] };
        if (parts.Length == 2)
            foreach (var kv in parts[1].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                var (key, value) = kv.Split('=', 2) is [var k, var v] ? (k.Trim(), v.Trim()) : throw new MlpKitException($"variant '{variant}': '{kv}' is not key=value");
                long Num() => long.TryParse(value, out var n) && n > 0 ? n : throw new MlpKitException($"variant '{variant}': {key} must be a positive integer");
                s = key switch
                {
                    "experts" => s with { Experts = Num() },
                    "expert-size" => s with { ExpertSize = Num() },
                    "k" => s with { K = Num() },
                    "selection" => s with { Selection = value },
                    _ => throw new MlpKitException($"variant '{variant}': unknown key '{key}' (known: experts, expert-size, k, selection)"),
                };
            }
        s.Validate();
        return s;
    }

    public const string FileName = "config.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public void Validate()
    {
        FfnVariants.Info(Ffn);
        if (!LmTokenizers.IsKnown(Tokenizer)) throw new MlpKitException($"--tokenizer {Tokenizer}: unknown tokenizer (known: {string.Join(", ", LmTokenizers.Names)})");
        if (Experts < 1) throw new MlpKitException($"--experts {Experts}: must be at least 1");
        if (ExpertSize < 1) throw new MlpKitException($"--expert-size {ExpertSize}: must be at least 1");
        if (K < 1 || K > Experts) throw new MlpKitException($"--k {K}: must be in [1, --experts = {Experts}]");
        if (Layers < 1) throw new MlpKitException($"--layers {Layers}: must be at least 1");
        if (Context < 1) throw new MlpKitException($"--context {Context}: must be at least 1");
        if (Batch < 1) throw new MlpKitException($"--batch {Batch}: must be at least 1");
        if (Steps < 1) throw new MlpKitException($"--steps {Steps}: must be at least 1");
        if (Warmup < 0) throw new MlpKitException($"--warmup {Warmup}: must not be negative");
        if (Selection is not null && !Selections.ContainsKey(Selection))
            throw new MlpKitException($"--selection {Selection}: expected {string.Join(", ", Selections.Keys)}");
        if (Selection is not null && Ffn != "sigma-moe") throw new MlpKitException($"--selection applies to --ffn sigma-moe only, not {Ffn}");
        if (Attention is not (LmConfig.RopeAttention or LmConfig.XlAttention))
            throw new MlpKitException($"--attention {Attention}: expected {LmConfig.RopeAttention} or {LmConfig.XlAttention}");
        if (EvalEvery < 0) throw new MlpKitException($"--eval-every {EvalEvery}: must not be negative");
    }

    public FfnFamilySpec Family(double weightStdScale) =>
        new(DModel, Experts, ExpertSize, K, weightStdScale, Gamma, ExpertDropout, PkmHeads, PkmKnn);

    /// <summary>The FFN config of every layer (its WeightStdScale is replaced by the stack's).</summary>
    public FfnVariantConfig FfnConfig()
    {
        var spec = Family(1.0);
        var dff = DFf > 0 ? DFf : 4 * DModel;
        var config = Ffn switch
        {
            "dense" when !ParamsEqual => new DenseConfig(DModel, dff),
            "topk" when !ParamsEqual => new TopKConfig(DModel, dff, Math.Min(dff, K * ExpertSize)),
            _ => FfnVariants.ParamEqualConfig(Ffn, spec),
        };
        return Selection is not null && config is MoeConfig moe ? moe with { Selection = Selections[Selection] } : config;
    }

    public LmConfig ModelConfig(int vocabSize) =>
        new(vocabSize, DModel, Layers, Heads, Context, Ffn, FfnConfig(), Dropout, Attention: Attention);

    /// <summary>MACs per token of the dense FFN with the same parameters as the family's MoE (the 100% reference).</summary>
    public long DenseReferenceMacs() => new DenseConfig(DModel, ParamEqual.DenseDFfForMoe(DModel, Experts, ExpertSize)).MacsPerToken;

    public TrainerOptions TrainerOptions(string outDir, bool resume, bool progress = true) => new()
    {
        OutDir = outDir, MaxSteps = Steps, BatchSize = Batch, LearningRate = Lr, WeightDecay = WeightDecay,
        WarmupSteps = Warmup, Decay = LrDecay.Cosine, ClipNorm = Clip, EvalEvery = EvalEvery,
        CheckpointEvery = CheckpointEvery, Seed = Seed, Resume = resume, Progress = progress, LogEvery = 10,
        PlotTitle = $"{Ffn} LM ({Tokenizer}, d={DModel}, {Layers} layers{(Attention == LmConfig.XlAttention ? ", xl" : "")})",
    };

    public void Save(string runDir) =>
        AtomicFile.WriteAllText(Path.Combine(runDir, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>True for a train-lm run folder: its config.json is a run spec (an "Ffn" field), not a Hugging Face config.</summary>
    public static bool IsRunFolder(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return false;
        try
        {
            var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path)) as System.Text.Json.Nodes.JsonObject;
            return root is not null && root.ContainsKey(nameof(Ffn)) && !root.ContainsKey("model_type");
        }
        catch (JsonException) { return false; }
    }

    public static LmRunSpec Load(string runDir)
    {
        var path = Path.Combine(runDir, FileName);
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found (not an LM run folder)");
        try
        {
            var spec = JsonSerializer.Deserialize<LmRunSpec>(File.ReadAllText(path)) ?? throw new MlpKitException($"{path}: empty run config");
            spec.Validate();
            return spec;
        }
        catch (JsonException e) { throw new MlpKitException($"{path}: malformed run config: {e.Message}"); }
    }
}
