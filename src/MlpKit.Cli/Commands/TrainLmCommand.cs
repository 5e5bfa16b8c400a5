using System.CommandLine;
using MlpKit.Lm;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit train-lm --data sotu|FILE --ffn VARIANT ... --out RUN [--resume]`: trains a decoder-only LM from scratch.</summary>
public static class TrainLmCommand
{
    public static Command Create()
    {
        var d = new LmRunSpec();
        var data = new Option<string>("--data") { Description = "Corpus: sotu (State of the Union, split by year) or a UTF-8 text file (90/5/5 % of lines)", DefaultValueFactory = _ => d.Data };
        var tokenizer = new Option<string>("--tokenizer") { Description = "byte (UTF-8 bytes, 256 ids), gpt2 (GPT-2 BPE, gpt2-vocab asset), bpe8k or bpe:N (byte-level BPE of N tokens learned on the training split, cached in RUN/tokenizer/)", DefaultValueFactory = _ => d.Tokenizer };
        var ffn = new Option<string>("--ffn") { Description = "Feed-forward variant of every layer: dense, topk, pkm, sigma-moe, switch, s-base", DefaultValueFactory = _ => d.Ffn };
        var experts = new Option<long>("--experts") { Description = "MoE experts N_E (also fixes the parameter budget of the other variants)", DefaultValueFactory = _ => d.Experts };
        var expertSize = new Option<long>("--expert-size") { Description = "Hidden units per expert G", DefaultValueFactory = _ => d.ExpertSize };
        var k = new Option<long>("--k") { Description = "Experts per token K (Top-K keeps K·G neurons)", DefaultValueFactory = _ => d.K };
        var paramsEqual = new Option<bool>("--params-equal") { Description = "dense/topk: use the d_ff with the MoE's parameter count instead of --d-ff" };
        var dff = new Option<long>("--d-ff") { Description = "dense/topk hidden width without --params-equal (default 4·d_model)" };
        var selection = new Option<string?>("--selection") { Description = "sigma-moe gate: sigmoid (default), softmax-before or softmax-after top-k (the paper's ablations)" };
        var gamma = new Option<double>("--gamma") { Description = "MoE regulariser coefficient (σ-MoE entropy)", DefaultValueFactory = _ => d.Gamma };
        var expertDropout = new Option<double>("--expert-dropout") { Description = "σ-MoE expert dropout δ" };
        var layers = new Option<int>("--layers") { Description = "Transformer layers", DefaultValueFactory = _ => d.Layers };
        var dModel = new Option<long>("--d-model") { Description = "Residual width", DefaultValueFactory = _ => d.DModel };
        var heads = new Option<int>("--heads") { Description = "Attention heads", DefaultValueFactory = _ => d.Heads };
        var attention = new Option<string>("--attention") { Description = "rope (RoPE, random training windows) or xl (Transformer-XL relative attention with one cached segment: --batch parallel lanes of consecutive segments, memory carried in training and evaluation)", DefaultValueFactory = _ => d.Attention };
        var context = new Option<long>("--context") { Description = "Context length T (tokens per training window)", DefaultValueFactory = _ => d.Context };
        var batch = new Option<int>("--batch") { Description = "Windows per step", DefaultValueFactory = _ => d.Batch };
        var steps = new Option<long>("--steps") { Description = "Optimizer steps", DefaultValueFactory = _ => d.Steps };
        var lr = new Option<double>("--lr") { Description = "Peak learning rate (AdamW, cosine decay)", DefaultValueFactory = _ => d.Lr };
        var warmup = new Option<long>("--warmup") { Description = "Warm-up steps", DefaultValueFactory = _ => d.Warmup };
        var evalEvery = new Option<long>("--eval-every") { Description = "Evaluate on the valid split every N steps (and at the end)", DefaultValueFactory = _ => d.EvalEvery };
        var evalTokens = new Option<long>("--eval-tokens") { Description = "Valid tokens scored at periodic evaluations (0 = all)", DefaultValueFactory = _ => LmRunSpec.DefaultEvalTokens };
        var reportTokens = new Option<long>("--report-tokens") { Description = "Valid tokens scored for report.json at the end (0 = all; eval-lm scores a whole split)", DefaultValueFactory = _ => LmRunSpec.DefaultReportTokens };
        var ckptEvery = new Option<long>("--checkpoint-every") { Description = "Checkpoint every N steps (and on stop)", DefaultValueFactory = _ => d.CheckpointEvery };
        var output = new Option<string>("--out") { Description = "Run folder", Required = true }.OutputFolder();
        var resume = new Option<bool>("--resume") { Description = "Continue RUN exactly from its checkpoint with its saved config" };
        var command = new Command("train-lm", "Train a pre-LN decoder-only language model with any feed-forward variant (Ctrl+C saves a checkpoint)")
        {
            data, tokenizer, ffn, experts, expertSize, k, paramsEqual, dff, selection, gamma, expertDropout, layers, dModel, heads, attention, context,
            batch, steps, lr, warmup, evalEvery, evalTokens, reportTokens, ckptEvery, output, resume,
        };
        CliRun.SetAction(command, ctx =>
        {
            var spec = new LmRunSpec
            {
                Data = ctx.Get(data), Tokenizer = ctx.Get(tokenizer), Ffn = ctx.Get(ffn), Experts = ctx.Get(experts),
                ExpertSize = ctx.Get(expertSize), K = ctx.Get(k), ParamsEqual = ctx.Get(paramsEqual), DFf = ctx.Get(dff), Selection = ctx.GetOrNull(selection),
                Gamma = ctx.Get(gamma), ExpertDropout = ctx.Get(expertDropout), Layers = ctx.Get(layers), DModel = ctx.Get(dModel),
                Heads = ctx.Get(heads), Attention = ctx.Get(attention), Context = ctx.Get(context), Batch = ctx.Get(batch), Steps = ctx.Get(steps), Lr = ctx.Get(lr),
                Warmup = ctx.Get(warmup), EvalEvery = ctx.Get(evalEvery), EvalTokens = ctx.Get(evalTokens), ReportTokens = ctx.Get(reportTokens),
                CheckpointEvery = ctx.Get(ckptEvery), Seed = ctx.Seed,
            };
            var resuming = ctx.Get(resume);
            if (!resuming) spec.Validate();   // fail on bad flags before loading the corpus
            ctx.InitTorch();
            var run = ctx.Get(output);
            var report = LmRun.Train(spec, run, resuming, ctx.Cancel, log: Console.Error.WriteLine);
            if (report.Interrupted)
            {
                Console.Error.WriteLine($"mlpkit: interrupted at step {report.Steps}; continue with: mlpkit train-lm --out {run} --resume");
                return CliRun.Interrupted;
            }
            Console.Out.WriteLine($"{report.Ffn}: {report.Parameters} params ({report.FfnParameters} FFN), FFN MACs {report.FfnMacsPercent:F1}% of dense, " +
                                  $"valid perplexity {report.ValidPerplexity:F3}, {report.ValidBitsPerChar:F3} bits/char, {report.TokensPerSecond:F0} tokens/s");
            Console.Out.WriteLine($"run folder: {run} (report.json, metrics.jsonl, curves.png, best/, checkpoint/)");
            return CliRun.Ok;
        });
        return command;
    }
}
