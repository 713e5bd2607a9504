namespace Dsql.Emulator.Sql;

/// <summary>
/// A compiled statement pattern from the rule table, matched against the tokens of a statement from a given
/// position. Syntax (space separated):
/// <list type="bullet">
/// <item><c>WORD</c>: that keyword (case-insensitive); <c>A|B</c>: one of them.</item>
/// <item><c>[ ... ]</c>: an optional group (may hold several elements: <c>[IF NOT EXISTS]</c>).</item>
/// <item><c>~</c>: a possibly qualified name.</item>
/// <item><c>!A|B</c>: the next token is none of these (consumes nothing); <c>!(</c> for a parenthesis.</item>
/// <item><c>...A</c>: skips forward to the keyword A at the statement's top level (outside parentheses).</item>
/// <item><c>(</c>: an opening parenthesis; <c>'</c>: a string constant.</item>
/// </list>
/// A pattern matches a prefix of the statement.
/// </summary>
internal sealed class TokenPattern
{
    private readonly Element[] _elements;

    private TokenPattern(Element[] elements, string text)
    {
        _elements = elements;
        Text = text;
    }

    private enum Op : byte { Word, Ident, Not, Scan, Open, String, Optional }

    /// <summary>The pattern as written in the table.</summary>
    public string Text { get; }

    /// <summary>The keyword(s) the pattern starts with, for indexing; empty when it does not start with a keyword.</summary>
    public string[] FirstWords => _elements.Length > 0 && _elements[0].Op == Op.Word ? _elements[0].Words : [];

    public static TokenPattern Parse(string text)
    {
        string[] parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int index = 0;
        Element[] elements = ParseSequence(parts, ref index, text, nested: false);
        return new TokenPattern(elements, text);
    }

    private static Element[] ParseSequence(string[] parts, ref int index, string text, bool nested)
    {
        var list = new List<Element>();
        while (index < parts.Length)
        {
            string part = parts[index];
            if (part.StartsWith('['))
            {
                parts[index] = part[1..];
                var group = ParseSequence(parts, ref index, text, nested: true);
                list.Add(new Element(Op.Optional, [], group));
                continue;
            }

            bool closes = nested && part.EndsWith(']');
            if (closes)
            {
                part = part[..^1];
            }

            index++;
            if (part.Length > 0)
            {
                list.Add(ParseElement(part, text));
            }

            if (closes)
            {
                return list.ToArray();
            }
        }

        if (nested)
        {
            throw new FormatException($"Rule pattern '{text}' has an unclosed '['.");
        }

        return list.ToArray();
    }

    private static Element ParseElement(string part, string text)
    {
        if (part == "~")
        {
            return new Element(Op.Ident, [], []);
        }

        if (part == "(")
        {
            return new Element(Op.Open, [], []);
        }

        if (part == "'")
        {
            return new Element(Op.String, [], []);
        }

        if (part.StartsWith('!'))
        {
            return new Element(Op.Not, part[1..].Split('|'), []);
        }

        if (part.StartsWith("...", StringComparison.Ordinal))
        {
            return new Element(Op.Scan, part[3..].Split('|'), []);
        }

        if (part.Any(c => !(char.IsLetterOrDigit(c) || c is '_' or '|')))
        {
            throw new FormatException($"Rule pattern '{text}' has an element '{part}' that is not understood.");
        }

        return new Element(Op.Word, part.Split('|'), []);
    }

    /// <summary>Matches the pattern at token <paramref name="start"/>; returns the index after the match or -1.</summary>
    public int Match(StatementView s, int start) => MatchSequence(_elements, s, start);

    private static int MatchSequence(Element[] elements, StatementView s, int i)
    {
        foreach (Element e in elements)
        {
            switch (e.Op)
            {
                case Op.Word:
                    if (!AnyKeyword(s, i, e.Words))
                    {
                        return -1;
                    }

                    i++;
                    break;
                case Op.Ident:
                    if (!s.IsIdent(i))
                    {
                        return -1;
                    }

                    i = s.SkipQualifiedName(i);
                    break;
                case Op.Not:
                    foreach (string w in e.Words)
                    {
                        if (w == "(" ? s.Punct(i, '(') : s.Kw(i, w))
                        {
                            return -1;
                        }
                    }

                    break;
                case Op.Open:
                    if (!s.Punct(i, '('))
                    {
                        return -1;
                    }

                    i++;
                    break;
                case Op.String:
                    if (!s.Is(i, SqlTokenKind.String))
                    {
                        return -1;
                    }

                    i++;
                    break;
                case Op.Scan:
                    int found = -1;
                    for (int k = i; k < s.Count; k++)
                    {
                        if (s.Depth(k) == 0 && AnyKeyword(s, k, e.Words))
                        {
                            found = k;
                            break;
                        }
                    }

                    if (found < 0)
                    {
                        return -1;
                    }

                    i = found + 1;
                    break;
                case Op.Optional:
                    int after = MatchSequence(e.Group, s, i);
                    if (after >= 0)
                    {
                        i = after;
                    }

                    break;
            }
        }

        return i;
    }

    private static bool AnyKeyword(StatementView s, int i, string[] words)
    {
        foreach (string w in words)
        {
            if (s.Kw(i, w))
            {
                return true;
            }
        }

        return false;
    }

    private readonly record struct Element(Op Op, string[] Words, Element[] Group);
}
