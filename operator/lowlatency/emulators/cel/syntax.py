"""CEL expressions parsed as cel-go parses them: cel-python's grammar, cel-go's string escapes, errors and macros.

See the package docstring for what differs from cel-go.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Sequence
from typing import Any

import lark
from celpy.celparser import CELParseError, CELParser


@dataclasses.dataclass(frozen=True)
class Expr:
    offset: int  # where cel-go reports an error about this expression (0-based)


@dataclasses.dataclass(frozen=True)
class Literal(Expr):
    kind: str
    value: Any


@dataclasses.dataclass(frozen=True)
class Ident(Expr):
    name: str


@dataclasses.dataclass(frozen=True)
class Select(Expr):
    operand: Expr
    field: str
    presence_test: bool = False  # has(operand.field)


@dataclasses.dataclass(frozen=True)
class Call(Expr):
    function: str  # cel-go's names: _==_, _&&_, _?_:_, _[_], @in, !_, -_, size, matches, ...
    target: Expr | None
    args: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class ListLiteral(Expr):
    items: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class MapLiteral(Expr):
    entries: tuple[tuple[Expr, Expr], ...]


@dataclasses.dataclass(frozen=True)
class StructLiteral(Expr):
    values: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Comprehension(Expr):
    macro: str  # all, exists, exists_one, existsOne, map, filter
    iter_range: Expr
    variables: tuple[str, ...]  # one, or two (index/key and value) for the two-variable forms
    body: tuple[Expr, ...]  # the predicate, or the transform (map), or filter then transform (map with 3 args)


class CompileError(Exception):
    """What cel-go reports for an expression that does not compile: ``ERROR: <input>:1:5: ...`` with the source."""

    def __init__(self, source: str, problems: Sequence[tuple[int, str]]) -> None:
        self.source, self.problems = source, list(problems)
        super().__init__(self.report())

    def report(self) -> str:
        lines = []
        for offset, message in self.problems:
            line = self.source.count("\n", 0, offset) + 1
            start = self.source.rfind("\n", 0, offset) + 1
            column = offset - start
            text = self.source.splitlines()[line - 1] if self.source else ""
            lines.append(f"ERROR: <input>:{line}:{column + 1}: {message}\n | {text}\n | {'.' * column}^")
        return "\n".join(lines)


_PARSER = CELParser()
_OPERATORS = {
    "relation_lt": "_<_",
    "relation_le": "_<=_",
    "relation_gt": "_>_",
    "relation_ge": "_>=_",
    "relation_eq": "_==_",
    "relation_ne": "_!=_",
    "relation_in": "@in",
    "addition_add": "_+_",
    "addition_sub": "_-_",
    "multiplication_mul": "_*_",
    "multiplication_div": "_/_",
    "multiplication_mod": "_%_",
}
_MACROS = {"all": (2, 3), "exists": (2, 3), "exists_one": (2,), "existsOne": (3,), "map": (2, 3), "filter": (2,)}
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_SIMPLE_ESCAPES |= {char: char for char in "\\'\"`?"}


def unescape(token: str) -> str:
    """A string literal's text as cel-go's parser unescapes it (parser/unescape.go), or ValueError as cel-go
    refuses it."""
    raw = token[:1] in "rR"
    body = token[1:] if raw else token
    quote = 3 if body[:3] in ('"""', "'''") else 1
    body = body[quote:-quote].replace("\r\n", "\n").replace("\r", "\n")
    if raw or "\\" not in body:
        return body
    result, index = [], 0
    while index < len(body):
        char = body[index]
        if char != "\\":
            result.append(char)
            index += 1
            continue
        if index + 1 >= len(body):
            raise ValueError("unable to unescape string, found '\\' as last character.")
        code, index = body[index + 1], index + 2
        if code in _SIMPLE_ESCAPES:
            result.append(_SIMPLE_ESCAPES[code])
        elif code in "xXuU":
            width = {"x": 2, "X": 2, "u": 4, "U": 8}[code]
            digits = body[index : index + width]
            if len(digits) < width or not re.fullmatch(r"[0-9a-fA-F]+", digits) or int(digits, 16) > 0x10FFFF:
                raise ValueError("unable to unescape string")
            result.append(chr(int(digits, 16)))
            index += width
        elif code in "0123":
            digits = body[index : index + 2]
            if len(digits) < 2 or not re.fullmatch(r"[0-7]{2}", digits):
                raise ValueError("unable to unescape octal sequence in string")
            result.append(chr(int(code + digits, 8)))
            index += 2
        else:
            raise ValueError("unable to unescape string")
    return "".join(result)


class _Builder:
    """cel-python's lark tree (one level per grammar rule) as the small syntax tree above, with cel-go's macros."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[tuple[int, str]] = []

    def operator_offset(self, symbol: str, after: int) -> int:
        found = self.source.find(symbol, after)
        return found if found >= 0 else after

    def build(self, tree: lark.Tree[Any]) -> Expr:
        children: list[Any] = [child for child in tree.children if child is not None]
        start = tree.meta.start_pos if not tree.meta.empty else 0
        rule = str(tree.data)
        if rule in ("expr", "conditionalor", "conditionaland") and len(children) > 1:
            if rule == "expr":
                condition, then, otherwise = (self.build(child) for child in children)
                return Call(self.operator_offset("?", start), "_?_:_", None, (condition, then, otherwise))
            left, right = self.build(children[0]), self.build(children[1])
            symbol = "||" if rule == "conditionalor" else "&&"
            return Call(self.operator_offset(symbol, start), f"_{symbol}_", None, (left, right))
        if rule in ("relation", "addition", "multiplication") and len(children) > 1:
            operator, operand = children
            left_tree = operator.children[0]
            function = _OPERATORS[str(operator.data)]
            symbol = function.strip("_@") if function != "@in" else "in"
            offset = self.operator_offset(symbol, left_tree.meta.end_pos if not left_tree.meta.empty else start)
            return Call(offset, function, None, (self.build(left_tree), self.build(operand)))
        if rule == "unary" and len(children) > 1:
            function = "!_" if children[0].data == "unary_not" else "-_"
            return Call(start, function, None, (self.build(children[1]),))
        if rule in ("expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary"):
            return self.build(children[0])
        if rule in ("member", "primary", "paren_expr"):
            return self.build(children[0])
        if rule == "member_dot":
            operand, name = self.build(children[0]), children[1]
            return Select(self.source.rfind(".", 0, name.start_pos), operand, str(name))
        if rule == "member_dot_arg":
            target, name = self.build(children[0]), children[1]
            args = self.arguments(children[2:])
            return self.call(self.operator_offset("(", name.end_pos), str(name), target, args)
        if rule == "member_index":
            operand, index = self.build(children[0]), self.build(children[1])
            return Call(self.operator_offset("[", children[0].meta.end_pos), "_[_]", None, (operand, index))
        if rule == "member_object":
            initializers = children[1].children if len(children) > 1 else []
            return StructLiteral(
                start, tuple(self.build(child) for child in initializers if isinstance(child, lark.Tree))
            )
        if rule in ("ident_arg", "dot_ident_arg"):
            name = children[0]
            return self.call(self.operator_offset("(", name.end_pos), str(name), None, self.arguments(children[1:]))
        if rule in ("ident", "dot_ident"):
            return Ident(children[0].start_pos, str(children[0]))
        if rule == "list_lit":
            return ListLiteral(start, self.arguments(children))
        if rule == "map_lit":
            initializers = children[0].children if children else []
            values = [self.build(child) for child in initializers if isinstance(child, lark.Tree)]
            return MapLiteral(start, tuple(zip(values[::2], values[1::2], strict=True)))
        if rule == "literal":
            return self.literal(children[0])
        raise ValueError(f"unexpected CEL syntax: {rule}")  # the grammar has no other rule

    def arguments(self, children: list[Any]) -> tuple[Expr, ...]:
        if not children:
            return ()
        return tuple(self.build(child) for child in children[0].children if isinstance(child, lark.Tree))

    def call(self, offset: int, function: str, target: Expr | None, args: tuple[Expr, ...]) -> Expr:
        if target is None and function == "has" and len(args) == 1:
            if not isinstance(args[0], Select) or args[0].presence_test:
                self.problems.append((offset, "invalid argument to has() macro"))
                return Literal(offset, "bool", True)
            return Select(offset, args[0].operand, args[0].field, presence_test=True)
        if target is not None and len(args) in _MACROS.get(function, ()):
            two_variables = len(args) == 3 and function != "map"
            names = args[:2] if two_variables else args[:1]
            if not all(isinstance(name, Ident) for name in names):
                self.problems.append((names[0].offset, "argument must be a simple name"))
                return Literal(offset, "bool", True)
            variables = tuple(name.name for name in names if isinstance(name, Ident))
            return Comprehension(offset, function, target, variables, args[len(names) :])
        return Call(offset, function, target, args)

    def literal(self, token: lark.Token) -> Expr:
        text, offset = str(token), token.start_pos or 0
        if token.type in ("STRING_LIT", "MLSTRING_LIT", "BYTES_LIT"):
            try:
                value = unescape(text[1:] if token.type == "BYTES_LIT" else text)
            except ValueError as error:
                self.problems.append((offset, str(error)))
                value = ""
            if token.type == "BYTES_LIT":
                return Literal(offset, "bytes", value.encode())
            return Literal(offset, "string", value)
        if token.type == "BOOL_LIT":
            return Literal(offset, "bool", text == "true")
        if token.type == "NULL_LIT":
            return Literal(offset, "null", None)
        if token.type == "FLOAT_LIT":
            return Literal(offset, "double", float(text))
        if token.type == "UINT_LIT":
            return Literal(offset, "uint", _integer(text[:-1]))
        return Literal(offset, "int", _integer(text))


def _integer(text: str) -> int:
    return int(text, 16) if "x" in text.lower() else int(text)


def parse(source: str) -> Expr:
    """The expression's syntax tree, or CompileError as cel-go reports a syntax error."""
    try:
        tree = _PARSER.parse(source)
    except CELParseError as error:
        cause = error.__context__
        token = getattr(cause, "token", None)
        if token is not None:
            shown = "<EOF>" if token.type == "$END" else str(token)
            message = f"Syntax error: mismatched input '{shown}'"
        else:
            message = f"Syntax error: token recognition error at: '{getattr(cause, 'char', '')}'"
        line, column = error.line or 1, error.column or 1
        offset = sum(len(text) + 1 for text in source.split("\n")[: line - 1]) + column - 1
        if token is not None and token.type == "$END":
            offset = len(source)  # cel-go reports a premature end where the input ends
        raise CompileError(source, [(min(offset, len(source)), message)]) from error
    builder = _Builder(source)
    expr = builder.build(tree)
    if builder.problems:
        raise CompileError(source, builder.problems)
    return expr


def mentions(expr: Expr, name: str) -> bool:
    """Whether an identifier occurs in the expression (how a rule is known to be a transition rule)."""
    return any(isinstance(node, Ident) and node.name == name for node in _nodes(expr))


def _nodes(expr: Expr) -> Iterator[Expr]:
    yield expr
    children: tuple[Expr | None, ...] = ()
    if isinstance(expr, Select):
        children = (expr.operand,)
    elif isinstance(expr, Call):
        children = (expr.target, *expr.args)
    elif isinstance(expr, ListLiteral | StructLiteral):
        children = expr.items if isinstance(expr, ListLiteral) else expr.values
    elif isinstance(expr, MapLiteral):
        children = tuple(part for entry in expr.entries for part in entry)
    elif isinstance(expr, Comprehension):
        children = (expr.iter_range, *expr.body)
    for child in children:
        if child is not None:
            yield from _nodes(child)
