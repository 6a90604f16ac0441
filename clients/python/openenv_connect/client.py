"""EnvClient: a typed, synchronous client of one environment session over gRPC."""

from __future__ import annotations

import itertools
import queue
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Generic, Iterator, Mapping, Optional, Sequence, Tuple, TypeVar, Union
from urllib.parse import urlsplit

import grpc
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message

from ._generated import service_pb2, service_pb2_grpc
from .errors import (
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    UnavailableError,
    from_rpc_error,
    from_step_error,
)
from .schemas import message_classes

A = TypeVar("A", bound=Message)
O = TypeVar("O", bound=Message)  # noqa: E741 (the letter mirrors Action/Observation/State)
S = TypeVar("S", bound=Message)

#: An action: the Action message, or a dict of its fields in proto JSON form.
ActionLike = Union[A, Mapping[str, Any]]

_END = object()


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


class _StepStream:
    """One bidirectional Step call; requests go in through a queue, replies are read in order."""

    def __init__(self, stub: service_pb2_grpc.EnvironmentServiceStub, metadata: Sequence[Tuple[str, str]]) -> None:
        self._requests: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self._call = stub.Step(self._outgoing(), metadata=list(metadata) or None)
        self._finished = threading.Event()
        self._call.add_done_callback(lambda _call: self._finished.set())
        self.broken = False

    def _outgoing(self) -> Iterator[service_pb2.StepRequest]:
        while True:
            item = self._requests.get()
            if item is _END:
                return
            yield item  # type: ignore[misc]

    def request(
        self,
        request: service_pb2.StepRequest,
        on_partial: Optional[Callable[[service_pb2.PartialObservation], None]],
    ) -> service_pb2.StepResponse:
        """Sends a request and returns its final reply (a result, a state or an error)."""
        self._requests.put(request)
        try:
            for reply in self._call:
                if reply.request_id != request.request_id:
                    continue  # a late reply to an abandoned request
                if reply.WhichOneof("kind") == "partial":
                    if on_partial is not None:
                        on_partial(reply.partial)
                    continue
                return reply
        except grpc.RpcError as err:
            self.broken = True
            raise from_rpc_error(err) from None
        self.broken = True
        raise UnavailableError(grpc.StatusCode.UNAVAILABLE, "the server ended the Step stream")

    def close(self, timeout: float) -> None:
        """Half-closes the stream (the server then ends the session) and waits for the call to finish."""
        self._requests.put(_END)
        if not self._finished.wait(timeout):
            self._call.cancel()


