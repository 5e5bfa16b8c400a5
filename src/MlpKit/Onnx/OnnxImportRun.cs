using System.Text;
using System.Text.Json.Nodes;
using MlpKit.Checkpoints;
using MlpKit.Embeddings;
using MlpKit.Models;
using MlpKit.Tokenizers;

namespace MlpKit.Onnx;

/// <summary>What `mlpkit import --onnx` writes beside the weights.</summary>
/// <param name="VocabTxt">A BERT WordPiece vocab.txt to ship as the tokenizer (BOM and CRLF are normalised away).</param>
/// <param name="LowerCase">The tokenizer lower-cases (uncased BERT vocabularies).</param>
/// <param name="Pooling">Sentence-transformers pooling files to write, or null for a plain encoder.</param>
public sealed record OnnxImportOptions(string? VocabTxt = null, bool LowerCase = true, SentencePooling? Pooling = null);

/// <summary>An ONNX BERT encoder written as a Hugging Face checkpoint folder (config.json + model.safetensors + tokenizer + pooling).</summary>
public static class OnnxImportRun
{
    /// <summary>Imports into a new folder, which appears whole or not at all.</summary>
    public static HfConfig ToDirectory(string onnxPath, string outDir, OnnxImportOptions options)
    {
        if (options.VocabTxt is { } v && !File.Exists(v)) throw new MlpKitException($"{v}: file not found");
        HfConfig? config = null;
        AtomicDirectory.Write(outDir, staging => config = WriteInto(onnxPath, staging, options));
        return config!;
    }

    /// <summary>Imports into an existing (staging) folder.</summary>
    public static HfConfig WriteInto(string onnxPath, string dir, OnnxImportOptions options)
    {
        using var imported = BertOnnxImport.Import(onnxPath);
        // Check that the zoo's BERT takes every tensor (shape and name) before anything is written.
        var config = imported.Config;
        config.Set("torch_dtype", "float32");
        config.Set("mlpkit_source", Path.GetFileName(onnxPath));
        using (var model = ModelZoo.FromTensors(config, imported.Tensors, onnxPath)) { }
        CheckpointWeights.Save(dir, imported.Tensors);
        config.Save(Path.Combine(dir, ModelZoo.ConfigFileName));
        if (options.VocabTxt is { } vocab) WriteVocab(vocab, dir, options.LowerCase);
        options.Pooling?.Write(dir, config.GetLong("hidden_size"));
        return config;
    }

    static void WriteVocab(string vocabTxt, string dir, bool lowerCase)
    {
        var lines = File.ReadAllLines(vocabTxt, new UTF8Encoding(false, throwOnInvalidBytes: true));
        if (lines.Length > 0 && lines[^1].Length == 0) lines = lines[..^1];
        AtomicFile.WriteAllText(Path.Combine(dir, "vocab.txt"), string.Join('\n', lines) + "\n");
        // The fast-tokenizer file too, as Hugging Face repositories ship it (and MlpKit prefers it).
        AtomicFile.WriteAllText(Path.Combine(dir, HfJsonTokenizer.FileName), TokenizerJson.BertWordPiece(lines, lowerCase).ToJsonString());
        var config = new JsonObject
        {
            ["tokenizer_class"] = "BertTokenizer",
            ["do_lower_case"] = lowerCase,
            ["model_max_length"] = 512,
            ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
        };
        AtomicFile.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), JsonFile.ToStableString(config));
    }
}
