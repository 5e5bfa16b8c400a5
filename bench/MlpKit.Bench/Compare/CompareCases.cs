using System.Text.Json.Nodes;
using MlpKit.Assets;
using MlpKit.Checkpoints;
using MlpKit.FineTuning;
using MlpKit.Ffn.Variants;
using MlpKit.Models;
using MlpKit.Models.Bert;
using MlpKit.Models.Gpt2;
using MlpKit.Tokenizers;
using MlpKit.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MlpKit.Bench.Compare;

/// <summary>
/// MlpKit's side of one case, ready to run: its output on the shared inputs (eval mode, before any step), the
/// options the reference needs to build the same model, and a runner that takes n steps and calls back after each.
/// </summary>
public sealed record PreparedCase(Tensor Check, JsonObject ReferenceConfig, Action<int, Action<StepPhases?>> Run, int Warmup = 2);

/// <summary>A benchmark case: prepares MlpKit's model and writes weights.safetensors and inputs.safetensors into a folder.</summary>
public sealed record CompareCase(string Name, string Help, Func<string, PreparedCase> Prepare);

/// <summary>
/// The cases of the comparison. Training cases run MlpKit's real Trainer (AdamW, clipping at 1.0, loss read
/// every step, the method's injection) on one fixed batch; the reference runs the same step as a PyTorch user writes it.
/// </summary>
public static class CompareCases
{
    public const int Batch = 16, SeqLen = 128;

    public static IReadOnlyList<CompareCase> All { get; } =
    [
        new("bert-full", "MiniLM (6x384, real weights when the asset is there): full fine-tuning step, batch 16x128, every parameter trains",
            dir => BertTraining(dir, "full", new() { ["train-rest"] = "true" }, 4e-4)),
        new("bert-lora", "MiniLM: LoRA r=8 on the MLP linears + head, batch 16x128",
            dir => BertTraining(dir, "lora", new() { ["rank"] = "8" }, 8e-3)),
        new("bert-infer-1", "MiniLM inference (mean-pooled + head), batch 1x128", dir => BertInference(dir, 1)),
        new("bert-infer-32", "MiniLM inference (mean-pooled + head), batch 32x128", dir => BertInference(dir, 32)),
        new("gpt2-full", "GPT-2-small shape (12x768, vocab 50257, random weights): full fine-tuning LM step, batch 2x128", Gpt2Training),
        new("matmul", "one float32 matmul [4096,512] @ [512,2048] into a fresh output", Matmul),
        new("ffn-dense-2053", "dense ReLU FFN 512->2053->512 forward+backward, 4096 tokens (param-equal to σ-MoE N_E=16)", dir => Ffn(dir, 16, moe: false)),
        new("moe-16", "σ-MoE N_E=16, G=128, K=4, d 512 forward+backward, 4096 tokens (reference: padded bmm)", dir => Ffn(dir, 16, moe: true)),
        new("ffn-dense-8215", "dense ReLU FFN 512->8215->512 forward+backward, 4096 tokens (param-equal to σ-MoE N_E=64)", dir => Ffn(dir, 64, moe: false)),
        new("moe-64", "σ-MoE N_E=64, G=128, K=4, d 512 forward+backward, 4096 tokens (reference: padded bmm)", dir => Ffn(dir, 64, moe: true)),
    ];

    /// <summary>The encoder: the real MiniLM when its asset is available, else a BERT of MiniLM's shape from init.</summary>
    internal static (BertModel Model, string Source) MiniLm()
    {
        try
        {
            var dir = AssetStore.EnsureAsset("minilm");
            return ((BertModel)ModelZoo.Load(dir), "all-MiniLM-L6-v2");
        }
        catch (MlpKitException e)
        {
            Console.Error.WriteLine($"MiniLM asset not available ({e.Message}); using a random BERT of its shape");
            return ((BertModel)ModelZoo.Create(BertConfigHf.Create(false, 30522, 384, 6, 12, 1536, 512, 0), seed: 7), "random BERT 6x384");
        }
    }

    static JsonObject BertConfigJson(BertConfig c, int classes) => new()
    {
        ["vocab"] = c.VocabSize, ["hidden"] = c.HiddenSize, ["layers"] = c.NumLayers, ["heads"] = c.NumHeads,
        ["intermediate"] = c.IntermediateSizes[0], ["positions"] = c.MaxPositions, ["types"] = c.TypeVocabSize,
        ["eps"] = c.LayerNormEps, ["pooler"] = c.HasPooler, ["classes"] = classes,
        ["hidden_dropout"] = c.HiddenDropout, ["attn_dropout"] = c.AttentionDropout,
    };

