from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DirEntry(_message.Message):
    __slots__ = ["name", "size", "type"]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    type: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., size: _Optional[int] = ...) -> None: ...

class ListDirArgs(_message.Message):
    __slots__ = ["path"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ListDirResult(_message.Message):
    __slots__ = ["entries", "path"]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DirEntry]
    path: str
    def __init__(self, path: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[DirEntry, _Mapping]]] = ...) -> None: ...

class ReadFileArgs(_message.Message):
    __slots__ = ["path"]
    PATH_FIELD_NUMBER: _ClassVar[int]
    path: str
    def __init__(self, path: _Optional[str] = ...) -> None: ...

class ReadFileResult(_message.Message):
    __slots__ = ["content", "path", "size", "truncated"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    content: str
    path: str
    size: int
    truncated: bool
    def __init__(self, path: _Optional[str] = ..., content: _Optional[str] = ..., size: _Optional[int] = ..., truncated: bool = ...) -> None: ...

class RunPythonArgs(_message.Message):
    __slots__ = ["code", "timeout_s"]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    code: str
    timeout_s: float
    def __init__(self, code: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class RunPythonResult(_message.Message):
    __slots__ = ["error_message", "error_name", "exit_code", "result", "stderr", "stdout"]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_NAME_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    error_message: str
    error_name: str
    exit_code: int
    result: str
    stderr: str
    stdout: str
    def __init__(self, stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., exit_code: _Optional[int] = ..., result: _Optional[str] = ..., error_name: _Optional[str] = ..., error_message: _Optional[str] = ...) -> None: ...

class SubmitArgs(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class SubmitResult(_message.Message):
    __slots__ = ["passed", "report", "score", "total"]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    passed: int
    report: _containers.RepeatedScalarFieldContainer[str]
    score: float
    total: int
    def __init__(self, passed: _Optional[int] = ..., total: _Optional[int] = ..., score: _Optional[float] = ..., report: _Optional[_Iterable[str]] = ...) -> None: ...

class WorkspaceResetOptions(_message.Message):
    __slots__ = ["max_steps", "task"]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    max_steps: int
    task: str
    def __init__(self, task: _Optional[str] = ..., max_steps: _Optional[int] = ...) -> None: ...

class WorkspaceState(_message.Message):
    __slots__ = ["episode_id", "files_written", "instruction", "python_runs", "score", "step_count", "submitted", "task", "working_directory"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    FILES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    PYTHON_RUNS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    WORKING_DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    files_written: int
    instruction: str
    python_runs: int
    score: float
    step_count: int
    submitted: bool
    task: str
    working_directory: str
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., task: _Optional[str] = ..., instruction: _Optional[str] = ..., python_runs: _Optional[int] = ..., files_written: _Optional[int] = ..., submitted: bool = ..., score: _Optional[float] = ..., working_directory: _Optional[str] = ...) -> None: ...

class WriteFileArgs(_message.Message):
    __slots__ = ["content", "path"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    content: str
    path: str
    def __init__(self, path: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class WriteFileResult(_message.Message):
    __slots__ = ["bytes_written", "path"]
    BYTES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    bytes_written: int
    path: str
    def __init__(self, path: _Optional[str] = ..., bytes_written: _Optional[int] = ...) -> None: ...
