from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class EchoAction(_message.Message):
    __slots__ = ["message"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class EchoObservation(_message.Message):
    __slots__ = ["echoed_message", "message_length"]
    ECHOED_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    echoed_message: str
    message_length: int
    def __init__(self, echoed_message: _Optional[str] = ..., message_length: _Optional[int] = ...) -> None: ...

class EchoState(_message.Message):
    __slots__ = ["episode_id", "step_count", "total_characters"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    step_count: int
    total_characters: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., total_characters: _Optional[int] = ...) -> None: ...