    /// <summary>Random ids; odd rows end in 16 padding positions so the mask is exercised.</summary>
    internal static (Tensor Ids, Tensor Mask, Tensor Types) BertInputs(int batch, long vocab, int seqLen = SeqLen)
    {
        var g = new Generator(11);
        var ids = randint(1000, vocab, [batch, seqLen], generator: g);
        var mask = ones(batch, seqLen, dtype: ScalarType.Int64);
        for (var i = 1; i < batch; i += 2) mask[i, TensorIndex.Slice(seqLen - seqLen / 8)] = tensor(0L);
        return (ids, mask, zeros_like(ids));
    }

    sealed class NoTokenizer : ITextTokenizer
    {
        public string Kind => "none";
        public int VocabSize => 0;
        public SpecialTokenIds Special => throw new NotSupportedException();
        public int[] Encode(string text) => throw new NotSupportedException();
        public TokenizedInput EncodePair(string text, string? pair = null, int? maxLength = null) => throw new NotSupportedException();
        public string Decode(IEnumerable<int> ids, bool skipSpecial = true) => throw new NotSupportedException();
    }

    internal sealed class FixedBatchTask(int count, Func<Tensor> loss) : ITrainingTask
    {
        public int TrainCount => count;
        public Tensor Loss(IReadOnlyList<int> indices) => loss();
        public EvalResult Evaluate() => new("none", 0);
    }

    internal static SequenceClassifier Classifier(BertModel encoder)
    {
        manual_seed(3);
        return new SequenceClassifier(encoder, new NoTokenizer(), 2);
    }

