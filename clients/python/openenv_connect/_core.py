"""What the blocking and the asyncio client share: building Step requests and reading replies (no I/O)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union
from urllib.parse import urlsplit

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from ._generated import service_pb2
from .errors import FailedPreconditionError, InternalError, InvalidArgumentError, from_step_error
from .schemas import message_classes

A = TypeVar("A", bound=Message)
O = TypeVar("O", bound=Message)  # noqa: E741 (the letter mirrors Action/Observation/State)
S = TypeVar("S", bound=Message)

#: An action: the Action message, or a dict of its fields in proto JSON form.
ActionLike = Union[A, Mapping[str, Any]]
#: Called with each partial observation of a long step and its progress (0..1, or None).
PartialCallback = Callable[[Message, Optional[float]], None]


@dataclass(frozen=True)
class StepResult(Generic[O]):
    """What a reset or a step produced, with the environment's typed observation."""

    #: The environment's Observation message (its generated class).
    observation: O
    #: The reward, or None when the environment gives none.
    reward: Optional[float]
    #: ``terminated or truncated``.
    done: bool
    #: The episode reached a terminal state of the task.
    terminated: bool
    #: The episode was cut short, e.g. by a step limit.
    truncated: bool
    #: Free-form metadata of the step (numbers arrive as floats: it is a ``google.protobuf.Struct``).
    metadata: Dict[str, Any] = field(default_factory=dict)
    #: Named reward components (rubric scores).
    reward_components: Dict[str, float] = field(default_factory=dict)
    #: Steps taken in the current episode, including this one.
    step_count: int = 0
    #: The current episode id.
    episode_id: str = ""


def grpc_target(url: str) -> Tuple[str, bool]:
    """Turns ``http://host:port`` / ``https://host[:port]`` / ``host:port`` into a gRPC target and a TLS flag."""
    if "://" not in url:
        return url, False
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme '{parts.scheme}' in {url!r}: use http:// (h2c) or https://")
    if parts.path not in ("", "/") or parts.query:
        raise ValueError(f"gRPC cannot serve under a path prefix: {url!r}")
    secure = parts.scheme == "https"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port or (443 if secure else 80)
    return f"{host}:{port}", secure


