using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace FastCalib.Generators;

/// <summary>The diagnostics the generator reports; each message says what was found and what is allowed.</summary>
internal static class Diagnostics
{
    public const string Category = "FastCalib.Generators";

    public static readonly DiagnosticDescriptor BadDeclaration = Error("FCG001", "Row kernel declaration",
        "{0}");
    public static readonly DiagnosticDescriptor BadParameter = Error("FCG002", "Unsupported row kernel parameter",
        "{0}");
    public static readonly DiagnosticDescriptor BadStatement = Error("FCG003", "Unsupported statement in a row kernel",
        "{0}");
    public static readonly DiagnosticDescriptor BadExpression = Error("FCG004", "Unsupported expression in a row kernel",
        "{0}");
    public static readonly DiagnosticDescriptor BadCall = Error("FCG005", "Unsupported call in a row kernel",
        "{0}");
    public static readonly DiagnosticDescriptor BadLambda = Error("FCG006", "Row pattern element function",
        "{0}");
    public static readonly DiagnosticDescriptor BadName = Error("FCG007", "Name not usable here",
        "{0}");
    public static readonly DiagnosticDescriptor BadTemplate = Error("FCG008", "SIMD width template",
        "{0}");

    public static readonly DiagnosticDescriptor BadRadices = Error("FCG009", "FFT codelet radices",
        "{0}");

    private static readonly Dictionary<string, DiagnosticDescriptor> ById = new()
    {
        [BadDeclaration.Id] = BadDeclaration,
        [BadParameter.Id] = BadParameter,
        [BadStatement.Id] = BadStatement,
        [BadExpression.Id] = BadExpression,
        [BadCall.Id] = BadCall,
        [BadLambda.Id] = BadLambda,
        [BadName.Id] = BadName,
        [BadTemplate.Id] = BadTemplate,
        [BadRadices.Id] = BadRadices,
    };

    public static DiagnosticDescriptor Get(string id) => ById[id];

    private static DiagnosticDescriptor Error(string id, string title, string format) =>
        new(id, title, format, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);
}
