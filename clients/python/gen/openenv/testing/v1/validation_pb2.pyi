from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

COLOR_GREEN: Color
COLOR_RED: Color
COLOR_UNSPECIFIED: Color
DESCRIPTOR: _descriptor.FileDescriptor

class Move(_message.Message):
    __slots__ = ["column", "label"]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    column: int
    label: str
    def __init__(self, column: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class ValidatedAction(_message.Message):
    __slots__ = ["at", "big", "blob", "code", "color", "count", "extra", "first", "flag", "mode", "moves", "name", "note", "scores", "target_index", "target_name", "weight"]
    class ScoresEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    AT_FIELD_NUMBER: _ClassVar[int]
    BIG_FIELD_NUMBER: _ClassVar[int]
    BLOB_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    FIRST_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    TARGET_INDEX_FIELD_NUMBER: _ClassVar[int]
    TARGET_NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    at: _timestamp_pb2.Timestamp
    big: int
    blob: bytes
    code: str
    color: Color
    count: int
    extra: _struct_pb2.Struct
    first: Move
    flag: bool
    mode: str
    moves: _containers.RepeatedCompositeFieldContainer[Move]
    name: str
    note: str
    scores: _containers.ScalarMap[str, int]
    target_index: int
    target_name: str
    weight: float
    def __init__(self, name: _Optional[str] = ..., count: _Optional[int] = ..., mode: _Optional[str] = ..., code: _Optional[str] = ..., moves: _Optional[_Iterable[_Union[Move, _Mapping]]] = ..., color: _Optional[_Union[Color, str]] = ..., big: _Optional[int] = ..., weight: _Optional[float] = ..., flag: bool = ..., blob: _Optional[bytes] = ..., scores: _Optional[_Mapping[str, int]] = ..., extra: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., note: _Optional[str] = ..., at: _Optional[_Union[_timestamp_pb2.Timestamp, _Mapping]] = ..., first: _Optional[_Union[Move, _Mapping]] = ..., target_name: _Optional[str] = ..., target_index: _Optional[int] = ...) -> None: ...

class ValidatedObservation(_message.Message):
    __slots__ = ["action", "color", "huge", "missing", "small"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    HUGE_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    SMALL_FIELD_NUMBER: _ClassVar[int]
    action: ValidatedAction
    color: Color
    huge: int
    missing: Move
    small: int
    def __init__(self, action: _Optional[_Union[ValidatedAction, _Mapping]] = ..., huge: _Optional[int] = ..., small: _Optional[int] = ..., color: _Optional[_Union[Color, str]] = ..., missing: _Optional[_Union[Move, _Mapping]] = ...) -> None: ...

class ValidatedState(_message.Message):
    __slots__ = ["episode_id", "step_count", "total"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    step_count: int
    total: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class Color(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
