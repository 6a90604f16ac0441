from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
GAME_STATUS_DRAW: GameStatus
GAME_STATUS_IN_PROGRESS: GameStatus
GAME_STATUS_LOST: GameStatus
GAME_STATUS_UNSPECIFIED: GameStatus
GAME_STATUS_WON: GameStatus

class Connect4Action(_message.Message):
    __slots__ = ["column"]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    column: int
    def __init__(self, column: _Optional[int] = ...) -> None: ...

class Connect4Observation(_message.Message):
    __slots__ = ["board", "invalid_move", "legal_columns", "opponent_column", "render", "seed", "status", "winning_cells"]
    BOARD_FIELD_NUMBER: _ClassVar[int]
    INVALID_MOVE_FIELD_NUMBER: _ClassVar[int]
    LEGAL_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    OPPONENT_COLUMN_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    WINNING_CELLS_FIELD_NUMBER: _ClassVar[int]
    board: _containers.RepeatedScalarFieldContainer[int]
    invalid_move: bool
    legal_columns: _containers.RepeatedScalarFieldContainer[int]
    opponent_column: int
    render: str
    seed: int
    status: GameStatus
    winning_cells: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, board: _Optional[_Iterable[int]] = ..., legal_columns: _Optional[_Iterable[int]] = ..., opponent_column: _Optional[int] = ..., status: _Optional[_Union[GameStatus, str]] = ..., invalid_move: bool = ..., winning_cells: _Optional[_Iterable[int]] = ..., render: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class Connect4ResetOptions(_message.Message):
    __slots__ = ["agent_first", "depth", "invalid_move", "opponent"]
    AGENT_FIRST_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    INVALID_MOVE_FIELD_NUMBER: _ClassVar[int]
    OPPONENT_FIELD_NUMBER: _ClassVar[int]
    agent_first: bool
    depth: int
    invalid_move: str
    opponent: str
    def __init__(self, opponent: _Optional[str] = ..., depth: _Optional[int] = ..., agent_first: bool = ..., invalid_move: _Optional[str] = ...) -> None: ...

class Connect4State(_message.Message):
    __slots__ = ["agent_first", "board", "depth", "episode_id", "invalid_moves", "moves", "opponent", "seed", "status", "step_count"]
    AGENT_FIRST_FIELD_NUMBER: _ClassVar[int]
    BOARD_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    INVALID_MOVES_FIELD_NUMBER: _ClassVar[int]
    MOVES_FIELD_NUMBER: _ClassVar[int]
    OPPONENT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    agent_first: bool
    board: _containers.RepeatedScalarFieldContainer[int]
    depth: int
    episode_id: str
    invalid_moves: int
    moves: _containers.RepeatedScalarFieldContainer[int]
    opponent: str
    seed: int
    status: GameStatus
    step_count: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., board: _Optional[_Iterable[int]] = ..., status: _Optional[_Union[GameStatus, str]] = ..., moves: _Optional[_Iterable[int]] = ..., opponent: _Optional[str] = ..., depth: _Optional[int] = ..., agent_first: bool = ..., seed: _Optional[int] = ..., invalid_moves: _Optional[int] = ...) -> None: ...

class GameStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