class EnvClient(Generic[A, O, S]):
    """A typed client of one environment session, over one bidirectional ``Step`` stream.

    Example::

        from openenv.envs.echo.v1 import echo_pb2
        with EnvClient("http://127.0.0.1:8000", action=echo_pb2.EchoAction,
                       observation=echo_pb2.EchoObservation, state=echo_pb2.EchoState) as env:
            env.reset(seed=1)
            result = env.step(echo_pb2.EchoAction(message="hi"))
            print(result.observation.echoed_message, result.reward)

    Without the message classes, the client learns them from the server's
    Describe (the generated classes when importable, else classes built from
    the descriptors the server sends).

    Args:
        url: the server, e.g. ``http://127.0.0.1:8000`` (cleartext HTTP/2) or ``https://...``.
        action, observation, state, partial: the environment's generated message classes.
        session_id: attach to an existing session (opened by a unary Reset or kept for a resume)
            instead of opening one on the first reset.
        step_timeout: deadline of each step and reset in seconds, sent to the server.
        metadata: gRPC metadata sent with every call, e.g. ``[("authorization", "Bearer ...")]``.
        verify: check on connect that the server serves these message types.
        channel: a ready ``grpc.Channel`` to use instead of one built from ``url``.
        rpc_timeout: deadline of the unary calls (Describe, CloseSession) in seconds.
    """

    def __init__(
        self,
        url: str,
        *,
        action: Optional[type] = None,
        observation: Optional[type] = None,
        state: Optional[type] = None,
        partial: Optional[type] = None,
        session_id: Optional[str] = None,
        step_timeout: Optional[float] = None,
        metadata: Sequence[Tuple[str, str]] = (),
        verify: bool = True,
        channel: Optional[grpc.Channel] = None,
        rpc_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self._metadata = tuple(metadata)
        self._rpc_timeout = rpc_timeout
        self._step_timeout = step_timeout
        self._own_channel = channel is None
        if channel is None:
            target, secure = grpc_target(url)
            channel = grpc.secure_channel(target, grpc.ssl_channel_credentials()) if secure else grpc.insecure_channel(target)
        self._channel = channel
        #: The generated gRPC stub, for calls this class does not wrap (errors: see ``errors.from_rpc_error``).
        self.stub = service_pb2_grpc.EnvironmentServiceStub(channel)
        self._stream: Optional[_StepStream] = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._prefix = f"py-{uuid.uuid4().hex[:8]}"
        self._session_id = session_id or None
        self._closed = False
        #: The server's Describe answer, when it was read.
        self.info: Optional[service_pb2.DescribeResponse] = None
        given = {"action": action, "observation": observation, "state": state}
        try:
            if any(cls is None for cls in given.values()) or verify:
                self.info = self.describe()
                learned = message_classes(self.info)
                if verify:
                    self._verify(given)
                action = action or learned["action"]
                observation = observation or learned["observation"]
                state = state or learned["state"]
                partial = partial or learned["partial"]
        except BaseException:
            self._release()
            raise
        self.action_type: type = action  # type: ignore[assignment]
        self.observation_type: type = observation  # type: ignore[assignment]
        self.state_type: type = state  # type: ignore[assignment]
        self.partial_type: type = partial or observation  # type: ignore[assignment]

    # -- public API -------------------------------------------------------

    @property
    def session_id(self) -> Optional[str]:
        """The session this client drives (after the first reset, or as given)."""
        return self._session_id

    def describe(self) -> service_pb2.DescribeResponse:
        """The server's description: metadata, message types and descriptors, limits, capabilities."""
        try:
            return self.stub.Describe(service_pb2.DescribeRequest(), timeout=self._rpc_timeout, metadata=self._metadata or None)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    def reset(
        self,
        seed: Optional[int] = None,
        *,
        episode_id: Optional[str] = None,
        options: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> StepResult[O]:
        """Starts a new episode (opening a session on the first call) and returns its first observation."""
        reset = service_pb2.ResetRequest()
        if seed is not None:
            reset.seed = seed
        if episode_id is not None:
            reset.episode_id = episode_id
        if options:
            reset.options.update(dict(options))
        request = service_pb2.StepRequest(reset=reset)
        return self._result(self._send(request, timeout, None))

    def step(
        self,
        action: Optional[ActionLike[A]] = None,
        *,
        timeout: Optional[float] = None,
        on_partial: Optional[Callable[[Message, Optional[float]], None]] = None,
        **fields: Any,
    ) -> StepResult[O]:
        """Applies one action and returns the result.

        ``action`` is the environment's Action message or a dict of its fields
        (proto JSON names or field names); keyword arguments build one too:
        ``env.step(message="hi")``. ``on_partial(observation, progress)`` is called
        with each partial observation sent before the result of a long step.
        """
        request = service_pb2.StepRequest()
        request.action.Pack(self._action(action, fields))
        callback = None
        if on_partial is not None:
            partial_type = self.partial_type

            def callback(p: service_pb2.PartialObservation) -> None:
                message = partial_type()
                p.observation.Unpack(message)
                on_partial(message, p.progress if p.HasField("progress") else None)

        return self._result(self._send(request, timeout, callback))

    def state(self) -> S:
        """The session's typed State message."""
        reply = self._send(service_pb2.StepRequest(state=service_pb2.StateRequest()), None, None)
        if reply.WhichOneof("kind") != "state":
            raise InternalError(grpc.StatusCode.INTERNAL, f"expected a state reply, got {reply.WhichOneof('kind')}")
        return self._unpack(self.state_type, reply.state.state)  # type: ignore[return-value]

    def close(self, timeout: float = 5.0) -> None:
        """Ends the session (half-closing the stream) and releases the connection. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            stream, self._stream = self._stream, None
            try:
                if stream is not None and not stream.broken:
                    stream.close(timeout)
                elif self._session_id is not None:
                    try:
                        self.stub.CloseSession(
                            service_pb2.CloseSessionRequest(session_id=self._session_id),
                            timeout=timeout,
                            metadata=self._metadata or None,
                        )
                    except grpc.RpcError:
                        pass  # the session is gone already, or the server is: nothing left to free
            finally:
                self._release()

    def __enter__(self) -> "EnvClient[A, O, S]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------

    def _release(self) -> None:
        if self._own_channel:
            self._channel.close()

    def _verify(self, given: Mapping[str, Optional[type]]) -> None:
        assert self.info is not None
        served = {"action": self.info.action_type, "observation": self.info.observation_type, "state": self.info.state_type}
        wrong = [
            f"{role}: {cls.DESCRIPTOR.full_name} (server: {served[role]})"
            for role, cls in given.items()
            if cls is not None and cls.DESCRIPTOR.full_name != served[role]
        ]
        if wrong:
            raise FailedPreconditionError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"the server at {self.url} serves other message types: {'; '.join(wrong)}",
            )

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

    def _send(
        self,
        request: service_pb2.StepRequest,
        timeout: Optional[float],
        on_partial: Optional[Callable[[service_pb2.PartialObservation], None]],
    ) -> service_pb2.StepResponse:
        with self._lock:
            if self._closed:
                raise FailedPreconditionError(grpc.StatusCode.FAILED_PRECONDITION, "the client is closed")
            request.request_id = f"{self._prefix}-{next(self._ids)}"
            seconds = timeout if timeout is not None else self._step_timeout
            if seconds is not None and request.WhichOneof("command") != "state":
                request.timeout.FromNanoseconds(int(seconds * 1e9))
            stream = self._stream
            if stream is None or stream.broken:
                stream = _StepStream(self.stub, self._metadata)
                self._stream = stream
                if self._session_id is not None:
                    # A new stream (the first, or one after a break) attaches the session it serves.
                    request.session_id = self._session_id
            reply = stream.request(request, on_partial)
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
            metadata=_struct_to_dict(r.metadata) if r.HasField("metadata") else {},
            reward_components=dict(r.reward_components),
            step_count=r.step_count,
            episode_id=r.episode_id,
        )


def _struct_to_dict(struct: struct_pb2.Struct) -> Dict[str, Any]:
    return json_format.MessageToDict(struct)


__all__ = ["ActionLike", "EnvClient", "StepResult", "grpc_target"]
