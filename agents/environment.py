"""The foundation of every process's settings: typed fields read from `BACKUPWATCH_*`
variables, validated at start, secrets masked wherever settings are printed.

A process's settings are one frozen dataclass deriving from `EnvSettings`. Each field is
read from one variable — `PREFIX` and the field's name in capitals, unless `setting()`
names another — and parsed by its annotated type: `str`, `int`, `float`, `bool`,
`timedelta` (`30s`, `5m`, `2h`, `1d`), `Path`, or `tuple[str, ...]` (comma separated).
An empty variable is an unset one. `setting()` adds what a field needs beyond its type:
the range or the choices it is checked against, a secret (masked when printed), a value
that may be read from the file `<VARIABLE>_FILE` names instead (never both), a variable
read when the field's own is unset. Every refusal is one `ConfigError` naming the variable.

Checks that involve more than one field stay in each class's `__post_init__`, after
`check_fields()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

from agents.errors import ConfigError

__all__ = [
    "DURATION_FORMS",
    "FALSE",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "TRUE",
    "EnvSettings",
    "Setting",
    "either",
    "parse_duration",
    "read_secret",
    "read_secret_file",
    "setting",
]

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LOG_FORMATS = ("text", "json")
DURATION_FORMS = "a number of seconds, or a number with a unit s, m, h or d (30s, 5m, 2h, 1d)"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Setting:
    """What the foundation knows of a field beyond its type (`setting()` makes it)."""

    # The variable it is read from; None: the class's PREFIX and the name in capitals.
    variable: str | None = None
    # False: not read by `read_env` (the class reads it its own way, or not at all).
    read: bool = True
    # Masked wherever printed, left out of repr, taken as given (but for a trailing
    # newline).
    secret: bool = False
    # May be given as `<VARIABLE>_FILE` instead (a mounted Docker or Kubernetes secret).
    from_file: bool = False
    # Read when the variable itself is unset, in this order.
    fallback: tuple[str, ...] = ()
    # Checked by `check_fields`: lowest and highest value (numbers, durations), or the
    # values allowed.
    within: tuple[Any, Any] | None = None
    choices: tuple[str, ...] = ()
    # "lower" or "upper": how a text value is folded as read.
    case: str = ""
    # The range as docs/settings.md says it (`0 to 1h`), for the messages refusing a
    # value; without it, `low..high`.
    accepted: str = ""
    # Any other check of the value alone: raises `ConfigError` naming the variable given.
    check: Callable[[Any, str], None] | None = None
    # How the value is printed (after masking), and what an empty value prints as.
    show: Callable[[Any], str] | None = None
    empty: str | None = None


_PLAIN = Setting()
_SECRET = Setting(secret=True, from_file=True)


def setting(
    default: Any = MISSING,
    *,
    default_factory: Any = MISSING,
    compare: bool = True,
    **options: Any,
) -> Any:
    """A settings field with `options` (the fields of `Setting`)."""
    meta = Setting(**options)
    return field(
        default=default,
        default_factory=default_factory,
        repr=not meta.secret,
        compare=compare,
        metadata={"setting": meta},
    )


def _meta(f: Field[Any]) -> Setting:
    meta = f.metadata.get("setting")
    return meta if isinstance(meta, Setting) else _PLAIN


def either(choices: tuple[str, ...]) -> str:
    """`a or b`, `one of a, b, c`: the values a refusal names."""
    if len(choices) == 2:
        return f"{choices[0]} or {choices[1]}"
    return f"one of {', '.join(choices)}"


def parse_duration(text: str) -> timedelta | None:
    """`30`, `30s`, `5m`, `2h`, `1d` → a timedelta (bare numbers are seconds); None for
    anything else, and for numbers no timedelta holds (`inf`, `nan`, `1e12d`)."""
    text = text.strip()
    number, scale = (
        (text[:-1], _UNITS[text[-1].lower()]) if text[-1:].lower() in _UNITS else (text, 1)
    )
    try:
        return timedelta(seconds=float(number) * scale)
    except (ValueError, OverflowError):
        return None


def read_secret(env: Mapping[str, str], variable: str) -> str | None:
    """A secret that is not a field of its own (a document of them, one of a family of
    variables): the variable's value, or the content of the file `<variable>_FILE`
    names; never both. None when neither is set."""
    raw = _raw(env, variable, _SECRET)
    return None if raw is None else raw.rstrip("\r\n")


def read_secret_file(variable: str, path: str) -> str:
    """The secret in the file `variable` (a `…_FILE` variable) names; its trailing
    newline is not part of it."""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or err
        raise ConfigError(f"{variable}={path}: cannot read {path!r} ({reason})") from None


def _number(value: object) -> str:
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    return f"{value:g}" if isinstance(value, float) else str(value)


class EnvSettings:
    """The base of each process's settings dataclass (see the module's docstring)."""

    __slots__ = ()
    # Variables are `<PREFIX><FIELD>` unless a field's `setting()` names its own.
    PREFIX: ClassVar[str] = "BACKUPWATCH_"
    # The column the values start at when the settings are printed.
    DESCRIBE_WIDTH: ClassVar[int] = 22

    @classmethod
    def variable(cls, name: str) -> str:
        """The environment variable field `name` is read from."""
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name == name:
                return _meta(f).variable or f"{cls.PREFIX}{name.upper()}"
        raise KeyError(name)

    @classmethod
    def read_env(cls, env: Mapping[str, str]) -> dict[str, Any]:
        """The value of each field whose variable (or its file, or a fallback) is set,
        parsed by the field's type; raises `ConfigError` naming a bad variable."""
        values: dict[str, Any] = {}
        for f, meta, name in cls._variables():
            raw = _raw(env, name, meta)
            if raw is not None:
                values[f.name] = _parse(name, raw, f.type, meta)
        return values

    @classmethod
    def _variables(cls) -> Iterator[tuple[Field[Any], Setting, str]]:
        """Each field read from a variable, what the foundation knows of it, and the
        variable."""
        for f in fields(cls):  # type: ignore[arg-type]
            meta = _meta(f)
            if meta.read:
                yield f, meta, cls.variable(f.name)

    @classmethod
    def file_variables(cls) -> tuple[str, ...]:
        """The variables that may be given as `<VARIABLE>_FILE` instead."""
        return tuple(name for _, meta, name in cls._variables() if meta.from_file)

    def check_fields(self) -> None:
        """Check each field against its range and choices, and its own check."""
        for f in fields(self):  # type: ignore[arg-type]
            meta = _meta(f)
            value = getattr(self, f.name)
            name = self.variable(f.name)
            if meta.within is not None and not meta.within[0] <= value <= meta.within[1]:
                low, high = meta.within
                accepted = meta.accepted or f"{_number(low)}..{_number(high)}"
                raise ConfigError(f"{name} must be {accepted}, got {_number(value)}")
            if meta.choices and value not in meta.choices:
                raise ConfigError(f"{name} must be {either(meta.choices)}, got {value!r}")
            if meta.check is not None:
                meta.check(value, name)

    def as_env(self) -> dict[str, str]:
        """The variables `read_env` reads back into these values (how a subprocess is
        given them); secrets included, as the process was given them."""
        env: dict[str, str] = {}
        for f, meta, name in self._variables():
            env[name] = _text(getattr(self, f.name))
            if meta.from_file:
                # The value above wins over the file a parent process read it from.
                env[f"{name}_FILE"] = ""
        return env

    def described(self) -> Iterator[tuple[str, str]]:
        """(name, value) of each setting as printed: secrets masked; a field that is
        itself settings (the Kafka connection) gives its own."""
        for f in fields(self):  # type: ignore[arg-type]
            meta = _meta(f)
            value = getattr(self, f.name)
            if isinstance(value, EnvSettings):
                yield from value.described()
                continue
            if meta.secret:
                value = "****" if value else meta.empty or "(none)"
            if meta.show is not None:
                shown = meta.show(value)
            elif isinstance(value, timedelta):
                shown = f"{value.total_seconds():g}s"
            elif isinstance(value, tuple):
                shown = ", ".join(value) or meta.empty or "(none)"
            elif not value and meta.empty is not None:
                shown = meta.empty
            else:
                shown = str(value)
            yield f.name, shown

    def describe(self) -> str:
        """The settings, one per line, secrets masked."""
        width = self.DESCRIBE_WIDTH
        return "\n".join(f"  {name:<{width}} {shown}" for name, shown in self.described())


