using System.CommandLine;
using MlpKit.Onnx;

namespace MlpKit.Cli.Commands;

/// <summary>`mlpkit export --format onnx --model DIR --out model.onnx`: a BERT encoder as ONNX, checked in ONNX Runtime.</summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = "Output format", DefaultValueFactory = _ => "onnx" };
        format.AcceptOnlyFromAmong("onnx");
        var model = new Option<string>("--model", "-m") { Description = "A BERT checkpoint folder (e.g. from compress or finetune) or minilm / arctic-xs", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "The .onnx file to write", Required = true }.OutputFile();
        var command = new Command("export", "Export a BERT encoder to ONNX (inputs input_ids/attention_mask/token_type_ids, output last_hidden_state)") { format, model, output };
        CliRun.SetAction(command, ctx =>
        {
            ctx.InitTorch();
            var r = OnnxExportRun.Run(ctx.Get(model), ctx.Get(output));
            Console.Out.WriteLine($"wrote {r.Path} ({r.Bytes / 1e6:F1} MB, opset {BertOnnxExport.Opset}, FFN widths {string.Join(",", r.FfnWidths)}); " +
                                  $"ONNX Runtime vs MlpKit max abs diff {r.MaxAbsDiff:G3}");
            return CliRun.Ok;
        });
        return command;
    }
}
