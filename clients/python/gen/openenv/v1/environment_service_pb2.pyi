from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CapacityInfo(_message.Message):
    __slots__ = ["active_sessions", "max_sessions"]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    active_sessions: int
    max_sessions: int
    def __init__(self, active_sessions: _Optional[int] = ..., max_sessions: _Optional[int] = ...) -> None: ...

class CloseSessionRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class CloseSessionResponse(_message.Message):
    __slots__ = ["closed"]
    CLOSED_FIELD_NUMBER: _ClassVar[int]
    closed: bool
    def __init__(self, closed: bool = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ["action_type", "capabilities", "descriptors", "json_schemas", "limits", "metadata", "observation_type", "partial_type", "state_type"]
    ACTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTORS_FIELD_NUMBER: _ClassVar[int]
    JSON_SCHEMAS_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_TYPE_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    action_type: str
    capabilities: ServerCapabilities
    descriptors: _descriptor_pb2.FileDescriptorSet
    json_schemas: JsonSchemas
    limits: ServerLimits
    metadata: EnvironmentMetadata
    observation_type: str
    partial_type: str
    state_type: str
    def __init__(self, metadata: _Optional[_Union[EnvironmentMetadata, _Mapping]] = ..., action_type: _Optional[str] = ..., observation_type: _Optional[str] = ..., state_type: _Optional[str] = ..., partial_type: _Optional[str] = ..., descriptors: _Optional[_Union[_descriptor_pb2.FileDescriptorSet, _Mapping]] = ..., json_schemas: _Optional[_Union[JsonSchemas, _Mapping]] = ..., limits: _Optional[_Union[ServerLimits, _Mapping]] = ..., capabilities: _Optional[_Union[ServerCapabilities, _Mapping]] = ...) -> None: ...

class EnvironmentMetadata(_message.Message):
    __slots__ = ["author", "description", "documentation_url", "name", "readme", "version"]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTATION_URL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    README_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    author: str
    description: str
    documentation_url: str
    name: str
    readme: str
    version: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., version: _Optional[str] = ..., readme: _Optional[str] = ..., author: _Optional[str] = ..., documentation_url: _Optional[str] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ["description", "field", "rule"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    RULE_FIELD_NUMBER: _ClassVar[int]
    description: str
    field: str
    rule: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ..., rule: _Optional[str] = ...) -> None: ...

class JsonSchemas(_message.Message):
    __slots__ = ["action", "observation", "state"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    action: _struct_pb2.Struct
    observation: _struct_pb2.Struct
    state: _struct_pb2.Struct
    def __init__(self, action: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., observation: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., state: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class PartialObservation(_message.Message):
    __slots__ = ["metadata", "observation", "progress"]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    metadata: _struct_pb2.Struct
    observation: _any_pb2.Any
    progress: float
    def __init__(self, observation: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., progress: _Optional[float] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ResetRequest(_message.Message):
    __slots__ = ["episode_id", "options", "seed", "session_id"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    options: _struct_pb2.Struct
    seed: int
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., seed: _Optional[int] = ..., episode_id: _Optional[str] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class ResetResponse(_message.Message):
    __slots__ = ["result", "session_id"]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    result: StepResult
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., result: _Optional[_Union[StepResult, _Mapping]] = ...) -> None: ...

class ServerCapabilities(_message.Message):
    __slots__ = ["concurrent_sessions", "partial_observations", "protocols", "reward_components"]
    CONCURRENT_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_OBSERVATIONS_FIELD_NUMBER: _ClassVar[int]
    PROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    REWARD_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    concurrent_sessions: bool
    partial_observations: bool
    protocols: _containers.RepeatedScalarFieldContainer[str]
    reward_components: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, concurrent_sessions: bool = ..., protocols: _Optional[_Iterable[str]] = ..., partial_observations: bool = ..., reward_components: _Optional[_Iterable[str]] = ...) -> None: ...

class ServerLimits(_message.Message):
    __slots__ = ["active_sessions", "idle_timeout", "max_message_bytes", "max_sessions", "resume_grace", "step_timeout"]
    ACTIVE_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    IDLE_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_SESSIONS_FIELD_NUMBER: _ClassVar[int]
    RESUME_GRACE_FIELD_NUMBER: _ClassVar[int]
    STEP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    active_sessions: int
    idle_timeout: _duration_pb2.Duration
    max_message_bytes: int
    max_sessions: int
    resume_grace: _duration_pb2.Duration
    step_timeout: _duration_pb2.Duration
    def __init__(self, max_sessions: _Optional[int] = ..., active_sessions: _Optional[int] = ..., idle_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., step_timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ..., max_message_bytes: _Optional[int] = ..., resume_grace: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class SessionLost(_message.Message):
    __slots__ = ["holder", "session_id"]
    HOLDER_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    holder: str
    session_id: str
    def __init__(self, session_id: _Optional[str] = ..., holder: _Optional[str] = ...) -> None: ...

class StateRequest(_message.Message):
    __slots__ = ["session_id"]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class StateResponse(_message.Message):
    __slots__ = ["episode_id", "session_id", "state", "step_count"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    session_id: str
    state: _any_pb2.Any
    step_count: int
    def __init__(self, session_id: _Optional[str] = ..., state: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., episode_id: _Optional[str] = ..., step_count: _Optional[int] = ...) -> None: ...

class StepError(_message.Message):
    __slots__ = ["code", "details", "message"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    details: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., details: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class StepRequest(_message.Message):
    __slots__ = ["action", "request_id", "reset", "session_id", "state", "timeout"]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    action: _any_pb2.Any
    request_id: str
    reset: ResetRequest
    session_id: str
    state: StateRequest
    timeout: _duration_pb2.Duration
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., action: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., reset: _Optional[_Union[ResetRequest, _Mapping]] = ..., state: _Optional[_Union[StateRequest, _Mapping]] = ..., timeout: _Optional[_Union[_duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class StepResponse(_message.Message):
    __slots__ = ["error", "partial", "replayed", "request_id", "result", "session_id", "state"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    error: StepError
    partial: PartialObservation
    replayed: bool
    request_id: str
    result: StepResult
    session_id: str
    state: StateResponse
    def __init__(self, request_id: _Optional[str] = ..., session_id: _Optional[str] = ..., result: _Optional[_Union[StepResult, _Mapping]] = ..., partial: _Optional[_Union[PartialObservation, _Mapping]] = ..., state: _Optional[_Union[StateResponse, _Mapping]] = ..., error: _Optional[_Union[StepError, _Mapping]] = ..., replayed: bool = ...) -> None: ...

class StepResult(_message.Message):
    __slots__ = ["done", "episode_id", "metadata", "observation", "reward", "reward_components", "step_count", "terminated", "truncated"]
    class RewardComponentsEntry(_message.Message):
        __slots__ = ["key", "value"]
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    DONE_FIELD_NUMBER: _ClassVar[int]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    OBSERVATION_FIELD_NUMBER: _ClassVar[int]
    REWARD_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    TERMINATED_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    done: bool
    episode_id: str
    metadata: _struct_pb2.Struct
    observation: _any_pb2.Any
    reward: float
    reward_components: _containers.ScalarMap[str, float]
    step_count: int
    terminated: bool
    truncated: bool
    def __init__(self, observation: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., reward: _Optional[float] = ..., done: bool = ..., terminated: bool = ..., truncated: bool = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., reward_components: _Optional[_Mapping[str, float]] = ..., step_count: _Optional[int] = ..., episode_id: _Optional[str] = ...) -> None: ...

class ValidationErrors(_message.Message):
    __slots__ = ["violations"]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...
