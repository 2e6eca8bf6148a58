using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace FastCalib.Generators;

/// <summary>An immutable array with value equality, so incremental-generator models compare by content.</summary>
internal readonly struct EquatableArray<T> : IEquatable<EquatableArray<T>>, IEnumerable<T>
    where T : IEquatable<T>
{
    private readonly T[]? _items;

    public EquatableArray(IEnumerable<T> items) => _items = items.ToArray();

    public int Count => _items?.Length ?? 0;

    public T this[int index] => _items![index];

    public bool Equals(EquatableArray<T> other) =>
        (_items ?? Array.Empty<T>()).SequenceEqual(other._items ?? Array.Empty<T>());

    public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

    public override int GetHashCode()
    {
        int hash = 17;
        foreach (var item in _items ?? Array.Empty<T>()) hash = hash * 31 + item.GetHashCode();
        return hash;
    }

    public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(_items ?? Array.Empty<T>())).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

internal static class EquatableArray
{
    public static EquatableArray<T> ToEquatable<T>(this IEnumerable<T> items) where T : IEquatable<T> => new(items);
}

/// <summary>What a kernel parameter stands for.</summary>
internal enum ParamKind
{
    /// <summary>ReadOnlyRow: an input matrix.</summary>
    InRow,
    /// <summary>Row: an output matrix.</summary>
    OutRow,
    /// <summary>float: one value for all rows.</summary>
    Uniform,
    /// <summary>out float: one value per row.</summary>
    OutFloat,
    /// <summary>out int: one value per row.</summary>
    OutInt,
    /// <summary>ref double: a total over all rows.</summary>
    Total,
    /// <summary>in float: one input value per row.</summary>
    RowFloat,
    /// <summary>in int: one input value per row (e.g. a label).</summary>
    RowInt,
}

/// <summary>A kernel parameter; <see cref="RowFrom"/> names the in int parameter giving an input's source rows ("" if none).</summary>
internal sealed record ParamModel(string Name, ParamKind Kind, string RowFrom = "");

internal enum ExprKind
{
    Literal,   // Text: C# float literal
    Name,      // Text: identifier
    Negate,
    Not,
    Binary,    // Text: operator (+ - * / < <= > >= == != && ||)
    Call,      // Text: Exp Log Sqrt Abs Min Max
    Conditional,
    IntCompare, // Text: == or !=; Args: two Name leaves naming ints (int locals or in int parameters)
}

/// <summary>A node of a kernel expression: the subset of C# the generator accepts.</summary>
internal sealed record Expr(ExprKind Kind, string Text, EquatableArray<Expr> Args)
{
    public static Expr Leaf(ExprKind kind, string text) => new(kind, text, default);

    public bool IsBoolean => Kind is ExprKind.Not or ExprKind.IntCompare
        || (Kind == ExprKind.Binary && Text is "<" or "<=" or ">" or ">=" or "==" or "!=" or "&&" or "||");

    /// <summary>Calls of the given math functions (e.g. Exp, Log) in the expression.</summary>
    public int CountCalls(params string[] functions) =>
        (Kind == ExprKind.Call && System.Array.IndexOf(functions, Text) >= 0 ? 1 : 0) + Args.Sum(a => a.CountCalls(functions));

    /// <summary>Every name the expression reads.</summary>
    public IEnumerable<string> Names()
    {
        if (Kind == ExprKind.Name) yield return Text;
        foreach (var arg in Args)
            foreach (var name in arg.Names())
                yield return name;
    }
}

internal enum StageKind
{
    Max,
    Min,
    Sum,
    ArgMax,
    MapSum,
    Map,
    At,
    Let,
    AssignOut,
    AddTotal,
}

/// <summary>
/// One statement of a kernel. Row patterns (Max, Min, Sum, ArgMax, MapSum, Map) apply <see cref="Body"/> to the
/// <see cref="Inputs"/> column by column, naming the elements <see cref="LambdaParams"/>; At reads Inputs[0] at the
/// column held by the int local in <see cref="Index"/>; Let, AssignOut and AddTotal evaluate Body once per row.
/// </summary>
internal sealed record Stage(
    StageKind Kind,
    string Target,
    string Output,
    EquatableArray<string> Inputs,
    EquatableArray<string> LambdaParams,
    Expr? Body,
    string Index,
    bool TargetIsInt);

internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public static LocationInfo From(Location location) =>
        new(location.SourceTree?.FilePath ?? "", location.SourceSpan, location.GetLineSpan().Span);

    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);
}

/// <summary>A diagnostic to report: its descriptor's id, the arguments of its message format (what was found, the rule), where.</summary>
internal sealed record DiagnosticInfo(string Id, string Subject, string Rule, LocationInfo Location)
{
    public static DiagnosticInfo Of(DiagnosticDescriptor descriptor, string subject, string rule, Location location) =>
        new(descriptor.Id, subject, rule, LocationInfo.From(location));

    public Diagnostic ToDiagnostic() => Diagnostic.Create(Diagnostics.Get(Id), Location.ToLocation(), Subject, Rule);
}

/// <summary>A containing type declaration, outermost first, re-emitted to host the generated class.</summary>
internal sealed record ContainingType(string Keyword, string Name, bool IsStatic);

internal sealed record KernelModel(
    string Namespace,
    EquatableArray<ContainingType> Containers,
    string Name,
    EquatableArray<ParamModel> Params,
    EquatableArray<Stage> Stages,
    EquatableArray<DiagnosticInfo> Diagnostics)
{
    public bool HasTotal => Params.Any(p => p.Kind == ParamKind.Total);

    public string FullName => (Namespace.Length > 0 ? Namespace + "." : "")
        + string.Join(".", Containers.Select(c => c.Name)) + "." + Name + "Kernel";
}
