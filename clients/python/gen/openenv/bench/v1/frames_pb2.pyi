from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class FrameAction(_message.Message):
    __slots__ = ["as_ints", "size"]
    AS_INTS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    as_ints: bool
    size: int
    def __init__(self, size: _Optional[int] = ..., as_ints: bool = ...) -> None: ...

class FrameObservation(_message.Message):
    __slots__ = ["frame", "pixels"]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    PIXELS_FIELD_NUMBER: _ClassVar[int]
    frame: bytes
    pixels: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, frame: _Optional[bytes] = ..., pixels: _Optional[_Iterable[int]] = ...) -> None: ...

class FrameState(_message.Message):
    __slots__ = ["episode_id", "step_count"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    step_count: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ...) -> None: ...
