using System;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;
using ParallelMap.Engine.Checkpoint;

namespace ParallelMap.Commands
{
    /// <summary>
    /// The text of a script reduced to what decides its behaviour, for a checkpoint's fingerprint:
    /// PowerShell's own tokens, without comments, indentation, blank lines or the amount of white
    /// space between tokens, so that reformatting or commenting a script does not orphan its
    /// checkpoint. Token texts are kept exactly (strings, names and their case).
    /// </summary>
    /// <remarks>
    /// White space is not always meaningless in PowerShell: in command arguments <c>"a"b</c> is one
    /// argument and <c>"a" b</c> two, and a new line ends a statement. So whether two tokens touch is
    /// kept (except next to tokens where it never matters: braces, separators, keywords and
    /// operators); a run of new lines and ';' counts as one statement separator, and a line break
    /// where PowerShell continues the statement anyway counts as none. When in doubt the fingerprint differs:
    /// a refused resume can be forced, a wrongly accepted one would mix two scripts' results.
    /// </remarks>
    internal static class ScriptFingerprint
    {
        /// <summary>Flags of tokens around which touching or not never changes the meaning.</summary>
        private const TokenFlags SpacingFreeFlags = TokenFlags.Keyword | TokenFlags.BinaryOperator | TokenFlags.UnaryOperator | TokenFlags.AssignmentOperator;

        /// <summary>
        /// The normalized form of <paramref name="script"/>; the text itself when it does not parse
        /// (such a script fails anyway, and its exact text is the safest fingerprint).
        /// </summary>
        internal static string Normalize(string script)
        {
            Parser.ParseInput(script, out Token[] tokens, out ParseError[] errors);
            if (errors.Length > 0) return script;
            var sb = new StringBuilder(script.Length);
            Token? previous = null;
            bool pendingSeparator = false;
            int parenDepth = 0;
            foreach (Token token in tokens)
            {
                switch (token.Kind)
                {
                    case TokenKind.Comment when !IsRequires(token):
                    case TokenKind.LineContinuation:
                    case TokenKind.EndOfInput:
                        continue;
                    case TokenKind.NewLine:
                    case TokenKind.Semi when parenDepth == 0:
                        // A new line and a ';' both end a statement (in a for loop's parentheses a
                        // ';' is kept as itself).
                        pendingSeparator = previous is not null;
                        continue;
                    case TokenKind.LParen:
                        parenDepth++;
                        break;
                    case TokenKind.RParen:
                        parenDepth = Math.Max(0, parenDepth - 1);
                        break;
                }

                if (pendingSeparator && !SeparatorFree(previous!, token))
                {
                    // One separator for any run of them (blank lines, lines of comments).
                    sb.Append('\n');
                }
                else if (previous is not null)
                {
                    bool touches = previous.Extent.EndOffset == token.Extent.StartOffset;
                    sb.Append(touches || SpacingFree(previous) || SpacingFree(token) ? "\u0001" : "\u0002");
                }

                pendingSeparator = false;

                // Length-prefixed, so no token text can pose as a separator.
                sb.Append((int)token.Kind).Append(':').Append(token.Text.Length).Append(':').Append(token.Text);
                previous = token;
            }

            return sb.ToString();
        }

        /// <summary>#Requires is a comment that changes what runs.</summary>
        private static bool IsRequires(Token token) => token.Text.StartsWith("#requires", StringComparison.OrdinalIgnoreCase);

        /// <summary>
        /// Where a line break means nothing: after an opening brace or parenthesis, a pipe, a comma or
        /// an operator (the statement goes on), before a closing one, and between a closing brace and
        /// the keyword that continues its statement (else, catch, ...).
        /// </summary>
        private static bool SeparatorFree(Token previous, Token next)
        {
            switch (previous.Kind)
            {
                case TokenKind.LCurly:
                case TokenKind.LParen:
                case TokenKind.AtParen:
                case TokenKind.DollarParen:
                case TokenKind.AtCurly:
                case TokenKind.Pipe:
                case TokenKind.Comma:
                    return true;
            }

            if ((previous.TokenFlags & (TokenFlags.BinaryOperator | TokenFlags.AssignmentOperator)) != 0) return true;
            switch (next.Kind)
            {
                case TokenKind.RCurly:
                case TokenKind.RParen:
                    return true;
                case TokenKind.Else:
                case TokenKind.ElseIf:
                case TokenKind.Catch:
                case TokenKind.Finally:
                    return previous.Kind == TokenKind.RCurly;
                default:
                    return false;
            }
        }

        private static bool SpacingFree(Token token)
        {
            switch (token.Kind)
            {
                case TokenKind.LCurly:
                case TokenKind.RCurly:
                case TokenKind.Semi:
                case TokenKind.Pipe:
                case TokenKind.Comma:
                case TokenKind.NewLine:
                    return true;
                default:
                    return (token.TokenFlags & SpacingFreeFlags) != 0;
            }
        }

        /// <summary>
        /// What this batch runs, as the checkpoint remembers it. Since version 2 the script blocks are
        /// fingerprinted by their tokens (<see cref="ScriptFingerprint"/>), so comments and white space
        /// do not count; a checkpoint made with version 1 (the exact text) resumes as long as the
        /// text is unchanged, and keeps its version-1 fingerprint (the manifest is never rewritten).
        /// </summary>
        internal static string ForBatch(string path, ScriptBlock scriptBlock, string parameterSet, string? keyProperty, ScriptBlock? keyScript, bool restart)
        {
            string keyScriptText = keyScript?.ToString() ?? string.Empty;
            string current = CheckpointStore.ComputeFingerprint("Start-ResumableBatch/2", Normalize(scriptBlock.ToString()), parameterSet, keyProperty ?? string.Empty, keyScript is null ? string.Empty : Normalize(keyScriptText));
            if (restart || !File.Exists(System.IO.Path.Combine(path, CheckpointLayout.ManifestName))) return current;
            string stored;
            try
            {
                stored = CheckpointStore.ReadManifest(path).Fingerprint;
            }
            catch (CheckpointException)
            {
                return current; // Open reports what is wrong with it.
            }

            string version1 = CheckpointStore.ComputeFingerprint("Start-ResumableBatch/1", scriptBlock.ToString(), parameterSet, keyProperty ?? string.Empty, keyScriptText);
            return string.Equals(stored, version1, StringComparison.Ordinal) ? version1 : current;
        }
    }
}
