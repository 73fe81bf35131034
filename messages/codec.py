"""Versioned msgpack codec for every message (process boundaries and the journal). Never pickle.

Wire form: ``[CODEC_VERSION, tag, {field: value}]`` where ``tag`` is the class name. Fields are
keyed by name so a message class can gain a field with a default without breaking old journals.
Encoding is driven by each class's type hints, compiled once per class:

* ``Decimal`` → its exact ``str`` (``Decimal("1.10")`` comes back as ``Decimal("1.10")``),
* enums → their value, ``ClientOrderId`` → its string (re-validated on decode),
* nested messages → ``[tag, {field: value}]``, tuples → arrays, ``None`` → nil.

Decoding checks the version and the tag and rebuilds the exact types; anything malformed raises
`CodecError` (never a bare ``KeyError``/``TypeError``) so a corrupt record is reported, not
half-applied.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import msgpack

from messages import (
    account,
    commands,
    connection,
    execution,
    feed,
    gate,
    market,
    orders,
    signing,
    status,
    supervision,
    tracking,
    venue,
)
from messages.ids import ClientOrderId

CODEC_VERSION = 1

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]


class CodecError(ValueError):
    """A payload that is not a valid encoding of a known message."""


class _ClassCodec:
    __slots__ = ("cls", "decoders", "encode", "encoders", "fast_decode", "tag")

    def __init__(self, cls: type, tag: str) -> None:
        self.cls = cls
        self.tag = tag
        self.encoders: tuple[tuple[str, Encoder | None], ...] = ()
        self.decoders: dict[str, Decoder | None] = {}
        self.fast_decode: Callable[[dict[str, Any]], Any] | None = None
        self.encode: Callable[[Any], dict[str, Any]] = lambda message: {}


_BY_TAG: dict[str, _ClassCodec] = {}
_BY_CLASS: dict[type, _ClassCodec] = {}


def _message_classes() -> list[type]:
    found: list[type] = []
    for module in (commands, orders, market, feed, supervision, venue, account, tracking,
                   execution, signing, gate, connection, status):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and attrs.has(value)
                and value.__module__ == module.__name__
            ):
                found.append(value)
    return found


def _compile_type(tp: Any) -> tuple[Encoder | None, Decoder | None]:
    """Return (encoder, decoder) for a type; ``None`` means the identity function."""
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:  # NewType
        return _compile_type(supertype)
    if tp is typing.Any or tp is type(None):
        return None, None
    if tp in _PRIMITIVES:
        return None, _PRIMITIVES[tp]
    if tp is Decimal:
        return str, _decode_decimal
    if tp is ClientOrderId:
        return None, ClientOrderId
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        enum_cls = tp

        def decode_enum(value: Any) -> Any:
            try:
                return enum_cls(value)
            except ValueError as exc:
                raise CodecError(f"{value!r} is not a {enum_cls.__name__}") from exc

        return _enum_value, decode_enum
    if isinstance(tp, type) and attrs.has(tp):
        return _encode_nested, _decode_nested
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) != 1:
            raise TypeError(f"codec supports only Optional unions, not {tp}")
        enc, dec = _compile_type(non_none[0])
        return _optional(enc), _optional(dec)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            enc, dec = _compile_type(args[0])
            return _homogeneous(enc, list), _homogeneous(dec, tuple)
        pairs = [_compile_type(a) for a in args]
        return _heterogeneous([p[0] for p in pairs], list), _heterogeneous(
            [p[1] for p in pairs], tuple
        )
    raise TypeError(f"codec cannot encode fields of type {tp!r}")


def _checked(kind: type, name: str) -> Decoder:
    def check(value: Any) -> Any:
        # bool is an int subclass; a bool where an int belongs is a corrupt record.
        if type(value) is not kind and not (kind is float and type(value) is int):
            raise CodecError(f"expected {name}, got {type(value).__name__}")
        return value

    return check


_PRIMITIVES: dict[Any, Decoder] = {
    int: _checked(int, "an int"),
    str: _checked(str, "a string"),
    bool: _checked(bool, "a bool"),
    bytes: _checked(bytes, "bytes"),
    float: _checked(float, "a float"),
}


def _enum_value(value: enum.Enum) -> Any:
    return value.value


def _decode_decimal(value: Any) -> Decimal:
    if type(value) is not str:
        raise CodecError(f"expected a decimal string, got {type(value).__name__}")
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise CodecError("invalid decimal string") from exc


def _optional(fn: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    if fn is None:
        return None
    inner = fn

    def optional(value: Any) -> Any:
        return None if value is None else inner(value)

    return optional


def _homogeneous(
    fn: Callable[[Any], Any] | None, container: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    if fn is None:
        return container
    inner = fn

    def each(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise CodecError(f"expected an array, got {type(value).__name__}")
        return container([inner(v) for v in value])

    return each


def _heterogeneous(
    fns: list[Callable[[Any], Any] | None], container: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    size = len(fns)

    def each(value: Any) -> Any:
        if not isinstance(value, list | tuple) or len(value) != size:
            raise CodecError(f"expected an array of {size}")
        return container([v if f is None else f(v) for f, v in zip(fns, value, strict=True)])

    return each


def _encode_fields(codec: _ClassCodec, message: Any) -> dict[str, Any]:
    return codec.encode(message)


def _compile_encode(codec: _ClassCodec) -> Callable[[Any], dict[str, Any]]:
    """An encoder specialised for one class: one dict display, every field read once (the
    journal encodes every tracker input and the publisher every event)."""
    namespace: dict[str, Any] = {}
    items = []
    for i, (name, enc) in enumerate(codec.encoders):
        if not name.isidentifier():
            raise RuntimeError(f"{codec.tag}: field {name!r} is not an identifier")
        if enc is None:
            items.append(f"{name!r}: m.{name}")
        else:
            namespace[f"e{i}"] = enc
            items.append(f"{name!r}: e{i}(m.{name})")
    source = "def encode(m):\n    return {" + ", ".join(items) + "}\n"
    exec(compile(source, f"<codec encode {codec.tag}>", "exec"), namespace)  # noqa: S102
    encode: Callable[[Any], dict[str, Any]] = namespace["encode"]
    return encode


def _encode_nested(message: Any) -> list[Any]:
    codec = _BY_CLASS.get(type(message))
    if codec is None:
        raise TypeError(f"{type(message).__name__} is not a registered message")
    return [codec.tag, _encode_fields(codec, message)]


def _decode_nested(value: Any) -> Any:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise CodecError("a nested message must be [tag, fields]")
    return _decode_tagged(value[0], value[1])


class _MismatchError(Exception):
    """The fast decoder met something unusual; the generic path decides (and explains)."""


def _compile_fast_decode(codec: _ClassCodec) -> Callable[[dict[str, Any]], Any]:
    """A decoder specialised for one class: every field read once, no per-field dispatch.

    It only handles the complete, well-typed case; anything else (missing or unknown fields,
    wrong types, values the class refuses) raises `_MismatchError` and the generic decoder reports
    precisely what is wrong.
    """
    names = list(codec.decoders)
    namespace: dict[str, Any] = {"Cls": codec.cls, "Mismatch": _MismatchError}
    lines = ["def fast(f):", f"    if len(f) != {len(names)}:", "        raise Mismatch"]
    args = []
    for i, name in enumerate(names):
        dec = codec.decoders[name]
        lines.append(f"    v{i} = f[{name!r}]")
        if dec is not None:
            namespace[f"d{i}"] = dec
            lines.append(f"    v{i} = d{i}(v{i})")
        args.append(f"{name}=v{i}")
    lines.append(f"    return Cls({', '.join(args)})")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<codec {codec.tag}>", "exec"), namespace)  # noqa: S102
    fast: Callable[[dict[str, Any]], Any] = namespace["fast"]

    def guarded(fields: dict[str, Any]) -> Any:
        try:
            return fast(fields)
        except (_MismatchError, KeyError, TypeError, ValueError):
            return _MISMATCH

    return guarded


_MISMATCH = object()


def _decode_tagged(tag: Any, fields: Any) -> Any:
    codec = _BY_TAG.get(tag) if isinstance(tag, str) else None
    if codec is None:
        raise CodecError(f"unknown message tag {str(tag)[:64]!r}")
    if not isinstance(fields, dict):
        raise CodecError(f"{codec.tag}: fields must be a map")
    fast = codec.fast_decode
    if fast is not None:
        result = fast(fields)
        if result is not _MISMATCH:
            return result
    decoders = codec.decoders
    kwargs: dict[str, Any] = {}
    for name, raw in fields.items():
        if name not in decoders:
            raise CodecError(f"{codec.tag}: unknown field {str(name)[:64]!r}")
        dec = decoders[name]
        if dec is None:
            kwargs[name] = raw
            continue
        try:
            kwargs[name] = dec(raw)
        except (TypeError, ValueError) as exc:
            raise CodecError(f"{codec.tag}.{name}: {exc}") from exc
    try:
        return codec.cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise CodecError(f"{codec.tag}: {exc}") from exc


def _register_all() -> None:
    classes = _message_classes()
    for cls in classes:
        codec = _ClassCodec(cls, cls.__name__)
        if codec.tag in _BY_TAG:
            raise RuntimeError(f"two message classes named {codec.tag}")
        _BY_TAG[codec.tag] = codec
        _BY_CLASS[cls] = codec
    for codec in _BY_TAG.values():
        hints = typing.get_type_hints(codec.cls)
        encoders: list[tuple[str, Encoder | None]] = []
        for field in attrs.fields(codec.cls):
            enc, dec = _compile_type(hints[field.name])
            encoders.append((field.name, enc))
            codec.decoders[field.name] = dec
        codec.encoders = tuple(encoders)
        codec.encode = _compile_encode(codec)
        codec.fast_decode = _compile_fast_decode(codec)


_register_all()

_packer = msgpack.Packer(use_bin_type=True)


def message_classes() -> tuple[type, ...]:
    """Every message class the codec knows (the whole vocabulary)."""
    return tuple(c.cls for c in _BY_TAG.values())


def encode(message: Any) -> bytes:
    """Encode one message. Raises ``TypeError`` for an object that is not a message."""
    codec = _BY_CLASS.get(type(message))
    if codec is None:
        raise TypeError(f"{type(message).__name__} is not a registered message")
    packed: bytes = _packer.pack([CODEC_VERSION, codec.tag, _encode_fields(codec, message)])
    return packed


def to_primitive(message: Any) -> list[Any]:
    """The ``[tag, fields]`` form of a message, for embedding in a larger msgpack structure."""
    return _encode_nested(message)


def from_primitive(value: Any) -> Any:
    return _decode_nested(value)


def decode(data: bytes) -> Any:
    """Decode bytes produced by `encode`; raises `CodecError` on anything else."""
    try:
        obj = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise CodecError(f"not msgpack: {exc}") from exc
    if not isinstance(obj, list) or len(obj) != 3:
        raise CodecError("a message must be [version, tag, fields]")
    version, tag, fields = obj
    if version != CODEC_VERSION:
        raise CodecError(f"unsupported codec version {version!r} (this build reads 1)")
    return _decode_tagged(tag, fields)