    static void Save(string dir, nn.Module model, Dictionary<string, Tensor> inputs)
    {
        SafeTensors.Save(Path.Combine(dir, "weights.safetensors"), model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.detach().contiguous()));
        SafeTensors.Save(Path.Combine(dir, "inputs.safetensors"), inputs);
    }

    static Tensor EvalCheck(nn.Module model, Func<Tensor> forward)
    {
        model.eval();
        using var _ = no_grad();
        var r = forward().detach().clone();
        model.train();
        return r;
    }

    /// <summary>n steps of MlpKit's Trainer with the method, on the fixed batch, calling back after each optimizer step.</summary>
    static Action<int, Action<StepPhases?>> TrainerRunner(nn.Module model, string method, Dictionary<string, string> options, int batch, Func<Tensor> loss, double lr) =>
        (steps, after) =>
        {
            var trainer = new Trainer(model, FineTuneMethods.Create(method, options), new FixedBatchTask(batch, loss),
                new TrainerOptions { MaxSteps = steps, BatchSize = batch, LearningRate = lr, Progress = false, WritePlot = false, EvalEvery = 1_000_000 })
            { OnStep = s => after(s.Phases) };
            trainer.Run();
            trainer.Adapter?.Dispose();
        };

    static PreparedCase BertTraining(string dir, string method, Dictionary<string, string> options, double lr)
    {
        var (encoder, source) = MiniLm();
        var model = Classifier(encoder);
        var (ids, mask, types) = BertInputs(Batch, encoder.TypedConfig.VocabSize);
        var labels = randint(0, 2, [Batch], generator: new Generator(12));
        Save(dir, model, new() { ["ids"] = ids, ["mask"] = mask, ["labels"] = labels });
        var check = EvalCheck(model, () => model.forward(ids, mask, types));
        var cfg = new JsonObject { ["model"] = BertConfigJson(encoder.TypedConfig, 2), ["lr"] = lr, ["weight_decay"] = 0.01, ["clip"] = 1.0, ["source"] = source };
        if (method == "lora") cfg["lora_scaling"] = 16.0 / 8;
        return new PreparedCase(check, cfg, TrainerRunner(model, method, options, Batch, () => nn.functional.cross_entropy(model.forward(ids, mask, types), labels), lr));
    }

    static PreparedCase BertInference(string dir, int batch)
    {
        var (encoder, source) = MiniLm();
        var model = Classifier(encoder);
        var (ids, mask, types) = BertInputs(batch, encoder.TypedConfig.VocabSize);
        Save(dir, model, new() { ["ids"] = ids, ["mask"] = mask, ["labels"] = zeros(batch, dtype: ScalarType.Int64) });
        var check = EvalCheck(model, () => model.forward(ids, mask, types));
        var cfg = new JsonObject { ["model"] = BertConfigJson(encoder.TypedConfig, 2), ["source"] = source };
        return new PreparedCase(check, cfg, (steps, after) =>
        {
            model.eval();
            for (var i = 0; i < steps; i++)
            {
                using (no_grad())
                using (NewDisposeScope())
                    model.forward(ids, mask, types);
                after(null);
            }
        }, Warmup: 3);
    }

    static PreparedCase Gpt2Training(string dir)
    {
        const int batch = 2;
        var model = (Gpt2Model)ModelZoo.Create(Gpt2ConfigHf.Create(50257, 768, 12, 12, 1024, 3072), seed: 5);
        var c = model.TypedConfig;
        var ids = randint(0, c.VocabSize, [batch, SeqLen], generator: new Generator(13));
        Save(dir, model, new() { ["ids"] = ids });
        var check = EvalCheck(model, () => model.Forward(ids).select(1, SeqLen - 1));
        Tensor Loss()
        {
            var logits = model.Forward(ids);
            return nn.functional.cross_entropy(logits.narrow(1, 0, SeqLen - 1).reshape(-1, c.VocabSize), ids.narrow(1, 1, SeqLen - 1).reshape(-1));
        }
        var cfg = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["vocab"] = c.VocabSize, ["hidden"] = c.HiddenSize, ["layers"] = c.NumLayers, ["heads"] = c.NumHeads,
                ["intermediate"] = c.IntermediateSizes[0], ["positions"] = c.MaxPositions, ["eps"] = c.LayerNormEps, ["dropout"] = c.ResidDropout,
            },
            ["lr"] = 4e-4, ["weight_decay"] = 0.01, ["clip"] = 1.0,
        };
        return new PreparedCase(check, cfg, TrainerRunner(model, "full", new() { ["train-rest"] = "true" }, batch, Loss, 4e-4));
    }

    static PreparedCase Matmul(string dir)
    {
        var a = randn(4096, 512, generator: new Generator(31));
        var b = randn(512, 2048, generator: new Generator(32));
        SafeTensors.Save(Path.Combine(dir, "weights.safetensors"), new Dictionary<string, Tensor>());
        SafeTensors.Save(Path.Combine(dir, "inputs.safetensors"), new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b });
        return new PreparedCase(a.narrow(0, 0, 4).matmul(b), new JsonObject(), (steps, after) =>
        {
            for (var i = 0; i < steps; i++)
            {
                using (NewDisposeScope()) a.matmul(b);
                after(null);
            }
        }, Warmup: 3);
    }

    static PreparedCase Ffn(string dir, long experts, bool moe)
    {
        const long d = 512, g = 128, k = 4, tokens = 4096;
        manual_seed(21);
        FeedForwardVariant block = moe
            ? new MoeFeedForward(MoeConfig.SigmaMoe(d, experts, g, k))
            : new DenseVariant(new DenseConfig(d, ParamEqual.DenseDFfForMoe(d, experts, g)));
        var x = randn(tokens, d, generator: new Generator(22));
        var gy = randn(tokens, d, generator: new Generator(23));
        Save(dir, block, new() { ["x"] = x, ["gy"] = gy });
        var check = EvalCheck(block, () => block.forward(x));
        var model = moe
            ? new JsonObject { ["d"] = d, ["ne"] = experts, ["g"] = g, ["k"] = k, ["gamma"] = 1e-4 }
            : new JsonObject { ["d"] = d, ["dff"] = ParamEqual.DenseDFfForMoe(d, experts, g) };
        // σ-MoE's kernel tuner times its expert paths on its first calls; those are warm-up, as in `mlpkit bench moe`.
        var warmup = moe ? 2 + 6 * ((MoeFeedForward)block).KernelTuner.SamplesPerKernel : 2;
        return new PreparedCase(check, new JsonObject { ["model"] = model }, (steps, after) =>
        {
            block.train();
            for (var i = 0; i < steps; i++)
            {
                using (NewDisposeScope())
                {
                    var xi = x.detach().requires_grad_(true);
                    var loss = (block.forward(xi) * gy).sum();
                    loss = loss + block.AuxLoss;
                    loss.backward();
                    foreach (var p in block.parameters()) p.grad = null;
                }
                after(null);
            }
        }, warmup);
    }
}
