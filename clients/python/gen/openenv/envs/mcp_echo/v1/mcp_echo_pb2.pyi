from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class EchoArgs(_message.Message):
    __slots__ = ["message"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class EchoWithLengthResult(_message.Message):
    __slots__ = ["length", "message"]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    length: int
    message: str
    def __init__(self, message: _Optional[str] = ..., length: _Optional[int] = ...) -> None: ...

class McpEchoState(_message.Message):
    __slots__ = ["episode_id", "step_count"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    step_count: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ...) -> None: ...
