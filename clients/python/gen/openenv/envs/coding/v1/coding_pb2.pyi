from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
EXECUTION_STATUS_ERROR: ExecutionStatus
EXECUTION_STATUS_KILLED: ExecutionStatus
EXECUTION_STATUS_OK: ExecutionStatus
EXECUTION_STATUS_TIMEOUT: ExecutionStatus
EXECUTION_STATUS_UNSPECIFIED: ExecutionStatus
OUTPUT_STREAM_STDERR: OutputStream
OUTPUT_STREAM_STDOUT: OutputStream
OUTPUT_STREAM_UNSPECIFIED: OutputStream

class CodeAction(_message.Message):
    __slots__ = ["code", "tests", "timeout_s"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TESTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    code: str
    tests: _containers.RepeatedCompositeFieldContainer[CodeTest]
    timeout_s: float
    def __init__(self, code: _Optional[str] = ..., timeout_s: _Optional[float] = ..., tests: _Optional[_Iterable[_Union[CodeTest, _Mapping]]] = ...) -> None: ...

class CodeObservation(_message.Message):
    __slots__ = ["duration_ms", "error_message", "error_name", "execution_count", "exit_code", "interpreter_restarted", "result", "status", "stderr", "stderr_truncated", "stdout", "stdout_truncated", "tests", "tests_failed", "tests_passed"]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_NAME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    INTERPRETER_RESTARTED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDERR_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDOUT_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    TESTS_FAILED_FIELD_NUMBER: _ClassVar[int]
    TESTS_FIELD_NUMBER: _ClassVar[int]
    TESTS_PASSED_FIELD_NUMBER: _ClassVar[int]
    duration_ms: float
    error_message: str
    error_name: str
    execution_count: int
    exit_code: int
    interpreter_restarted: bool
    result: str
    status: ExecutionStatus
    stderr: str
    stderr_truncated: bool
    stdout: str
    stdout_truncated: bool
    tests: _containers.RepeatedCompositeFieldContainer[TestResult]
    tests_failed: int
    tests_passed: int
    def __init__(self, stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., exit_code: _Optional[int] = ..., status: _Optional[_Union[ExecutionStatus, str]] = ..., result: _Optional[str] = ..., error_name: _Optional[str] = ..., error_message: _Optional[str] = ..., duration_ms: _Optional[float] = ..., stdout_truncated: bool = ..., stderr_truncated: bool = ..., interpreter_restarted: bool = ..., execution_count: _Optional[int] = ..., tests: _Optional[_Iterable[_Union[TestResult, _Mapping]]] = ..., tests_passed: _Optional[int] = ..., tests_failed: _Optional[int] = ...) -> None: ...

class CodeOutputChunk(_message.Message):
    __slots__ = ["execution_count", "stream", "text"]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    execution_count: int
    stream: OutputStream
    text: str
    def __init__(self, stream: _Optional[_Union[OutputStream, str]] = ..., text: _Optional[str] = ..., execution_count: _Optional[int] = ...) -> None: ...

class CodeState(_message.Message):
    __slots__ = ["episode_id", "execution_count", "interpreter_pid", "interpreter_restarts", "python_version", "sandbox_uid", "seed", "step_count", "variables", "working_directory"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    INTERPRETER_PID_FIELD_NUMBER: _ClassVar[int]
    INTERPRETER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    SANDBOX_UID_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    VARIABLES_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    execution_count: int
    interpreter_pid: int
    interpreter_restarts: int
    python_version: str
    sandbox_uid: int
    seed: int
    step_count: int
    variables: _containers.RepeatedScalarFieldContainer[str]
    working_directory: str
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., execution_count: _Optional[int] = ..., interpreter_restarts: _Optional[int] = ..., variables: _Optional[_Iterable[str]] = ..., working_directory: _Optional[str] = ..., interpreter_pid: _Optional[int] = ..., sandbox_uid: _Optional[int] = ..., python_version: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class CodeTest(_message.Message):
    __slots__ = ["code", "name"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    code: str
    name: str
    def __init__(self, name: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class CodingResetOptions(_message.Message):
    __slots__ = ["setup_code"]
    SETUP_CODE_FIELD_NUMBER: _ClassVar[int]
    setup_code: str
    def __init__(self, setup_code: _Optional[str] = ...) -> None: ...

class TestResult(_message.Message):
    __slots__ = ["message", "name", "output", "passed"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    message: str
    name: str
    output: str
    passed: bool
    def __init__(self, name: _Optional[str] = ..., passed: bool = ..., message: _Optional[str] = ..., output: _Optional[str] = ...) -> None: ...

class ExecutionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class OutputStream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
