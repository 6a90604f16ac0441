"""random_policy(): random valid actions of any environment, read from its Action descriptor.

Useful to smoke-test an environment you have no policy for. Every field is
filled within its field rules (protovalidate's ``(buf.validate.field)``, or the
older ``(openenv.v1.rules)``): enums get a random defined value
(other than the zero ``*_UNSPECIFIED`` one when there is another), strings with
``allowed`` one of those values, numbers a value within ``gte``/``lte``,
booleans a coin flip, a oneof one random member. Strings without ``allowed``
get random letters only when a rule requires a length.
"""

from __future__ import annotations

import math
import random
import string
from typing import Any, Callable, Optional

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from ._generated import options_pb2, validate_pb2

_INTS = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
# protovalidate's rule messages of numbers (the ones with gte/lte).
_NUMERIC_RULES = {
    "int32", "int64", "uint32", "uint64", "sint32", "sint64",
    "fixed32", "fixed64", "sfixed32", "sfixed64", "float", "double",
}
_SMALL_RANGE = 100  # unbounded numbers are drawn from [-100, 100] (clipped to the type)


class _Rules:
    """The rules of one field that random values must respect (lengths count items for lists)."""

    def __init__(self, required: bool = False) -> None:
        self.required = required
        self.min_len: Optional[int] = None
        self.max_len: Optional[int] = None
        self.gte: Optional[float] = None
        self.lte: Optional[float] = None
        self.allowed: "list[str]" = []


# protovalidate rule names per rule message, as _Rules attributes.
_PROTOVALIDATE = {
    "string": {"min_len": "min_len", "max_len": "max_len", "in": "allowed"},
    "bytes": {"min_len": "min_len", "max_len": "max_len"},
    "repeated": {"min_items": "min_len", "max_items": "max_len"},
    "map": {"min_pairs": "min_len", "max_pairs": "max_len"},
}


def _rules(fd: FieldDescriptor) -> Optional[_Rules]:
    opts = fd.GetOptions()
    if opts.HasExtension(validate_pb2.field):
        pv = opts.Extensions[validate_pb2.field]
        out = _Rules(pv.required)
        kind = pv.WhichOneof("type")
        if kind is not None:
            sub = getattr(pv, kind)
            # Numeric rule messages have gte/lte; others (enum: defined_only, bool: const) bound nothing here.
            numeric = {"gte": "gte", "lte": "lte"} if kind in _NUMERIC_RULES else {}
            for name, attr in _PROTOVALIDATE.get(kind, numeric).items():
                if attr == "allowed":
                    out.allowed = list(getattr(sub, name))
                elif name in ("gte", "lte") and sub.WhichOneof("greater_than" if name == "gte" else "less_than") == name:
                    setattr(out, attr, getattr(sub, name))
                elif name not in ("gte", "lte") and sub.HasField(name):
                    setattr(out, attr, getattr(sub, name))
        return out
    if opts.HasExtension(options_pb2.rules):
        legacy = opts.Extensions[options_pb2.rules]
        out = _Rules(legacy.required)
        for name in ("min_len", "max_len", "gte", "lte"):
            if legacy.HasField(name):
                setattr(out, name, getattr(legacy, name))
        out.allowed = list(legacy.allowed)
        return out
    return None


def _bounds(rules: Optional[_Rules], low: float, high: float) -> "tuple[float, float]":
    """The numeric range of a field: its gte/lte, else a small range next to the one bound given."""
    gte = rules.gte if rules is not None else None
    lte = rules.lte if rules is not None else None
    if gte is not None and lte is not None:
        return gte, max(gte, lte)
    if gte is not None:
        return gte, gte + (high - low)
    if lte is not None:
        return lte - (high - low), lte
    return low, high


def _scalar(fd: FieldDescriptor, rules: Optional[_Rules], rng: random.Random) -> Any:
    if fd.type == FieldDescriptor.TYPE_ENUM:
        values = [v.number for v in fd.enum_type.values]
        nonzero = [v for v in values if v != 0]
        return rng.choice(nonzero or values)
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if fd.type in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        if fd.type == FieldDescriptor.TYPE_STRING and rules is not None and len(rules.allowed) > 0:
            return rng.choice(list(rules.allowed))
        low = rules.min_len if rules is not None and rules.min_len is not None else (1 if rules is not None and rules.required else 0)
        high = rules.max_len if rules is not None and rules.max_len is not None else max(low, 8)
        length = rng.randint(low, max(low, min(high, low + 8))) if low > 0 else 0
        text = "".join(rng.choice(string.ascii_lowercase) for _ in range(length))
        return text if fd.type == FieldDescriptor.TYPE_STRING else text.encode()
    if fd.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        low, high = _bounds(rules, -float(_SMALL_RANGE), float(_SMALL_RANGE))
        return rng.uniform(low, high)
    if fd.type in _INTS:
        type_low, type_high = _INTS[fd.type]
        low, high = _bounds(rules, -_SMALL_RANGE, _SMALL_RANGE)
        low, high = max(type_low, math.ceil(low)), min(type_high, math.floor(high))
        return rng.randint(low, max(low, high))
    raise TypeError(f"random_policy cannot fill field {fd.full_name} of type {fd.type}")


def _fill(message: Message, rng: random.Random, depth: int) -> None:
    descriptor: Descriptor = message.DESCRIPTOR
    chosen = {oneof.name: rng.choice(list(oneof.fields)) for oneof in descriptor.oneofs if oneof.fields}
    for fd in descriptor.fields:
        oneof = fd.containing_oneof
        if oneof is not None and chosen.get(oneof.name) is not fd:
            continue
        rules = _rules(fd)
        if fd.label == FieldDescriptor.LABEL_REPEATED:
            count = rules.min_len if rules is not None and rules.min_len is not None else 0
            if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
                continue  # maps stay empty
            container = getattr(message, fd.name)
            for _ in range(count):
                if fd.type == FieldDescriptor.TYPE_MESSAGE:
                    _fill(container.add(), rng, depth + 1)
                else:
                    container.append(_scalar(fd, rules, rng))
            continue
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if depth < 3 and (rules is not None and rules.required or oneof is not None):
                _fill(getattr(message, fd.name), rng, depth + 1)
                getattr(message, fd.name).SetInParent()
            continue
        setattr(message, fd.name, _scalar(fd, rules, rng))


def random_action(action_type: type, rng: Optional[random.Random] = None) -> Message:
    """One random action of ``action_type`` that satisfies its field rules."""
    message = action_type()
    _fill(message, rng or random.Random(), 0)
    return message


def random_policy(action_type: type, seed: Optional[int] = None) -> Callable[[Any], Message]:
    """A policy that ignores the observation and returns :func:`random_action` of ``action_type``."""
    rng = random.Random(seed)
    return lambda _observation: random_action(action_type, rng)
