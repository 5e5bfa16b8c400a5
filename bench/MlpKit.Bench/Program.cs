
namespace MlpKit.Bench;

/// <summary>
/// Dispatcher: <c>dotnet run -c Release --project bench/MlpKit.Bench -- &lt;case&gt; [args]</c>.
/// Each area registers its cases in <see cref="Cases"/>; running with no case lists them.
/// </summary>
public static class Program
{
    static readonly Dictionary<string, (string Help, Func<string[], int> Run)> Cases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["fusion"] = ("k-means and MLP Fusion timings on BERT-base-shaped MLPs", FusionBench.Run),
        ["fusion-finetune"] = ("USE-Lite: compress (fusion and baselines), fine-tune with a fresh head, test accuracy", FusionFineTuneBench.Run),
        ["moe"] = ("sigma-MoE vs param-equal dense FFN forward+backward time and memory", MoeBenchCase.Run),
        ["moe-profile"] = ("time breakdown of one sigma-MoE step: moe-profile N_E [threads]", MoeBenchCase.Profile),
        ["gloss-base"] = ("random GPT-2 folder with a BPE learned on wordnet-gloss (for generation fine-tuning runs)", GlossBaseModel.Run),
        ["compress"] = ("wall time of compressing every FFN of a real model (default minilm, prune-obs, ratio 0.5)", CompressBench.Run),
        ["ort"] = ("ONNX Runtime latency/throughput: MiniLM original vs MlpKit exports fused to 0.5 and 0.25", OrtBench.Run),
        ["compare"] = ("MlpKit vs plain PyTorch, interleaved: MiniLM full/LoRA steps and inference, GPT-2 step, FFN and σ-MoE", Compare.CompareBench.Run),
        ["sparsegrad-lora"] = ("SparseGrad vs LoRA training step at BERT-base shape, interleaved (sparsegrad-lora [--threads 2] [--batch 16] [--seq 128])", Compare.SparseGradVsLoraBench.Run),
        ["rss"] = ("resident memory of MiniLM fine-tuning from step 100 to step 1,000 (rss [--methods full,lora] [--steps 1000])", Compare.RssSteadyBench.Run),
        ["finetune"] = ("full / LoRA / meProp / SparseGrad: optimizer-state and gradient bytes, peak RSS, step time", FineTuneBench.Run),
    };

    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Cases.TryGetValue(args[0], out var c))
        {
            Console.WriteLine("usage: MlpKit.Bench <case> [args]");
            foreach (var (name, (help, _)) in Cases) Console.WriteLine($"  {name,-12} {help}");
            return args.Length == 0 ? 0 : 2;
        }
        return c.Run(args[1..]);
    }
}
