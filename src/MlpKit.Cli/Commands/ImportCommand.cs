using System.CommandLine;
using MlpKit.Embeddings;
using MlpKit.Onnx;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit import --onnx FILE --out DIR [--vocab vocab.txt] [--pooling mean|cls]`: a BERT-family ONNX file as a Hugging Face checkpoint.</summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var onnx = new Option<string>("--onnx") { Description = "A BERT-family encoder exported to ONNX (weights inside the file)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Folder to write (config.json, model.safetensors, tokenizer, pooling)", Required = true }.OutputFolder();
        var vocab = new Option<string?>("--vocab") { Description = "The model's WordPiece vocab.txt, copied as its tokenizer" };
        var cased = new Option<bool>("--cased") { Description = "The vocabulary is cased (default: lower-case the text, as uncased BERTs do)" };
        var pooling = new Option<string?>("--pooling") { Description = "Write sentence-transformers pooling files: mean, cls or max" };
        pooling.AcceptOnlyFromAmong("mean", "cls", "max");
        var normalize = new Option<bool>("--normalize") { Description = "With --pooling: the embeddings are L2-normalised" };
        var maxLength = new Option<int>("--max-seq-length") { Description = "With --pooling: the sentence encoder's token limit", DefaultValueFactory = _ => 512 };
        var command = new Command("import", "Import a BERT-family ONNX encoder as a Hugging Face checkpoint") { onnx, output, vocab, cased, pooling, normalize, maxLength };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var pool = ctx.GetOrNull(pooling) is { } p
                ? new SentencePooling(SentencePooling.ParseMode(p, "--pooling"), ctx.Get(normalize), ctx.Get(maxLength))
                : null;
            var config = OnnxImportRun.ToDirectory(ctx.Get(onnx), ctx.Get(output), new OnnxImportOptions(ctx.GetOrNull(vocab), !ctx.Get(cased), pool));
            Console.Out.WriteLine($"imported {ctx.Get(onnx)}: bert, {config.GetInt("num_hidden_layers")} layers, hidden {config.GetInt("hidden_size")}, " +
                                  $"{config.GetInt("num_attention_heads")} heads, FFN {config.GetInt("intermediate_size")} ({config.GetString("hidden_act")}); wrote {ctx.Get(output)}");
            return CliRun.Ok;
        });
        return command;
    }
}
