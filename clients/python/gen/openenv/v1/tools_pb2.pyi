from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
TOOL_ERROR_TYPE_EXECUTION_ERROR: ToolErrorType
TOOL_ERROR_TYPE_INVALID_ARGS: ToolErrorType
TOOL_ERROR_TYPE_TIMEOUT: ToolErrorType
TOOL_ERROR_TYPE_TOOL_NOT_FOUND: ToolErrorType
TOOL_ERROR_TYPE_TRANSPORT_ERROR: ToolErrorType
TOOL_ERROR_TYPE_UNSPECIFIED: ToolErrorType

class CallToolAction(_message.Message):
    __slots__ = ["arguments", "timeout_s", "tool_name", "typed_arguments"]
    ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TYPED_ARGUMENTS_FIELD_NUMBER: _ClassVar[int]
    arguments: _struct_pb2.Struct
    timeout_s: float
    tool_name: str
    typed_arguments: _any_pb2.Any
    def __init__(self, tool_name: _Optional[str] = ..., arguments: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., typed_arguments: _Optional[_Union[_any_pb2.Any, _Mapping]] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class CallToolObservation(_message.Message):
    __slots__ = ["error", "result", "tool_name"]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    error: ToolError
    result: CallToolResult
    tool_name: str
    def __init__(self, tool_name: _Optional[str] = ..., result: _Optional[_Union[CallToolResult, _Mapping]] = ..., error: _Optional[_Union[ToolError, _Mapping]] = ...) -> None: ...

class CallToolResult(_message.Message):
    __slots__ = ["content", "data", "is_error", "structured_content", "typed_result"]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    IS_ERROR_FIELD_NUMBER: _ClassVar[int]
    STRUCTURED_CONTENT_FIELD_NUMBER: _ClassVar[int]
    TYPED_RESULT_FIELD_NUMBER: _ClassVar[int]
    content: _containers.RepeatedCompositeFieldContainer[ToolContent]
    data: _struct_pb2.Value
    is_error: bool
    structured_content: _struct_pb2.Struct
    typed_result: _any_pb2.Any
    def __init__(self, content: _Optional[_Iterable[_Union[ToolContent, _Mapping]]] = ..., structured_content: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., data: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., is_error: bool = ..., typed_result: _Optional[_Union[_any_pb2.Any, _Mapping]] = ...) -> None: ...

class ListToolsAction(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class ListToolsObservation(_message.Message):
    __slots__ = ["tools"]
    TOOLS_FIELD_NUMBER: _ClassVar[int]
    tools: _containers.RepeatedCompositeFieldContainer[Tool]
    def __init__(self, tools: _Optional[_Iterable[_Union[Tool, _Mapping]]] = ...) -> None: ...

class Tool(_message.Message):
    __slots__ = ["description", "input_schema", "input_type", "name", "output_schema", "output_type", "timeout_s", "title"]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    INPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    description: str
    input_schema: _struct_pb2.Struct
    input_type: str
    name: str
    output_schema: _struct_pb2.Struct
    output_type: str
    timeout_s: float
    title: str
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., input_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., output_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., input_type: _Optional[str] = ..., output_type: _Optional[str] = ..., timeout_s: _Optional[float] = ...) -> None: ...

class ToolAction(_message.Message):
    __slots__ = ["call_tool", "list_tools"]
    CALL_TOOL_FIELD_NUMBER: _ClassVar[int]
    LIST_TOOLS_FIELD_NUMBER: _ClassVar[int]
    call_tool: CallToolAction
    list_tools: ListToolsAction
    def __init__(self, list_tools: _Optional[_Union[ListToolsAction, _Mapping]] = ..., call_tool: _Optional[_Union[CallToolAction, _Mapping]] = ...) -> None: ...

class ToolContent(_message.Message):
    __slots__ = ["data", "mime_type", "name", "text", "type", "uri"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    mime_type: str
    name: str
    text: str
    type: str
    uri: str
    def __init__(self, type: _Optional[str] = ..., text: _Optional[str] = ..., data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., uri: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ToolError(_message.Message):
    __slots__ = ["error_type", "message"]
    ERROR_TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    error_type: ToolErrorType
    message: str
    def __init__(self, error_type: _Optional[_Union[ToolErrorType, str]] = ..., message: _Optional[str] = ...) -> None: ...

class ToolObservation(_message.Message):
    __slots__ = ["call_tool", "list_tools"]
    CALL_TOOL_FIELD_NUMBER: _ClassVar[int]
    LIST_TOOLS_FIELD_NUMBER: _ClassVar[int]
    call_tool: CallToolObservation
    list_tools: ListToolsObservation
    def __init__(self, list_tools: _Optional[_Union[ListToolsObservation, _Mapping]] = ..., call_tool: _Optional[_Union[CallToolObservation, _Mapping]] = ...) -> None: ...

class ToolProgress(_message.Message):
    __slots__ = ["message", "progress", "tool_name", "total"]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TOOL_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    message: str
    progress: float
    tool_name: str
    total: float
    def __init__(self, tool_name: _Optional[str] = ..., progress: _Optional[float] = ..., total: _Optional[float] = ..., message: _Optional[str] = ...) -> None: ...

class ToolErrorType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
