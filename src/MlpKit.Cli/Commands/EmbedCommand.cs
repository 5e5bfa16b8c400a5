using System.CommandLine;
using MlpKit.Embeddings;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit embed --model M --input FILE [--pooling mean|cls|max] [--normalize] --out FILE.jsonl`: sentence embeddings.</summary>
public static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Sentence encoder: minilm, arctic-xs, use-lite or a BERT/RoBERTa model directory", Required = true };
        var input = new Option<string>("--input", "-i") { Description = "UTF-8 text file, one sentence per line (blank lines skipped)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "JSON Lines file to write: {\"text\": ..., \"embedding\": [...]} per sentence", Required = true }.OutputFile();
        var pooling = new Option<string?>("--pooling") { Description = "mean, cls or max (default: the model's own, from its sentence-transformers files; else mean)" };
        pooling.AcceptOnlyFromAmong("mean", "cls", "max");
        var normalize = new Option<bool?>("--normalize") { Description = "L2-normalise the embeddings (default: the model's own setting)" };
        var batch = new Option<int>("--batch-size") { Description = "Sentences per forward pass", DefaultValueFactory = _ => 32 };
        var command = new Command("embed", "Sentence embeddings of a text file, one JSON line per sentence") { model, input, output, pooling, normalize, batch };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var mode = ctx.GetOrNull(pooling) is { } p ? SentencePooling.ParseMode(p, "--pooling") : (PoolingMode?)null;
            int n = EmbedRun.Run(new EmbedOptions(ctx.Get(model), ctx.Get(input), ctx.Get(output), mode, ctx.GetOrNull(normalize), ctx.Get(batch)),
                Console.Error, ctx.Cancel);
            Console.Out.WriteLine($"wrote {n} embeddings to {ctx.Get(output)}");
            return CliRun.Ok;
        });
        return command;
    }
}
