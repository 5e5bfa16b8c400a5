using System.Text;

namespace MlpKit.Data;

/// <summary>
/// Text files of one example per line, read strictly: invalid UTF-8 is an error naming the file and the line
/// (not silently replaced by U+FFFD), blank lines are skipped, surrounding whitespace trimmed.
/// </summary>
public static class TextLines
{
    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Every line of a UTF-8 text file (a BOM skipped, a trailing CR removed) with its number, decoded strictly: invalid
    /// UTF-8 is an error naming the file and line. For readers that parse lines themselves (task files).
    /// </summary>
    public static IEnumerable<(string Text, int Number)> Raw(string path)
    {
        var bytes = File.ReadAllBytes(path);
        int pos = bytes.AsSpan().StartsWith("\uFEFF"u8) ? 3 : 0, number = 0;
        while (pos < bytes.Length)
        {
            number++;
            int end = Array.IndexOf(bytes, (byte)'\n', pos);
            if (end < 0) end = bytes.Length;
            string line;
            try
            {
                line = Strict.GetString(bytes, pos, end - pos);
            }
            catch (DecoderFallbackException)
            {
                throw MlpKitException.Field(path, $"line {number}", "invalid UTF-8 (the file must be UTF-8 text)");
            }
            yield return (line.TrimEnd('\r'), number);
            pos = end + 1;
        }
    }

    /// <summary>A strict UTF-8 reader (invalid bytes throw <see cref="DecoderFallbackException"/>) for streaming parsers.</summary>
    public static StreamReader StrictReader(string path) => new(path, Strict, detectEncodingFromByteOrderMarks: true);

    /// <summary>The non-empty lines (at most <paramref name="max"/>); an empty result is an error.</summary>
    public static List<string> Read(string path, int max = int.MaxValue, string what = "examples")
    {
        if (Directory.Exists(path)) throw new MlpKitException($"{path}: is a folder; expected a text file, one example per line");
        if (!File.Exists(path)) throw new MlpKitException($"{path}: file not found");
        var lines = new List<string>();
        // Line by line (Raw), so an error names the line that holds the bad bytes.
        if (max > 0)
            foreach (var (line, _) in Raw(path))
            {
                var trimmed = line.Trim();
                if (trimmed.Length > 0) lines.Add(trimmed);
                // Stop before decoding further lines, as a reader of the first `max` examples should.
                if (lines.Count >= max) break;
            }
        if (lines.Count == 0) throw new MlpKitException($"{path}: no {what} (the file has no non-empty lines)");
        return lines;
    }
}
