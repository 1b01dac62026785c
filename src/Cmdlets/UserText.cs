using System.Globalization;
using System;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Text for messages a user reads: an input or a script named briefly on one line, and .NET
    /// exception messages without the parts that only make sense to a .NET programmer.
    /// </summary>
    internal static class UserText
    {
        /// <summary>A message of Strings.resx with its holes filled, in the user's culture.</summary>
        internal static string Format(string format, params object?[] args) => string.Format(CultureInfo.CurrentCulture, format, args);

        /// <summary>The most characters of an item or a script line a message quotes.</summary>
        internal const int MaxQuoted = 80;

        /// <summary>
        /// The message of <paramref name="e"/> without the " (Parameter 'key')" that .NET appends
        /// (on .NET Framework "Parameter name: key" on a line of its own): the parameter is a
        /// parameter of the module's own code, not one the user gave.
        /// </summary>
        internal static string WithoutParameterName(ArgumentException e)
        {
            string message = e.Message;
            if (string.IsNullOrEmpty(e.ParamName)) return message;

            // The suffix as this runtime words it (and localizes it).
            string suffix = new ArgumentException(string.Empty, e.ParamName).Message.Trim();
            if (suffix.Length > 0 && message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message.Substring(0, message.Length - suffix.Length).TrimEnd();
            }

            return message;
        }

        /// <summary>An item as PowerShell would show it (strings as themselves), on one line, shortened.</summary>
        internal static string DescribeItem(object? item)
        {
            object? value = item is PSObject p ? p : item is null ? null : PSObject.AsPSObject(item);
            string text;
            try
            {
                text = value?.ToString() ?? "$null";
            }
            catch (Exception e) when (e is RuntimeException || e is InvalidOperationException || e is NotSupportedException)
            {
                // An object whose ToString throws is still named by its type.
                text = item!.GetType().FullName ?? "?";
            }

            return Shorten(text);
        }

        /// <summary>The first line of a script that holds code (not blank, not only a comment), shortened.</summary>
        internal static string FirstLine(ScriptBlock script)
        {
            string text = script.ToString();
            Parser.ParseInput(text, out Token[] tokens, out ParseError[] _);
            foreach (Token token in tokens)
            {
                if (token.Kind == TokenKind.Comment || token.Kind == TokenKind.NewLine || token.Kind == TokenKind.LineContinuation) continue;
                if (token.Kind == TokenKind.EndOfInput) break;
                string[] lines = text.Split('\n');
                int line = token.Extent.StartLineNumber - 1;
                return line >= 0 && line < lines.Length ? Shorten(lines[line].Trim()) : Shorten(token.Text);
            }

            return string.Empty;
        }

        /// <summary>One line: control characters become spaces; past <see cref="MaxQuoted"/> characters, an ellipsis.</summary>
        private static string Shorten(string text)
        {
            var sb = new StringBuilder(Math.Min(text.Length, MaxQuoted + 1));
            foreach (char c in text)
            {
                if (sb.Length == MaxQuoted)
                {
                    sb.Append('\u2026');
                    break;
                }

                sb.Append(char.IsControl(c) ? ' ' : c);
            }

            return sb.ToString().Trim();
        }
    }
}
