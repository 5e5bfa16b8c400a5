namespace MlpKit.Ffn.Variants;

/// <summary>
/// One registered feed-forward variant: its name, what it is, the config type it takes, its factory, and its config at
/// the parameter count of a σ-MoE family (<see cref="FfnVariants.ParamEqualConfig"/>).
/// </summary>
public sealed record FfnVariantInfo(string Name, string Description, Type ConfigType,
    Func<FfnVariantConfig, string, FeedForwardVariant> Factory, Func<FfnFamilySpec, FfnVariantConfig> ParamEqual);

/// <summary>
/// The sizes a parameter-equal family of variants is built from (<see cref="FfnVariants.ParamEqualConfig"/>):
/// the MoE shape fixes the parameter budget, the others are matched to it.
/// </summary>
public sealed record FfnFamilySpec(long DModel, long NExperts = 16, long ExpertSize = 128, long K = 4,
    double WeightStdScale = 1.0, double Gamma = 1e-4, double ExpertDropout = 0.0, long PkmHeads = 4, long PkmKnn = 128);

/// <summary>The feed-forward variants by name, for the CLI, the LM and the tests.</summary>
public static class FfnVariants
{
    static readonly FfnVariantInfo[] All =
    [
        new("dense", "dense two-layer FFN (ReLU/GELU, or SwiGLU when gated)", typeof(DenseConfig),
            (c, n) => new DenseVariant((DenseConfig)c, n), s => new DenseConfig(s.DModel, DenseDFf(s), WeightStdScale: s.WeightStdScale)),
        new("topk", "dense FFN keeping only the K largest hidden activations", typeof(TopKConfig),
            (c, n) => new TopKFeedForward((TopKConfig)c, n),
            s => new TopKConfig(s.DModel, DenseDFf(s), Math.Min(DenseDFf(s), s.K * s.ExpertSize), WeightStdScale: s.WeightStdScale)),
        new("pkm", "product-key memory, multi-head, shared values (softmax: original; ReLU + dense init: improved)", typeof(PkmConfig),
            (c, n) => new PkmFeedForward((PkmConfig)c, n), PkmFor),
        new("sigma-moe", "σ-MoE: sigmoid top-K experts, entropy regulariser, expert dropout", typeof(MoeConfig),
            (c, n) => new MoeFeedForward((MoeConfig)c, "sigma-moe", n),
            s => MoeConfig.SigmaMoe(s.DModel, s.NExperts, s.ExpertSize, s.K, s.Gamma, s.ExpertDropout, s.WeightStdScale)),
        new("switch", "Switch baseline: softmax top-1, load-balance loss, reduced init", typeof(MoeConfig),
            (c, n) => new MoeFeedForward(RequireSwitch((MoeConfig)c, n), "switch", n),
            s => MoeConfig.Switch(s.DModel, s.NExperts, s.ExpertSize, 1, weightStdScale: s.WeightStdScale)),
        new("s-base", "S-BASE baseline: Sinkhorn-balanced expert choice at training time, sigmoid gates", typeof(MoeConfig),
            (c, n) => new MoeFeedForward(RequireSBase((MoeConfig)c, n), "s-base", n),
            s => MoeConfig.SBase(s.DModel, s.NExperts, s.ExpertSize, s.K, s.Gamma, s.WeightStdScale)),
    ];

    public static IReadOnlyList<FfnVariantInfo> Registered => All;
    public static IEnumerable<string> Names => All.Select(v => v.Name);

    public static FfnVariantInfo Info(string name) =>
        All.FirstOrDefault(v => v.Name == name)
        ?? throw new MlpKitException($"unknown feed-forward variant '{name}' (known: {string.Join(", ", Names)})");

    /// <summary>Builds the named variant; the config must be of the type the variant takes.</summary>
    public static FeedForwardVariant Create(string name, FfnVariantConfig config, string blockName = "ffn")
    {
        var info = Info(name);
        if (!info.ConfigType.IsInstanceOfType(config))
            throw new MlpKitException($"{blockName}: variant '{name}' takes a {info.ConfigType.Name}, got a {config.GetType().Name}");
        return info.Factory(config, blockName);
    }

    /// <summary>
    /// The config of the named variant at the same parameter count as the σ-MoE of <paramref name="spec"/>: dense and
    /// Top-K get the param-equal d_ff (Top-K keeps K·G activations, the MoE's active hidden units), PKM the
    /// param-matched n_keys with ReLU and dense value init, Switch top-1 over the same experts.
    /// </summary>
    public static FfnVariantConfig ParamEqualConfig(string name, FfnFamilySpec spec) => Info(name).ParamEqual(spec);

    /// <summary>The d_ff of a dense FFN with the family's σ-MoE parameter count.</summary>
    static long DenseDFf(FfnFamilySpec spec) => ParamEqual.DenseDFfForMoe(spec.DModel, spec.NExperts, spec.ExpertSize);

    static PkmConfig PkmFor(FfnFamilySpec spec)
    {
        var nKeys = ParamEqual.PkmKeysForParams(spec.DModel, spec.PkmHeads,
            2.0 * spec.NExperts * spec.ExpertSize * spec.DModel + spec.NExperts * spec.DModel);
        return new PkmConfig(spec.DModel, nKeys, spec.PkmHeads, Math.Min(spec.PkmKnn, nKeys * nKeys),
            PkmScoreActivation.Relu, DenseValueInit: true, WeightStdScale: spec.WeightStdScale);
    }

    static MoeConfig RequireSwitch(MoeConfig c, string where)
    {
        if (c.Selection != MoeSelection.SoftmaxBeforeTopK || c.Regularizer != MoeRegularizer.SwitchLoadBalance)
            throw MlpKitException.Field(where, "selection", "the switch variant needs softmax-before-top-k selection and the switch load-balance regulariser (use MoeConfig.Switch)");
        return c;
    }

    static MoeConfig RequireSBase(MoeConfig c, string where)
    {
        if (c.SinkhornIterations <= 0)
            throw MlpKitException.Field(where, "sinkhorn_iterations", "the s-base variant needs Sinkhorn iterations > 0 (use MoeConfig.SBase)");
        return c;
    }
}
