namespace OdooFleet.Agent.Profiles;

/// <summary>
/// The part of regex syntax a dbfilter may use: the part on which .NET's and Python's `re` agree,
/// so a filter accepted here is also accepted by Odoo (which compiles it with Python). Database
/// names are letters, digits, '_', '-' and '.', so nothing more is needed: literals, `%d`/`%h`,
/// `\.`-style escapes and `\d`/`\w`, character classes, groups `( )` and `(?: )`, `|`, `^`/`$`, and
/// a quantifier (`* + ? {m} {m,} {m,n}`, optionally lazy) after something it can repeat.
/// </summary>
internal static class DbFilterSubset
{
    private const string Literals = "_-.%,";

    /// <summary>Null when <paramref name="filter"/> stays inside the subset; else what is wrong and where.</summary>
    public static string? Problem(string filter)
    {
        // What the previous token was: nothing repeatable (start, '(', '|', an anchor), an atom, or a quantifier.
        var previous = Token.Nothing;
        var depth = 0;
        for (var i = 0; i < filter.Length;)
        {
            var c = filter[i];
            switch (c)
            {
                case '\\':
                    if (i + 1 >= filter.Length || !IsAllowedEscape(filter[i + 1]))
                    {
                        return $"uses an escape at position {i} outside \\. \\- \\_ \\d \\w \\\\";
                    }

                    previous = Token.Atom;
                    i += 2;
                    continue;
                case '[':
                    var end = ClassEnd(filter, i);
                    if (end < 0)
                    {
                        return $"has a character class at position {i} that is not closed or holds more than letters, digits, ranges, \\d, \\w and _ - . (a leading ^ negates)";
                    }

                    previous = Token.Atom;
                    i = end + 1;
                    continue;
                case '(':
                    if (i + 1 < filter.Length && filter[i + 1] == '?')
                    {
                        if (i + 2 >= filter.Length || filter[i + 2] != ':')
                        {
                            return $"uses a group extension at position {i}; only ( ) and (?: ) groups are allowed";
                        }

                        i += 3;
                    }
                    else
                    {
                        i++;
                    }

                    previous = Token.Nothing;
                    depth++;
                    continue;
                case ')':
                    if (--depth < 0)
                    {
                        return $"closes a group at position {i} that was never opened";
                    }

                    previous = Token.Atom;
                    i++;
                    continue;
                case '|' or '^' or '$':
                    previous = Token.Nothing;
                    i++;
                    continue;
                case '*' or '+' or '?' or '{':
                    var length = c == '{' ? BraceQuantifierLength(filter, i) : 1;
                    if (length == 0)
                    {
                        return $"has a '{{' at position {i} that is not a quantifier {{m}}, {{m,}} or {{m,n}} (escape a literal brace: not allowed in database names anyway)";
                    }

                    if (c == '?' && previous == Token.Quantifier)
                    {
                        // Lazy form of the quantifier before: both dialects accept it.
                        previous = Token.Lazy;
                        i++;
                        continue;
                    }

                    if (previous != Token.Atom)
                    {
                        return previous is Token.Quantifier or Token.Lazy
                            ? $"repeats a quantifier at position {i} (Python's re refuses \"multiple repeat\")"
                            : $"has a quantifier at position {i} with nothing before it to repeat (Python's re refuses it)";
                    }

                    previous = Token.Quantifier;
                    i += length;
                    continue;
                default:
                    if (!char.IsAsciiLetterOrDigit(c) && !Literals.Contains(c, StringComparison.Ordinal))
                    {
                        return $"uses '{(char.IsControl(c) ? '?' : c)}' at position {i}; allowed: letters, digits, _ - . , %d %h, \\ escapes, [ ], ( ), (?: ), |, ^, $ and quantifiers";
                    }

                    previous = Token.Atom;
                    i++;
                    continue;
            }
        }

        return depth == 0 ? null : $"leaves {depth} group(s) open at position {filter.Length} (the end)";
    }

    private enum Token
    {
        Nothing,
        Atom,
        Quantifier,
        Lazy,
    }

    private static bool IsAllowedEscape(char c) => c is '.' or '-' or '_' or 'd' or 'w' or '\\';

    /// <summary>
    /// Index of the ']' closing the class that opens at <paramref name="start"/>, or -1 when it is not
    /// closed, holds something outside the subset, or has a range that is not between two plain
    /// characters in ascending order (Python refuses "bad character range").
    /// </summary>
    private static int ClassEnd(string filter, int start)
    {
        var i = start + 1;
        if (i < filter.Length && filter[i] == '^')
        {
            i++;
        }

        var first = i;
        // The previous item, when it was a plain character that may start a range.
        char? rangeStart = null;
        var afterClassEscape = false;
        for (; i < filter.Length; i++)
        {
            var c = filter[i];
            if (c == ']' && i > first)
            {
                return i;
            }

            if (c == '-' && afterClassEscape && i + 1 < filter.Length && filter[i + 1] != ']')
            {
                // "[\d-9]": a range cannot start at \d or \w.
                return -1;
            }

            afterClassEscape = false;

            if (c == '-' && rangeStart is { } low && i + 1 < filter.Length && filter[i + 1] != ']')
            {
                // A range: the end must be a plain character (or an escaped one) not below the start.
                var high = filter[i + 1];
                var width = 2;
                if (high == '\\')
                {
                    if (i + 2 >= filter.Length || filter[i + 2] is not ('.' or '-' or '_' or '\\'))
                    {
                        return -1;
                    }

                    high = filter[i + 2];
                    width = 3;
                }
                else if (!IsClassChar(high))
                {
                    return -1;
                }

                if (high < low)
                {
                    return -1;
                }

                rangeStart = null;
                i += width - 1;
                continue;
            }

            if (c == '\\')
            {
                if (i + 1 >= filter.Length || !IsAllowedEscape(filter[i + 1]))
                {
                    return -1;
                }

                afterClassEscape = filter[i + 1] is 'd' or 'w';
                rangeStart = afterClassEscape ? null : filter[i + 1];
                i++;
            }
            else if (IsClassChar(c))
            {
                rangeStart = c;
            }
            else
            {
                return -1;
            }
        }

        return -1;
    }

    private static bool IsClassChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.';

    /// <summary>Length of a {m}, {m,} or {m,n} quantifier at <paramref name="start"/> (m, n up to 4 digits), or 0.</summary>
    private static int BraceQuantifierLength(string filter, int start)
    {
        var i = start + 1;
        var m = Digits(filter, ref i);
        if (m == 0)
        {
            return 0;
        }

        if (i < filter.Length && filter[i] == ',')
        {
            i++;
            Digits(filter, ref i);
        }

        return i < filter.Length && filter[i] == '}' ? i - start + 1 : 0;
    }

    private static int Digits(string filter, ref int i)
    {
        var from = i;
        while (i < filter.Length && char.IsAsciiDigit(filter[i]) && i - from < 4)
        {
            i++;
        }

        return i - from;
    }
}
