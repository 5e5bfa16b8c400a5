using System.Diagnostics;
using System.Text.Json;
using MlpKit.Checkpoints;
using MlpKit.Data;

namespace MlpKit.Embeddings;

/// <summary>Settings of `mlpkit embed`.</summary>
public sealed record EmbedOptions(string Model, string Input, string Output, PoolingMode? Pooling = null, bool? Normalize = null, int BatchSize = 32);

/// <summary>
/// `mlpkit embed`: one JSON line per input line ({"text": …, "embedding": […]}), written atomically; progress
/// with ETA on the log; Ctrl+C stops between batches and writes nothing.
/// </summary>
public static class EmbedRun
{
    public static int Run(EmbedOptions o, TextWriter log, CancellationToken cancel = default)
    {
        if (o.BatchSize < 1) throw new MlpKitException($"--batch-size {o.BatchSize}: must be at least 1");
        var texts = TextLines.Read(o.Input, what: "sentences");
        CheckWritable(o.Output);
        using var opened = SentenceEncoders.Open(o.Model, o.Pooling, o.Normalize);
        log.WriteLine($"embedding {texts.Count} sentences with {o.Model} ({opened.Description})");
        var clock = Stopwatch.StartNew();
        var rows = new List<float[]>(texts.Count);
        for (int start = 0; start < texts.Count; start += o.BatchSize)
        {
            cancel.ThrowIfCancellationRequested();
            var chunk = texts.Skip(start).Take(o.BatchSize).ToList();
            using var e = opened.Encoder.Embed(chunk, o.BatchSize);
            for (int i = 0; i < chunk.Count; i++) rows.Add(e[i].data<float>().ToArray());
            double done = rows.Count, eta = clock.Elapsed.TotalSeconds / done * (texts.Count - done);
            log.Write($"\r  {rows.Count}/{texts.Count} sentences, {clock.Elapsed.TotalSeconds:F1} s, ETA {eta:F0} s   ");
        }
        log.WriteLine();
        AtomicFile.Write(o.Output, stream =>
        {
            using var writer = new Utf8JsonWriter(stream);
            for (int i = 0; i < texts.Count; i++)
            {
                writer.Reset(stream);
                writer.WriteStartObject();
                writer.WriteString("text", texts[i]);
                writer.WriteStartArray("embedding");
                foreach (var v in rows[i]) writer.WriteNumberValue(v);
                writer.WriteEndArray();
                writer.WriteEndObject();
                writer.Flush();
                stream.WriteByte((byte)'\n');
            }
        });
        return texts.Count;
    }

    /// <summary>Fails before any work when the output cannot be written (a folder, a missing parent that cannot be made).</summary>
    internal static void CheckWritable(string path)
    {
        if (Directory.Exists(path)) throw new MlpKitException($"{path}: is a folder; --out names the file to write");
        var parent = Path.GetDirectoryName(Path.GetFullPath(path))!;
        try
        {
            Directory.CreateDirectory(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MlpKitException($"{path}: cannot write: {e.Message}", e);
        }
    }
}
