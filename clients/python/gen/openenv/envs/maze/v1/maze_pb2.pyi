from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
DIRECTION_DOWN: Direction
DIRECTION_LEFT: Direction
DIRECTION_RIGHT: Direction
DIRECTION_UNSPECIFIED: Direction
DIRECTION_UP: Direction

class MazeAction(_message.Message):
    __slots__ = ["direction"]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    direction: Direction
    def __init__(self, direction: _Optional[_Union[Direction, str]] = ...) -> None: ...

class MazeObservation(_message.Message):
    __slots__ = ["cols", "distance_to_goal", "goal", "hit_wall", "legal_directions", "position", "render", "rows", "seed", "steps_remaining"]
    COLS_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_TO_GOAL_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    HIT_WALL_FIELD_NUMBER: _ClassVar[int]
    LEGAL_DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    STEPS_REMAINING_FIELD_NUMBER: _ClassVar[int]
    cols: int
    distance_to_goal: int
    goal: Position
    hit_wall: bool
    legal_directions: _containers.RepeatedScalarFieldContainer[Direction]
    position: Position
    render: str
    rows: int
    seed: int
    steps_remaining: int
    def __init__(self, position: _Optional[_Union[Position, _Mapping]] = ..., goal: _Optional[_Union[Position, _Mapping]] = ..., legal_directions: _Optional[_Iterable[_Union[Direction, str]]] = ..., hit_wall: bool = ..., steps_remaining: _Optional[int] = ..., distance_to_goal: _Optional[int] = ..., render: _Optional[str] = ..., rows: _Optional[int] = ..., cols: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class MazeResetOptions(_message.Message):
    __slots__ = ["height", "loop_fraction", "max_steps", "width"]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    LOOP_FRACTION_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    height: int
    loop_fraction: float
    max_steps: int
    width: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., max_steps: _Optional[int] = ..., loop_fraction: _Optional[float] = ...) -> None: ...

class MazeState(_message.Message):
    __slots__ = ["episode_id", "goal", "grid", "max_steps", "position", "seed", "solved", "step_count", "wall_hits"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    MAX_STEPS_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SOLVED_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    WALL_HITS_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    goal: Position
    grid: _containers.RepeatedScalarFieldContainer[str]
    max_steps: int
    position: Position
    seed: int
    solved: bool
    step_count: int
    wall_hits: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., goal: _Optional[_Union[Position, _Mapping]] = ..., grid: _Optional[_Iterable[str]] = ..., seed: _Optional[int] = ..., max_steps: _Optional[int] = ..., wall_hits: _Optional[int] = ..., solved: bool = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ["col", "row"]
    COL_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    col: int
    row: int
    def __init__(self, row: _Optional[int] = ..., col: _Optional[int] = ...) -> None: ...

class Direction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
