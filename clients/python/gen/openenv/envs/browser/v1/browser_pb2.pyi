from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
MOUSE_BUTTON_LEFT: MouseButton
MOUSE_BUTTON_MIDDLE: MouseButton
MOUSE_BUTTON_RIGHT: MouseButton
MOUSE_BUTTON_UNSPECIFIED: MouseButton

class BrowserAction(_message.Message):
    __slots__ = ["click", "fill", "go_back", "goto", "noop", "press", "scroll", "select", "send_msg_to_user"]
    CLICK_FIELD_NUMBER: _ClassVar[int]
    FILL_FIELD_NUMBER: _ClassVar[int]
    GOTO_FIELD_NUMBER: _ClassVar[int]
    GO_BACK_FIELD_NUMBER: _ClassVar[int]
    NOOP_FIELD_NUMBER: _ClassVar[int]
    PRESS_FIELD_NUMBER: _ClassVar[int]
    SCROLL_FIELD_NUMBER: _ClassVar[int]
    SELECT_FIELD_NUMBER: _ClassVar[int]
    SEND_MSG_TO_USER_FIELD_NUMBER: _ClassVar[int]
    click: ClickAction
    fill: FillAction
    go_back: GoBackAction
    goto: GotoAction
    noop: NoopAction
    press: PressAction
    scroll: ScrollAction
    select: SelectAction
    send_msg_to_user: SendMsgToUserAction
    def __init__(self, goto: _Optional[_Union[GotoAction, _Mapping]] = ..., click: _Optional[_Union[ClickAction, _Mapping]] = ..., fill: _Optional[_Union[FillAction, _Mapping]] = ..., select: _Optional[_Union[SelectAction, _Mapping]] = ..., press: _Optional[_Union[PressAction, _Mapping]] = ..., scroll: _Optional[_Union[ScrollAction, _Mapping]] = ..., go_back: _Optional[_Union[GoBackAction, _Mapping]] = ..., noop: _Optional[_Union[NoopAction, _Mapping]] = ..., send_msg_to_user: _Optional[_Union[SendMsgToUserAction, _Mapping]] = ...) -> None: ...

class BrowserObservation(_message.Message):
    __slots__ = ["active_page_index", "axtree_truncated", "axtree_txt", "goal", "last_action_error", "open_pages_urls", "screenshot", "seed", "steps_remaining", "task", "title", "url"]
    ACTIVE_PAGE_INDEX_FIELD_NUMBER: _ClassVar[int]
    AXTREE_TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    AXTREE_TXT_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTION_ERROR_FIELD_NUMBER: _ClassVar[int]
    OPEN_PAGES_URLS_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    active_page_index: int
    axtree_truncated: bool
    axtree_txt: str
    goal: str
    last_action_error: str
    open_pages_urls: _containers.RepeatedScalarFieldContainer[str]
    screenshot: Screenshot
    seed: int
    steps_remaining: int
    task: str
    title: str
    url: str
    def __init__(self, goal: _Optional[str] = ..., axtree_txt: _Optional[str] = ..., url: _Optional[str] = ..., title: _Optional[str] = ..., last_action_error: _Optional[str] = ..., screenshot: _Optional[_Union[Screenshot, _Mapping]] = ..., task: _Optional[str] = ..., steps_remaining: _Optional[int] = ..., open_pages_urls: _Optional[_Iterable[str]] = ..., active_page_index: _Optional[int] = ..., axtree_truncated: bool = ..., seed: _Optional[int] = ...) -> None: ...

class BrowserResetOptions(_message.Message):
    __slots__ = ["max_steps", "screenshot", "task", "viewport_height", "viewport_width"]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    SCREENSHOT_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    VIEWPORT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VIEWPORT_WIDTH_FIELD_NUMBER: _ClassVar[int]
    max_steps: int
    screenshot: ScreenshotOptions
    task: str
    viewport_height: int
    viewport_width: int
    def __init__(self, task: _Optional[str] = ..., max_steps: _Optional[int] = ..., screenshot: _Optional[_Union[ScreenshotOptions, _Mapping]] = ..., viewport_width: _Optional[int] = ..., viewport_height: _Optional[int] = ...) -> None: ...

