using static TorchSharp.torch;

namespace MlpKit.Lm;

/// <summary>
/// Consecutive-segment batching for recurrent-memory (Transformer-XL) training: the token stream is cut into
/// <see cref="Lanes"/> contiguous lanes of <see cref="LaneLength"/> tokens (the tail that does not fill a lane is
/// dropped, as Transformer-XL's ordered iterator does), and segment s of lane l is the window of
/// <see cref="Context"/> + 1 tokens starting at l·LaneLength + s·Context, so segment s + 1 of a lane continues exactly
/// where segment s stopped. A lane holds <see cref="Segments"/> full segments; whatever is left at its end is not
/// trained on. Example index i is segment i / Lanes of lane i % Lanes, so examples 0, 1, 2, … taken Lanes at a time
/// are the segments in order, every lane in every batch.
/// </summary>
public sealed record LmLanes(long StreamLength, int Lanes, int Context)
{
    public long LaneLength => StreamLength / Lanes;

    /// <summary>Full segments per lane: a segment needs Context inputs and one more target.</summary>
    public int Segments => (int)Math.Min(int.MaxValue / Lanes, (LaneLength - 1) / Context);

    public int Count => Segments * Lanes;

    public static LmLanes For(LmTokenStream stream, int lanes, int context)
    {
        if (lanes < 1) throw new MlpKitException($"--batch {lanes}: xl training needs at least one lane");
        var l = new LmLanes(stream.Length, lanes, context);
        if (l.LaneLength < context + 1)
            throw new MlpKitException($"{stream.Source}: {stream.Length} tokens cannot make {lanes} lanes of at least context + 1 = {context + 1} tokens; use a smaller --batch or --context");
        return l;
    }

    public int Lane(int index) => index % Lanes;

    public int Segment(int index) => index / Lanes;

    /// <summary>Stream position of the first token (input) of example <paramref name="index"/>.</summary>
    public long Start(int index) => Lane(index) * LaneLength + (long)Segment(index) * Context;

    /// <summary>
    /// The segment that the batch <paramref name="indices"/> is: it must be one segment of every lane, lanes in
    /// order (the trainer's in-order walk gives exactly that), because row l of the memory belongs to lane l.
    /// </summary>
    public int SegmentOf(IReadOnlyList<int> indices)
    {
        if (indices.Count != Lanes) throw new MlpKitException($"xl training takes one segment of all {Lanes} lanes per batch, got {indices.Count} windows");
        var s = Segment(indices[0]);
        for (int l = 0; l < Lanes; l++)
            if (indices[l] != s * Lanes + l)
                throw new MlpKitException($"xl training takes the segments of every lane in order; batch [{string.Join(", ", indices.Take(8))}…] is not segment {s} of lanes 0..{Lanes - 1}");
        return s;
    }

    /// <summary>Windows of Context + 1 tokens of the batch as int64 [Lanes, Context + 1].</summary>
    public Tensor Windows(int[] tokens, IReadOnlyList<int> indices) =>
        LmEvaluation.Windows(tokens, indices.Select(Start).ToList(), Context + 1);
}
