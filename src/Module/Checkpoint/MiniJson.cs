using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace ParallelMap.Engine.Checkpoint
{
    /// <summary>
    /// The little JSON the manifest and the lock holder file need (the engine takes no packages and
    /// netstandard2.0 has no System.Text.Json). Objects parse to ordinal dictionaries, integers to
    /// <see cref="long"/>, other numbers to <see cref="double"/>, arrays to lists.
    /// </summary>
    internal static class MiniJson
    {
        /// <summary>Thrown on malformed text; <see cref="Offset"/> is the character offset of the problem.</summary>
        internal sealed class JsonFormatException : FormatException
        {
            public JsonFormatException(string message, int offset)
                : base(message)
            {
                Offset = offset;
            }

            public int Offset { get; }
        }

        public static object? Parse(string text)
        {
            int i = 0;
            object? value = ParseValue(text, ref i, 0);
            SkipWhite(text, ref i);
            if (i != text.Length)
            {
                throw new JsonFormatException("text after the JSON value", i);
            }

            return value;
        }

        public static void WriteString(StringBuilder sb, string value)
        {
            sb.Append('"');
            foreach (char ch in value)
            {
                switch (ch)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    default:
                        if (ch < 0x20)
                        {
                            sb.Append("\\u").Append(((int)ch).ToString("x4", CultureInfo.InvariantCulture));
                        }
                        else
                        {
                            sb.Append(ch);
                        }

                        break;
                }
            }

            sb.Append('"');
        }

        private static object? ParseValue(string s, ref int i, int depth)
        {
            if (depth > 64)
            {
                throw new JsonFormatException("nesting too deep", i);
            }

            SkipWhite(s, ref i);
            if (i >= s.Length)
            {
                throw new JsonFormatException("unexpected end", i);
            }

            char ch = s[i];
            switch (ch)
            {
                case '{': return ParseObject(s, ref i, depth);
                case '[': return ParseArray(s, ref i, depth);
                case '"': return ParseString(s, ref i);
                case 't': Expect(s, ref i, "true"); return true;
                case 'f': Expect(s, ref i, "false"); return false;
                case 'n': Expect(s, ref i, "null"); return null;
                default:
                    if (ch == '-' || (ch >= '0' && ch <= '9'))
                    {
                        return ParseNumber(s, ref i);
                    }

                    throw new JsonFormatException("unexpected character '" + ch + "'", i);
            }
        }

        private static Dictionary<string, object?> ParseObject(string s, ref int i, int depth)
        {
            var result = new Dictionary<string, object?>(StringComparer.Ordinal);
            i++;
            SkipWhite(s, ref i);
            if (i < s.Length && s[i] == '}')
            {
                i++;
                return result;
            }

            while (true)
            {
                SkipWhite(s, ref i);
                if (i >= s.Length || s[i] != '"')
                {
                    throw new JsonFormatException("expected a property name", i);
                }

                int at = i;
                string name = ParseString(s, ref i);
                SkipWhite(s, ref i);
                if (i >= s.Length || s[i] != ':')
                {
                    throw new JsonFormatException("expected ':'", i);
                }

                i++;
                object? value = ParseValue(s, ref i, depth + 1);
                if (result.ContainsKey(name))
                {
                    throw new JsonFormatException("duplicate property '" + name + "'", at);
                }

                result[name] = value;
                SkipWhite(s, ref i);
                if (i < s.Length && s[i] == ',')
                {
                    i++;
                    continue;
                }

                if (i < s.Length && s[i] == '}')
                {
                    i++;
                    return result;
                }

                throw new JsonFormatException("expected ',' or '}'", i);
            }
        }

        private static List<object?> ParseArray(string s, ref int i, int depth)
        {
            var result = new List<object?>();
            i++;
            SkipWhite(s, ref i);
            if (i < s.Length && s[i] == ']')
            {
                i++;
                return result;
            }

            while (true)
            {
                result.Add(ParseValue(s, ref i, depth + 1));
                SkipWhite(s, ref i);
                if (i < s.Length && s[i] == ',')
                {
                    i++;
                    continue;
                }

                if (i < s.Length && s[i] == ']')
                {
                    i++;
                    return result;
                }

                throw new JsonFormatException("expected ',' or ']'", i);
            }
        }

        private static string ParseString(string s, ref int i)
        {
            int start = i;
            i++;
            var sb = new StringBuilder();
            while (i < s.Length)
            {
                char ch = s[i++];
                if (ch == '"')
                {
                    return sb.ToString();
                }

                if (ch < 0x20)
                {
                    throw new JsonFormatException("control character in a string", i - 1);
                }

                if (ch != '\\')
                {
                    sb.Append(ch);
                    continue;
                }

                if (i >= s.Length)
                {
                    break;
                }

                char esc = s[i++];
                switch (esc)
                {
                    case '"': sb.Append('"'); break;
                    case '\\': sb.Append('\\'); break;
                    case '/': sb.Append('/'); break;
                    case 'b': sb.Append('\b'); break;
                    case 'f': sb.Append('\f'); break;
                    case 'n': sb.Append('\n'); break;
                    case 'r': sb.Append('\r'); break;
                    case 't': sb.Append('\t'); break;
                    case 'u':
                        if (i + 4 > s.Length || !int.TryParse(s.Substring(i, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int code))
                        {
                            throw new JsonFormatException("bad \\u escape", i - 2);
                        }

                        sb.Append((char)code);
                        i += 4;
                        break;
                    default:
                        throw new JsonFormatException("bad escape", i - 2);
                }
            }

            throw new JsonFormatException("unterminated string", start);
        }

        private static object ParseNumber(string s, ref int i)
        {
            int start = i;
            bool integer = true;
            if (s[i] == '-')
            {
                i++;
            }

            while (i < s.Length)
            {
                char ch = s[i];
                if (ch >= '0' && ch <= '9')
                {
                    i++;
                }
                else if (ch == '.' || ch == 'e' || ch == 'E' || ch == '+' || ch == '-')
                {
                    integer = false;
                    i++;
                }
                else
                {
                    break;
                }
            }

            string text = s.Substring(start, i - start);
            if (integer && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l))
            {
                return l;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
            {
                return d;
            }

            throw new JsonFormatException("bad number", start);
        }

        private static void Expect(string s, ref int i, string word)
        {
            if (string.CompareOrdinal(s, i, word, 0, word.Length) != 0)
            {
                throw new JsonFormatException("expected '" + word + "'", i);
            }

            i += word.Length;
        }

        private static void SkipWhite(string s, ref int i)
        {
            while (i < s.Length && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            {
                i++;
            }
        }
    }
}
