from buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor
LETTER_FEEDBACK_ABSENT: LetterFeedback
LETTER_FEEDBACK_CORRECT: LetterFeedback
LETTER_FEEDBACK_PRESENT: LetterFeedback
LETTER_FEEDBACK_UNSPECIFIED: LetterFeedback

class GuessFeedback(_message.Message):
    __slots__ = ["guess", "letters", "pattern"]
    GUESS_FIELD_NUMBER: _ClassVar[int]
    LETTERS_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    guess: str
    letters: _containers.RepeatedScalarFieldContainer[LetterFeedback]
    pattern: str
    def __init__(self, guess: _Optional[str] = ..., letters: _Optional[_Iterable[_Union[LetterFeedback, str]]] = ..., pattern: _Optional[str] = ...) -> None: ...

class WordleAction(_message.Message):
    __slots__ = ["guess"]
    GUESS_FIELD_NUMBER: _ClassVar[int]
    guess: str
    def __init__(self, guess: _Optional[str] = ...) -> None: ...

class WordleObservation(_message.Message):
    __slots__ = ["guesses", "guesses_remaining", "render", "secret", "seed", "solved"]
    GUESSES_FIELD_NUMBER: _ClassVar[int]
    GUESSES_REMAINING_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SOLVED_FIELD_NUMBER: _ClassVar[int]
    guesses: _containers.RepeatedCompositeFieldContainer[GuessFeedback]
    guesses_remaining: int
    render: str
    secret: str
    seed: int
    solved: bool
    def __init__(self, guesses: _Optional[_Iterable[_Union[GuessFeedback, _Mapping]]] = ..., guesses_remaining: _Optional[int] = ..., solved: bool = ..., secret: _Optional[str] = ..., render: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...

class WordleResetOptions(_message.Message):
    __slots__ = ["max_guesses", "require_known_words", "secret"]
    MAX_GUESSES_FIELD_NUMBER: _ClassVar[int]
    REQUIRE_KNOWN_WORDS_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    max_guesses: int
    require_known_words: bool
    secret: str
    def __init__(self, max_guesses: _Optional[int] = ..., require_known_words: bool = ..., secret: _Optional[str] = ...) -> None: ...

class WordleState(_message.Message):
    __slots__ = ["episode_id", "guesses", "max_guesses", "seed", "solved", "step_count", "word_list_size"]
    EPISODE_ID_FIELD_NUMBER: _ClassVar[int]
    GUESSES_FIELD_NUMBER: _ClassVar[int]
    MAX_GUESSES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SOLVED_FIELD_NUMBER: _ClassVar[int]
    STEP_COUNT_FIELD_NUMBER: _ClassVar[int]
    WORD_LIST_SIZE_FIELD_NUMBER: _ClassVar[int]
    episode_id: str
    guesses: _containers.RepeatedCompositeFieldContainer[GuessFeedback]
    max_guesses: int
    seed: int
    solved: bool
    step_count: int
    word_list_size: int
    def __init__(self, episode_id: _Optional[str] = ..., step_count: _Optional[int] = ..., guesses: _Optional[_Iterable[_Union[GuessFeedback, _Mapping]]] = ..., solved: bool = ..., max_guesses: _Optional[int] = ..., seed: _Optional[int] = ..., word_list_size: _Optional[int] = ...) -> None: ...

class LetterFeedback(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = []
