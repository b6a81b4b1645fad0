"""The metric names a PromQL expression selects — enough of PromQL for the project's rules
and dashboard: functions, aggregations with by/without, binary operators with
on/ignoring/group_*, label matchers, ranges, offsets and Grafana's `$__…` variables."""

from __future__ import annotations

import re

__all__ = ["metric_names", "exported_names"]

_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "bool",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_IDENTIFIER = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names selected anywhere in `expr`."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    text = _VARIABLE.sub("1", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        # The unit of a duration (5m) or the exponent of a number (1e3): glued to a digit.
        if match.start() > 0 and text[match.start() - 1].isdigit():
            continue
        names.add(name)
    return names


def exported_names(exposition: str) -> set[str]:
    """Every sample name a Prometheus text exposition can serve, including those of
    labelled metrics that have no sample yet (from their `# TYPE` lines)."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(maxsplit=3)
            # The text format names a counter's family with its `_total` already.
            if kind.strip() == "counter" and name.endswith("_total"):
                name = name.removesuffix("_total")
            suffixes = {
                "counter": ("_total", "_created"),
                "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("", "_sum", "_count", "_created"),
                "gauge": ("",),
                "info": ("_info",),
            }.get(kind.strip(), ("",))
            names.update(name + suffix for suffix in suffixes)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names
