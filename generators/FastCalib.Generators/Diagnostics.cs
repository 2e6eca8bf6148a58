using System.Collections.Generic;
using Microsoft.CodeAnalysis;

namespace FastCalib.Generators;

/// <summary>
/// The diagnostics the generator reports, each with a message format (what was found, then the rule it breaks and
/// what is allowed), a description and a help link. Ids are tracked in AnalyzerReleases.Shipped.md and
/// AnalyzerReleases.Unshipped.md; the README's "Generator diagnostics" section explains each one.
/// </summary>
internal static class Diagnostics
{
    public const string Category = "FastCalib.Generators";

    /// <summary>The README ships in the package; its diagnostics section documents every id.</summary>
    private const string HelpLink = "https://www.nuget.org/packages/FastCalib#readme-body-tab";

    private const string Subset = "A row kernel is a static method of non-generic partial classes whose parameters are ReadOnlyRow, Row, float, in float, in int, out float, out int or ref double, and whose statements are float locals bound to Rows.Max/Min/Sum/MapSum/At or to an expression, int locals bound to Rows.ArgMax, Rows.Map calls, assignments to out parameters and '+=' to a ref double. Expressions use float literals and constants, parameters, locals, + - * /, unary minus, comparisons and && || ! inside c ? a : b, and MathF.Exp/Log/Sqrt/Abs/Min/Max.";

    public static readonly DiagnosticDescriptor BadDeclaration = Error("FCG001", "Row kernel declaration",
        "Row kernel '{0}' cannot be generated: {1}",
        "A [RowKernel] method must be static, non-generic and return void, and every type around it must be a non-generic partial class, so that the generator can add the nested <Name>Kernel class.");
    public static readonly DiagnosticDescriptor BadParameter = Error("FCG002", "Unsupported row kernel parameter",
        "Parameter '{0}' is not supported: {1}",
        "Row kernel parameters are ReadOnlyRow (an input matrix), Row (an output matrix), float (one value for all rows), in float / in int (one input per row), out float / out int (one output per row) and at most one ref double (a total over all rows); at least one is a row. [RowFrom(\"index\")] on a ReadOnlyRow names the in int parameter that gives each row's source row.");
    public static readonly DiagnosticDescriptor BadStatement = Error("FCG003", "Unsupported statement in a row kernel",
        "Statement '{0}' is not supported in a row kernel: {1}",
        Subset);
    public static readonly DiagnosticDescriptor BadExpression = Error("FCG004", "Unsupported expression in a row kernel",
        "Expression '{0}' is not supported: {1}",
        Subset);
    public static readonly DiagnosticDescriptor BadCall = Error("FCG005", "Unsupported call in a row kernel",
        "Call '{0}' is not supported here: {1}",
        "Statements call the Rows patterns (Max, Min, Sum, ArgMax, At, Map, MapSum); expressions call MathF.Exp, Log, Sqrt, Abs, Min and Max. Nothing else is translated to the SIMD and GPU paths.");
    public static readonly DiagnosticDescriptor BadLambda = Error("FCG006", "Row pattern element function",
        "Element function '{0}' is not supported: {1}",
        "The last argument of a Rows pattern is a lambda with an expression body, one parameter per row it reads, e.g. (g, p) => g * p.");
    public static readonly DiagnosticDescriptor BadName = Error("FCG007", "Name not usable here",
        "'{0}' cannot be used here: {1}",
        "Each name of a row kernel has one role: rows are read through Rows patterns, int locals and in int parameters index Rows.At or compare with == and != to another int, outputs are written and not read, and names starting with '__' or listed on RowKernelAttribute as reserved belong to the generated code.");
    public static readonly DiagnosticDescriptor BadTemplate = Error("FCG008", "SIMD width template",
        "SIMD width template '{0}' cannot be generated: {1}",
        "A [SimdWidthTemplate] type is written for Vector256 and has 256 in its name; its Vector128 and Vector512 twins are emitted by renaming every identifier that contains 256.");
    public static readonly DiagnosticDescriptor BadRadices = Error("FCG009", "FFT codelet radices",
        "FFT codelets of '{0}' cannot be generated: {1}",
        "[FftRadices(...)] goes on a static partial class and names each radix from 2 to 32 once; the generator emits a straight-line DFT of each length as a Stockham stage for the CPU and a butterfly for the GPU.");

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

    /// <summary>Every descriptor, for the tests that check them.</summary>
    public static IEnumerable<DiagnosticDescriptor> All => ById.Values;

    public static DiagnosticDescriptor Get(string id) => ById[id];

    private static DiagnosticDescriptor Error(string id, string title, string format, string description) =>
        new(id, title, format, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, description, HelpLink);
}
