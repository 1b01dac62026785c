using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace ParallelMap.Commands
{
    /// <summary>
    /// Refuses, before any runspace opens, a script block that declares a mandatory parameter the
    /// items cannot bind. Each item is pipeline input, so only a parameter that takes pipeline input
    /// (ValueFromPipeline or ValueFromPipelineByPropertyName) can ever receive a value; any other
    /// mandatory one makes PowerShell fail the begin {} block in every runspace, which would
    /// otherwise read as if the begin block were wrong.
    /// </summary>
    internal static class MandatoryParameterCheck
    {
        /// <summary>Throws a <see cref="CommandErrorException"/> (ErrorId MandatoryParameterNotBound) naming the parameters.</summary>
        internal static void ThrowIfUnbindable(ScriptBlock scriptBlock)
        {
            ParamBlockAst? paramBlock = scriptBlock.Ast switch
            {
                ScriptBlockAst s => s.ParamBlock,
                FunctionDefinitionAst f => f.Body.ParamBlock,
                _ => null,
            };
            if (paramBlock is null) return;
            var names = new List<string>();
            foreach (ParameterAst parameter in paramBlock.Parameters)
            {
                bool mandatory = false, fromPipeline = false;
                foreach (AttributeAst attribute in parameter.Attributes.OfType<AttributeAst>().Where(IsParameterAttribute))
                {
                    foreach (NamedAttributeArgumentAst argument in attribute.NamedArguments)
                    {
                        bool on = argument.ExpressionOmitted || !IsFalse(argument.Argument);
                        if (!on) continue;
                        if (Is(argument, "Mandatory")) mandatory = true;
                        if (Is(argument, "ValueFromPipeline") || Is(argument, "ValueFromPipelineByPropertyName")) fromPipeline = true;
                    }
                }

                if (mandatory && !fromPipeline) names.Add(parameter.Name.VariablePath.UserPath);
            }

            if (names.Count == 0) return;
            string list = string.Join(", ", names.Select(n => "$" + n));
            throw new CommandErrorException(new ErrorRecord(
                new ArgumentException(UserText.Format(Strings.MandatoryParameterNotBound, list)),
                ErrorIds.MandatoryParameterNotBoundId,
                ErrorCategory.InvalidArgument,
                scriptBlock));
        }

        private static bool Is(NamedAttributeArgumentAst argument, string name) => argument.ArgumentName.Equals(name, StringComparison.OrdinalIgnoreCase);

        private static bool IsParameterAttribute(AttributeAst attribute)
        {
            string n = attribute.TypeName.FullName;
            const string ns = "System.Management.Automation.";
            if (n.StartsWith(ns, StringComparison.OrdinalIgnoreCase)) n = n.Substring(ns.Length);
            return n.Equals("Parameter", StringComparison.OrdinalIgnoreCase) || n.Equals("ParameterAttribute", StringComparison.OrdinalIgnoreCase);
        }

        /// <summary>$false or 0 written as the argument (Mandatory = $false).</summary>
        private static bool IsFalse(ExpressionAst argument) => argument switch
        {
            VariableExpressionAst v => v.VariablePath.UserPath.Equals("false", StringComparison.OrdinalIgnoreCase),
            ConstantExpressionAst c => c.Value is int i && i == 0,
            _ => false,
        };
    }
}
