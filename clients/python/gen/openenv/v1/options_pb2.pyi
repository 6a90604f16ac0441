from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
RULES_FIELD_NUMBER: _ClassVar[int]
rules: _descriptor.FieldDescriptor

class FieldRules(_message.Message):
    __slots__ = ["allowed", "gte", "lte", "max_len", "min_len", "pattern", "required"]
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    GTE_FIELD_NUMBER: _ClassVar[int]
    LTE_FIELD_NUMBER: _ClassVar[int]
    MAX_LEN_FIELD_NUMBER: _ClassVar[int]
    MIN_LEN_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    allowed: _containers.RepeatedScalarFieldContainer[str]
    gte: float
    lte: float
    max_len: int
    min_len: int
    pattern: str
    required: bool
    def __init__(self, required: bool = ..., min_len: _Optional[int] = ..., max_len: _Optional[int] = ..., gte: _Optional[float] = ..., lte: _Optional[float] = ..., pattern: _Optional[str] = ..., allowed: _Optional[_Iterable[str]] = ...) -> None: ...
