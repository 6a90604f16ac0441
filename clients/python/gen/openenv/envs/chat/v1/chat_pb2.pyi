from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
STOP_REASON_MAX_TURNS: StopReason
STOP_REASON_STOP_SEQUENCE: StopReason
STOP_REASON_UNSPECIFIED: StopReason

class ChatAction(_message.Message):
    __slots__ = ["content", "role"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    content: str
    role: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ["content", "role"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    content: str
    role: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class ChatObservation(_message.Message):
    __slots__ = ["judge_feedback", "messages", "stop_reason", "turn", "turns_remaining"]
    JUDGE_FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    TURNS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    judge_feedback: str
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    stop_reason: StopReason
    turn: int
    turns_remaining: int
    def __init__(self, messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., turn: _Optional[int] = ..., turns_remaining: _Optional[int] = ..., stop_reason: _Optional[_Union[StopReason, str]] = ..., judge_feedback: _Optional[str] = ...) -> None: ...

class ChatResetOptions(_message.Message):
    __slots__ = ["max_turns", "messages", "stop_sequences", "system_prompt"]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STOP_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_PROMPT_FIELD_NUMBER: _ClassVar[int]
    max_turns: int
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    stop_sequences: _containers.RepeatedScalarFieldContainer[str]
    system_prompt: str
    def __init__(self, system_prompt: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., max_turns: _Optional[int] = ..., stop_sequences: _Optional[_Iterable[str]] = ...) -> None: ...

class ChatState(_message.Message):
    __slots__ = ["episode_id", "max_turns", "messages", "step_count", "stop_sequences"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_TURNS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    STOP_SEQUENCES_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    max_turns: int
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    step_count: int
    stop_sequences: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., max_turns: _Optional[int] = ..., stop_sequences: _Optional[_Iterable[str]] = ...) -> None: ...

class StopReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
