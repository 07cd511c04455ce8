using System.Text;
using DiffPlex;

namespace OdooFleet.Agent.Engine;

/// <summary>
/// Unified diffs ("--- a/…", "+++ b/…", "@@ -l,n +l,n @@") of two texts for check mode. DiffPlex
/// finds the changed line blocks; this only groups them into hunks with context.
/// </summary>
internal static class TextDiff
{
    public static string Unified(string path, string oldText, string newText, int context = 3)
    {
        // Lines end with '\n'; the final one would otherwise show up as an empty extra line.
        var diff = Differ.Instance.CreateLineDiffs(TrimFinalNewline(oldText), TrimFinalNewline(newText), ignoreWhitespace: false, ignoreCase: false);
        var oldLines = diff.PiecesOld;
        var newLines = diff.PiecesNew;
        var text = new StringBuilder();
        text.Append("--- a").Append(path).Append('\n').Append("+++ b").Append(path).Append('\n');
        var blocks = diff.DiffBlocks;
        var i = 0;
        while (i < blocks.Count)
        {
            // Merge blocks whose context windows touch into one hunk.
            var last = i;
            while (last + 1 < blocks.Count
                   && blocks[last + 1].DeleteStartA - (blocks[last].DeleteStartA + blocks[last].DeleteCountA) <= 2 * context)
            {
                last++;
            }

            var startA = Math.Max(0, blocks[i].DeleteStartA - context);
            var endA = Math.Min(oldLines.Count, blocks[last].DeleteStartA + blocks[last].DeleteCountA + context);
            var startB = blocks[i].InsertStartB - (blocks[i].DeleteStartA - startA);
            var body = new StringBuilder();
            var (countA, countB) = (0, 0);
            void Line(char mark, string line)
            {
                body.Append(mark).Append(line).Append('\n');
                countA += mark == '+' ? 0 : 1;
                countB += mark == '-' ? 0 : 1;
            }

            var a = startA;
            for (var b = i; b <= last; b++)
            {
                var block = blocks[b];
                for (; a < block.DeleteStartA; a++)
                {
                    Line(' ', oldLines[a]);
                }

                for (var d = 0; d < block.DeleteCountA; d++)
                {
                    Line('-', oldLines[block.DeleteStartA + d]);
                }

                for (var n = 0; n < block.InsertCountB; n++)
                {
                    Line('+', newLines[block.InsertStartB + n]);
                }

                a = block.DeleteStartA + block.DeleteCountA;
            }

            for (; a < endA; a++)
            {
                Line(' ', oldLines[a]);
            }

            text.Append("@@ -").Append(Range(startA, countA)).Append(" +").Append(Range(startB, countB)).Append(" @@\n").Append(body);
            i = last + 1;
        }

        return text.ToString();
    }

    private static string TrimFinalNewline(string text) => text.EndsWith('\n') ? text[..^1] : text;

    private static string Range(int start, int count) => count == 0 ? $"{start},0" : $"{start + 1},{count}";
}
