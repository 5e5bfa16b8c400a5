using Microsoft.ML.Tokenizers;

namespace MlpKit.Tokenizers;

/// <summary>
/// BERT WordPiece from a vocab.txt (one token per line, id = line number), on Microsoft.ML.Tokenizers'
/// <see cref="BertTokenizer"/>: basic tokenization (whitespace, punctuation, CJK), optional lower-casing,
/// greedy longest-match-first subwords with the "##" continuation prefix.
/// </summary>
public sealed class WordPieceTextTokenizer : ITextTokenizer
{
    readonly BertTokenizer _bert;
    readonly HashSet<int> _special;

    WordPieceTextTokenizer(BertTokenizer bert, int vocabSize)
    {
        _bert = bert;
        VocabSize = vocabSize;
        Special = new SpecialTokenIds(Pad: bert.PaddingTokenId, Cls: bert.ClassificationTokenId, Sep: bert.SeparatorTokenId,
            Unk: bert.UnknownTokenId, Mask: bert.MaskingTokenId);
        _special = Special.AllIds().ToHashSet();
    }

    public string Kind => "bert-wordpiece";
    public int VocabSize { get; }
    public SpecialTokenIds Special { get; }
    public bool LowerCase => _bert.LowerCaseBeforeTokenization;

    public static WordPieceTextTokenizer Load(string vocabTxt, bool lowerCase = true)
    {
        if (!File.Exists(vocabTxt)) throw new MlpKitException($"{vocabTxt}: file not found");
        var lines = File.ReadAllLines(vocabTxt);
        foreach (var required in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" })
            if (!lines.Contains(required)) throw MlpKitException.Field(vocabTxt, required, "special token missing from the vocabulary");
        // Uncased BERT also strips accents (transformers: strip_accents follows do_lower_case), so "café" is "cafe".
        var bert = BertTokenizer.Create(vocabTxt, new BertOptions { LowerCaseBeforeTokenization = lowerCase, RemoveNonSpacingMarks = lowerCase });
        return new WordPieceTextTokenizer(bert, lines.Length);
    }

    public int[] Encode(string text) =>
        _bert.EncodeToIds(text, addSpecialTokens: false, considerPreTokenization: true, considerNormalization: true).ToArray();

    public TokenizedInput EncodePair(string text, string? pair = null, int? maxLength = null)
    {
        int cls = Special.Cls!.Value, sep = Special.Sep!.Value;
        return PairBuilder.Build(Encode(text), pair is null ? null : Encode(pair), [cls], [sep], [sep], [sep], maxLength,
            typeIdsForSecondSegment: true);
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecial = true)
    {
        var kept = ids.Where(id => !(skipSpecial && _special.Contains(id))).ToArray();
        foreach (var id in kept)
            if (id < 0 || id >= VocabSize) throw new MlpKitException($"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
        return _bert.Decode(kept) ?? "";
    }
}