class ClientCore(Generic[A, O, S]):
    """Message classes, request ids and reply decoding of one client (shared by EnvClient and AsyncEnvClient)."""

    def __init__(
        self,
        url: str,
        action: Optional[Type[A]],
        observation: Optional[Type[O]],
        state: Optional[Type[S]],
        partial: Optional[Type[Message]],
        session_id: Optional[str],
        step_timeout: Optional[float],
        metadata: Sequence[Tuple[str, str]],
        verify: bool,
        rpc_timeout: float,
    ) -> None:
        self.url = url
        self._metadata = tuple(metadata)
        self._rpc_timeout = rpc_timeout
        self._step_timeout = step_timeout
        self._verify_types = verify
        self._ids = itertools.count(1)
        self._prefix = f"py-{uuid.uuid4().hex[:8]}"
        self._session_id = session_id or None
        self._closed = False
        self._given: Dict[str, Optional[type]] = {"action": action, "observation": observation, "state": state}
        self._given_partial = partial
        #: The server's Describe answer, when it was read.
        self.info: Optional[service_pb2.DescribeResponse] = None
        #: The environment's generated (or descriptor-built) message classes.
        self.action_type: Type[A] = action  # type: ignore[assignment]
        self.observation_type: Type[O] = observation  # type: ignore[assignment]
        self.state_type: Type[S] = state  # type: ignore[assignment]
        self.partial_type: Type[Message] = partial or observation  # type: ignore[assignment]

    @property
    def session_id(self) -> Optional[str]:
        """The session this client drives (after the first reset, or as given)."""
        return self._session_id

    def _needs_describe(self) -> bool:
        return self._verify_types or any(cls is None for cls in self._given.values())

    def _adopt(self, info: service_pb2.DescribeResponse) -> None:
        """Checks the given classes against Describe and fills in the missing ones."""
        self.info = info
        served = {"action": info.action_type, "observation": info.observation_type, "state": info.state_type}
        if self._verify_types:
            wrong = [
                f"{role}: {cls.DESCRIPTOR.full_name} (server: {served[role]})"
                for role, cls in self._given.items()
                if cls is not None and cls.DESCRIPTOR.full_name != served[role]
            ]
            if wrong:
                raise FailedPreconditionError(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"the server at {self.url} serves other message types: {'; '.join(wrong)}",
                )
        learned = message_classes(info)
        self.action_type = self.action_type or learned["action"]  # type: ignore[assignment]
        self.observation_type = self.observation_type or learned["observation"]  # type: ignore[assignment]
        self.state_type = self.state_type or learned["state"]  # type: ignore[assignment]
        self.partial_type = self._given_partial or learned["partial"] or self.observation_type

    def _reset_request(self, seed: Optional[int], episode_id: Optional[str], options: Optional[Mapping[str, Any]]) -> service_pb2.StepRequest:
        reset = service_pb2.ResetRequest()
        if seed is not None:
            reset.seed = seed
        if episode_id is not None:
            reset.episode_id = episode_id
        if options:
            reset.options.update(dict(options))
        return service_pb2.StepRequest(reset=reset)

    def _step_request(self, action: Optional[ActionLike[A]], fields: Mapping[str, Any]) -> service_pb2.StepRequest:
        request = service_pb2.StepRequest()
        request.action.Pack(self._action(action, fields))
        return request

    def _action(self, action: Optional[ActionLike[A]], fields: Mapping[str, Any]) -> Message:
        cls = self.action_type
        if action is not None and fields:
            raise TypeError("pass the action either as a message/dict or as keyword arguments, not both")
        if action is None:
            return cls(**fields)
        if isinstance(action, Message):
            if action.DESCRIPTOR.full_name != cls.DESCRIPTOR.full_name:
                raise InvalidArgumentError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"action: expected type {cls.DESCRIPTOR.full_name}, got '{action.DESCRIPTOR.full_name}'",
                )
            return action
        if isinstance(action, Mapping):
            try:
                return json_format.ParseDict(dict(action), cls())
            except json_format.ParseError as err:
                raise InvalidArgumentError(grpc.StatusCode.INVALID_ARGUMENT, f"action: {err}") from None
        raise TypeError(f"action must be a {cls.DESCRIPTOR.full_name} message or a dict, not {type(action).__name__}")

    def _partial_callback(self, on_partial: Optional[PartialCallback]) -> Optional[Callable[[service_pb2.PartialObservation], None]]:
        if on_partial is None:
            return None
        partial_type = self.partial_type

        def callback(p: service_pb2.PartialObservation) -> None:
            message = partial_type()
            p.observation.Unpack(message)
            on_partial(message, p.progress if p.HasField("progress") else None)

        return callback

    def _prepare(self, request: service_pb2.StepRequest, timeout: Optional[float], new_stream: bool) -> None:
        """Numbers the request, sets its deadline, and names the session on a stream's first message."""
        if self._closed:
            raise FailedPreconditionError(grpc.StatusCode.FAILED_PRECONDITION, "the client is closed")
        request.request_id = f"{self._prefix}-{next(self._ids)}"
        seconds = timeout if timeout is not None else self._step_timeout
        if seconds is not None and request.WhichOneof("command") != "state":
            request.timeout.FromNanoseconds(int(seconds * 1e9))
        if new_stream and self._session_id is not None:
            # A new stream (the first, or one after a break) attaches the session it serves.
            request.session_id = self._session_id

    def _settle(self, reply: service_pb2.StepResponse) -> service_pb2.StepResponse:
        """Notes the session of a reply and raises its in-band error."""
        if reply.session_id:
            self._session_id = reply.session_id
        if reply.WhichOneof("kind") == "error":
            raise from_step_error(reply.error)
        return reply

    def _unpack(self, cls: type, any_message: Any) -> Message:
        message = cls()
        if not any_message.Unpack(message):
            raise InternalError(
                grpc.StatusCode.INTERNAL,
                f"expected {cls.DESCRIPTOR.full_name} from the server, got '{any_message.type_url}'",
            )
        return message

    def _state(self, reply: service_pb2.StepResponse) -> S:
        if reply.WhichOneof("kind") != "state":
            raise InternalError(grpc.StatusCode.INTERNAL, f"expected a state reply, got {reply.WhichOneof('kind')}")
        return self._unpack(self.state_type, reply.state.state)  # type: ignore[return-value]

    def _result(self, reply: service_pb2.StepResponse) -> StepResult[O]:
        if reply.WhichOneof("kind") != "result":
            raise InternalError(grpc.StatusCode.INTERNAL, f"expected a step result, got {reply.WhichOneof('kind')}")
        r = reply.result
        return StepResult(
            observation=self._unpack(self.observation_type, r.observation),  # type: ignore[arg-type]
            reward=r.reward if r.HasField("reward") else None,
            done=r.done,
            terminated=r.terminated,
            truncated=r.truncated,
            metadata=json_format.MessageToDict(r.metadata) if r.HasField("metadata") else {},
            reward_components=dict(r.reward_components),
            step_count=r.step_count,
            episode_id=r.episode_id,
        )

    def _call_metadata(self) -> Optional[Tuple[Tuple[str, str], ...]]:
        return self._metadata or None
