using MlpKit.Tokenizers;

namespace MlpKit.Models.Bert;

/// <summary>The zoo entries "bert" and "roberta": one model class, two embeddings/head conventions.</summary>
public static class BertArchitecture
{
    /// <summary>A bert checkpoint's WordPiece vocabulary size when `init --vocab-size` does not say.</summary>
    public const int InitVocabSize = 8192;

    public static ModelArchitecture Bert { get; } = Make(roberta: false);
    public static ModelArchitecture Roberta { get; } = Make(roberta: true);

    static ModelArchitecture Make(bool roberta) => new(roberta ? "roberta" : "bert",
        roberta ? "RoBERTa encoder (GPT-2 byte-level BPE)" : "BERT encoder (WordPiece)")
    {
        Build = c => new BertModel(BertConfigHf.Parse(c), c),
        Preset = (p, vocab, labels) => BertConfigHf.Create(roberta, vocab ?? (roberta ? 50265 : 30522), p.Hidden, p.Layers, p.Heads, p.Ffn,
            p.MaxPositions, labels),
        WriteTokenizer = roberta
            ? (dir, _) => TokenizerFiles.WriteRoberta(dir)
            : (dir, vocab) => TokenizerFiles.WriteBertWordPiece(dir, (int)(vocab ?? InitVocabSize)),
        ClassificationHead = true,
    };
}
