using System.Text.Json.Nodes;
using MlpKit.Compression;
using MlpKit.FineTuning.SparseGrad;
using static TorchSharp.torch;

namespace MlpKit.FineTuning.FusionSparseGrad;

/// <summary>
/// A method that changes the model's feed-forward blocks before it trains them. <see cref="MlpKit.FineTuning.FineTuneRun"/>
/// calls <see cref="Compress"/> on the loaded encoder before the trainer injects the method; the fused blocks then
/// train exactly as those of a fused checkpoint folder do (cluster sizes as a frozen scale, folded back on export).
/// </summary>
public interface ICompressingMethod
{
    /// <summary>How many training examples the caller passes as calibration data.</summary>
    int CalibrationSamples { get; }

    CompressionOutcome Compress(CompressibleModel encoder, ModelBatch calibration, long seed);
}

/// <summary>What the in-process compression did: the cluster sizes by block, the compression report, and sizes.</summary>
public sealed record CompressionOutcome(
    Dictionary<string, Tensor> Counts,
    CompressionReport Report,
    long ParametersBefore,
    long ParametersAfter,
    long MlpParametersBefore,
    long MlpParametersAfter)
{
    public JsonObject ToJson()
    {
        var o = Report.ToJson();
        o["parameters_before"] = ParametersBefore;
        o["parameters_after"] = ParametersAfter;
        o["mlp_parameters_before"] = MlpParametersBefore;
        o["mlp_parameters_after"] = MlpParametersAfter;
        return o;
    }
}

/// <summary>
/// `fusion+sparsegrad`: MLP Fusion (<see cref="CompressionMethods"/> "fusion", standalone cluster sizes) on every
/// feed-forward block of the encoder, then <see cref="SparseGradInjector"/> on the fused blocks. Neither paper
/// combines the two; the question is whether SparseGrad keeps the task score at the fused model's smaller MLP
/// optimizer state.
/// </summary>
public sealed class FusionSparseGradMethod(FusionSparseGradConfig config) : IFineTuneMethod, ICompressingMethod
{
    readonly SparseGradInjector _sparseGrad = new(config.SparseGrad);
    bool _compressed;

    public string Name => FusionSparseGradConfig.MethodName;
    public FusionSparseGradConfig Config { get; } = config;
    public bool TrainsRest => Config.SparseGrad.TrainRest;
    public int CalibrationSamples => Config.CalibrationSamples;

    public CompressionOutcome Compress(CompressibleModel encoder, ModelBatch calibration, long seed)
    {
        var mlpBefore = MlpParameters(encoder);
        var before = encoder.Module.parameters().Sum(p => p.numel());
        var result = ModelCompressor.Run(encoder, new ModelCompressionOptions
        {
            Method = CompressionMethods.Get("fusion"),
            Ratio = Config.Hidden is null ? Config.Ratio : null,
            Hidden = Config.Hidden,
            Seed = seed,
            KMeans = new KMeansOptions { Restarts = Config.Restarts },
            ScaleMode = ScaleMode.Standalone,
            Calibration = calibration,
        });
        _compressed = true;
        return new CompressionOutcome(result.Scales, result.Report, before, encoder.Module.parameters().Sum(p => p.numel()),
            mlpBefore, MlpParameters(encoder));
    }

    public IFineTuneAdapter Inject(nn.Module model, FineTuneContext context)
    {
        if (!_compressed)
            throw new MlpKitException($"{Name}: the model has not been compressed; run the method through FineTuneRun (mlpkit finetune or experiment sparsegrad)");
        return _sparseGrad.Inject(model, context);
    }

    static long MlpParameters(CompressibleModel m) =>
        m.Blocks.OfType<nn.Module>().Sum(b => b.parameters().Sum(p => p.numel()));
}
