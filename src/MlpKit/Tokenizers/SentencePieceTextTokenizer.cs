namespace MlpKit.Tokenizers;

/// <summary>
/// A SentencePiece-unigram tokenizer (USE-Lite's) (<see cref="SentencePieceUnigramTokenizer"/>, an exact port of
/// the model's JavaScript tokenizer) behind <see cref="ITextTokenizer"/>. The model reads plain piece ids with
/// no special tokens, so <see cref="EncodePair"/> adds none: a pair is the first text's ids followed by the
/// second's. Special ids are the reserved pieces the vocabulary names (&lt;unk&gt; 0, &lt;s&gt; 1, &lt;/s&gt; 2).
/// </summary>
public sealed class SentencePieceTextTokenizer : ITextTokenizer
{
    readonly HashSet<int> _special;

    public SentencePieceTextTokenizer(SentencePieceUnigramTokenizer pieces)
    {
        Pieces = pieces;
        int? Named(int id, params string[] names) =>
            id < pieces.VocabSize && names.Contains(pieces.IdToPiece(id)) ? id : null;
        Special = new SpecialTokenIds(
            Unk: SentencePieceUnigramTokenizer.UnknownId,
            Bos: Named(1, "<s>"),
            Eos: Named(2, "</s>"));
        _special = Special.AllIds().ToHashSet();
    }

    public SentencePieceUnigramTokenizer Pieces { get; }
    public string Kind => "sentencepiece-unigram";
    public int VocabSize => Pieces.VocabSize;
    public SpecialTokenIds Special { get; }

    public static SentencePieceTextTokenizer Load(string vocabJson) => new(SentencePieceUnigramTokenizer.FromVocabJson(vocabJson));

    public int[] Encode(string text) => Pieces.EncodeToIds(text);

    public TokenizedInput EncodePair(string text, string? pair = null, int? maxLength = null)
    {
        var a = Encode(text);
        var b = pair is null ? null : Encode(pair);
        return PairBuilder.Build(a, b, [], [], [], [], maxLength, typeIdsForSecondSegment: false);
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecial = true)
    {
        var kept = ids.Where(id => !(skipSpecial && _special.Contains(id))).ToArray();
        foreach (var id in kept)
            if (id < 0 || id >= VocabSize) throw new MlpKitException($"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
        return Pieces.Decode(kept);
    }
}