def _raw(env: Mapping[str, str], name: str, meta: Setting) -> str | None:
    """The text of a variable, of the file its `_FILE` form names, or of a fallback."""
    raw = env.get(name)
    if raw is not None and not raw.strip():
        raw = None
    if meta.from_file:
        path = env.get(f"{name}_FILE", "").strip()
        if path:
            if raw is not None:
                raise ConfigError(
                    f"{name} and {name}_FILE are both set: set {name} or {name}_FILE, not both"
                )
            return read_secret_file(f"{name}_FILE", path)
    if raw is None:
        for other in meta.fallback:
            if env.get(other, "").strip():
                return env[other]
    return raw


def _parse(name: str, raw: str, kind: object, meta: Setting) -> object:
    kind = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    # A secret is taken as given but for a trailing newline (as from its file).
    text = raw.rstrip("\r\n") if meta.secret else raw.strip()
    if kind == "timedelta":
        duration = parse_duration(text)
        if duration is None:
            of = f" of {meta.accepted}" if meta.accepted else ""
            raise ConfigError(f"{name}={raw!r} is not a duration{of}: {DURATION_FORMS}")
        return duration
    if kind == "bool":
        if text.lower() not in TRUE + FALSE:
            raise ConfigError(f"{name}={raw!r} is not true or false")
        return text.lower() in TRUE
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a valid {kind}") from None
    if kind in ("Path", "Path | None"):
        return Path(text)
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in text.split(",") if part.strip())
    if meta.case == "lower":
        return text.lower()
    if meta.case == "upper":
        return text.upper()
    return text


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(value)
    if value is None:
        return ""
    return str(value)
