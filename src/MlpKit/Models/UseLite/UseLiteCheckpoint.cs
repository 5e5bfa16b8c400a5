using MlpKit.Checkpoints;
using MlpKit.Tokenizers;
using static TorchSharp.torch;

namespace MlpKit.Models.UseLite;

/// <summary>
/// USE-Lite as an ordinary MlpKit checkpoint directory: <c>config.json</c> (<c>model_type</c> "use-lite",
/// zoo conventions, so per-layer FFN widths go to <c>mlpkit_intermediate_sizes</c> after compression),
/// <c>model.safetensors</c> with the module's parameter names plus the timing buffer, and the tokenizer's
/// <c>vocab.json</c>.
/// </summary>
public static class UseLiteCheckpoint
{
    public const string VocabFileName = "vocab.json";

    /// <summary>True when <paramref name="dir"/> holds a config.json (the checkpoint layout) rather than TF.js files.</summary>
    public static bool IsCheckpoint(string dir) => File.Exists(Path.Combine(dir, ModelZoo.ConfigFileName));

    public static void Save(UseLiteModel model, string dir)
    {
        Directory.CreateDirectory(dir);
        using (var scope = NewDisposeScope())
        {
            var tensors = HfTensorBinding.Export(model, model.NameMap()).ToDictionary(kv => kv.Key, kv => kv.Value.cpu(), StringComparer.Ordinal);
            tensors[UseLiteModel.TimingBufferName] = model.InverseTimescalesBuffer.detach().cpu().contiguous();
            CheckpointWeights.Save(dir, tensors);
        }
        model.Tokenizer?.SaveVocabJson(Path.Combine(dir, VocabFileName));
        // config.json last: its presence is what marks the folder as a checkpoint.
        model.ExportConfig().Save(Path.Combine(dir, ModelZoo.ConfigFileName));
    }

    public static UseLiteModel Load(string dir)
    {
        var cfg = HfConfig.Load(Path.Combine(dir, ModelZoo.ConfigFileName));
        var model = UseLiteModel.FromConfig(cfg);
        try
        {
            var weightsFile = Path.Combine(dir, File.Exists(Path.Combine(dir, CheckpointWeights.SingleFileName))
                ? CheckpointWeights.SingleFileName : CheckpointWeights.IndexFileName);
            var tensors = CheckpointWeights.Load(dir);
            try
            {
                HfTensorBinding.Load(model, model.NameMap(), tensors, weightsFile);
                if (tensors.TryGetValue(UseLiteModel.TimingBufferName, out var timing))
                {
                    var buffer = model.InverseTimescalesBuffer;
                    if (!timing.shape.SequenceEqual(buffer.shape))
                        throw MlpKitException.Field(weightsFile, UseLiteModel.TimingBufferName,
                            $"expected shape {HfTensorBinding.Shape(buffer.shape)}, got {HfTensorBinding.Shape(timing.shape)}");
                    using var _ = no_grad();
                    buffer.copy_(timing.to(buffer.dtype));
                }
            }
            finally
            {
                foreach (var t in tensors.Values) t.Dispose();
            }
            var vocab = Path.Combine(dir, VocabFileName);
            if (File.Exists(vocab)) model.Tokenizer = SentencePieceUnigramTokenizer.FromVocabJson(vocab);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}