class BrowserState(_message.Message):
    __slots__ = ["browser_restarts", "done", "episode_id", "goal", "js_heap_bytes", "max_steps", "messages_to_user", "page_count", "seed", "step_count", "success", "task", "url"]
    BROWSER_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    JS_HEAP_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_TO_USER_FIELD_NUMBER: _ClassVar[int]
    PAGE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    browser_restarts: int
    done: bool
    episode_id: str
    goal: str
    js_heap_bytes: int
    max_steps: int
    messages_to_user: _containers.RepeatedScalarFieldContainer[str]
    page_count: int
    seed: int
    step_count: int
    success: bool
    task: str
    url: str
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., task: _Optional[str] = ..., seed: _Optional[int] = ..., goal: _Optional[str] = ..., max_steps: _Optional[int] = ..., url: _Optional[str] = ..., page_count: _Optional[int] = ..., success: bool = ..., done: bool = ..., messages_to_user: _Optional[_Iterable[str]] = ..., js_heap_bytes: _Optional[int] = ..., browser_restarts: _Optional[int] = ...) -> None: ...

class ClickAction(_message.Message):
    __slots__ = ["button", "click_count", "element_id"]
    BUTTON_FIELD_NUMBER: _ClassVar[int]
    CLICK_COUNT_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    button: MouseButton
    click_count: int
    element_id: str
    def __init__(self, element_id: _Optional[str] = ..., button: _Optional[_Union[MouseButton, str]] = ..., click_count: _Optional[int] = ...) -> None: ...

class FillAction(_message.Message):
    __slots__ = ["element_id", "value"]
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    value: str
    def __init__(self, element_id: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class GoBackAction(_message.Message):
    __slots__ = []
    def __init__(self) -> None: ...

class GotoAction(_message.Message):
    __slots__ = ["url"]
    URL_FIELD_NUMBER: _ClassVar[int]
    url: str
    def __init__(self, url: _Optional[str] = ...) -> None: ...

class NoopAction(_message.Message):
    __slots__ = ["wait_ms"]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    wait_ms: int
    def __init__(self, wait_ms: _Optional[int] = ...) -> None: ...

class PressAction(_message.Message):
    __slots__ = ["element_id", "key"]
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    key: str
    def __init__(self, key: _Optional[str] = ..., element_id: _Optional[str] = ...) -> None: ...

class Screenshot(_message.Message):
    __slots__ = ["data", "height", "mime_type", "width"]
    DATA_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    height: int
    mime_type: str
    width: int
    def __init__(self, data: _Optional[bytes] = ..., mime_type: _Optional[str] = ..., width: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class ScreenshotOptions(_message.Message):
    __slots__ = ["format", "jpeg_quality", "width"]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    JPEG_QUALITY_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    format: ImageFormat
    jpeg_quality: int
    width: int
    def __init__(self, format: _Optional[_Union[ImageFormat, str]] = ..., jpeg_quality: _Optional[int] = ..., width: _Optional[int] = ...) -> None: ...

class ScrollAction(_message.Message):
    __slots__ = ["delta_x", "delta_y", "element_id"]
    DELTA_X_FIELD_NUMBER: _ClassVar[int]
    DELTA_Y_FIELD_NUMBER: _ClassVar[int]
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    delta_x: float
    delta_y: float
    element_id: str
    def __init__(self, element_id: _Optional[str] = ..., delta_x: _Optional[float] = ..., delta_y: _Optional[float] = ...) -> None: ...

class SelectAction(_message.Message):
    __slots__ = ["element_id", "options"]
    ELEMENT_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    element_id: str
    options: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, element_id: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ...) -> None: ...

class SendMsgToUserAction(_message.Message):
    __slots__ = ["text"]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: str
    def __init__(self, text: _Optional[str] = ...) -> None: ...

class MouseButton(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
