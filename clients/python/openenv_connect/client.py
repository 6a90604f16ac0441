"""EnvClient: a typed, blocking client of one environment session over gRPC."""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Tuple, Type

import grpc
from google.protobuf.message import Message

from ._core import A, ActionLike, ClientCore, O, PartialCallback, S, StepResult, grpc_target
from ._generated import service_pb2, service_pb2_grpc
from .errors import UnavailableError, from_rpc_error

_END = object()


class _StepStream:
    """One bidirectional Step call; requests go in through a queue, replies are read in order."""

    def __init__(self, stub: service_pb2_grpc.EnvironmentServiceStub, metadata: Optional[Sequence[Tuple[str, str]]]) -> None:
        self._requests: "queue.SimpleQueue[object]" = queue.SimpleQueue()
        self._call = stub.Step(self._outgoing(), metadata=metadata)
        self._finished = threading.Event()
        self._call.add_done_callback(lambda _call: self._finished.set())
        self._broken = False

    @property
    def broken(self) -> bool:
        """True once the call has ended (an error, the server ending it, or a cancel)."""
        return self._broken or self._finished.is_set()

    def _outgoing(self) -> Iterator[service_pb2.StepRequest]:
        # grpcio pulls this iterator from a thread of its own.
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
            self._broken = True
            raise from_rpc_error(err) from None
        self._broken = True
        raise UnavailableError(grpc.StatusCode.UNAVAILABLE, "the server ended the Step stream")

    def abandon(self) -> None:
        """Releases the thread grpcio feeds the call from (it blocks on the queue until told to stop)."""
        self._requests.put(_END)

    def close(self, timeout: float) -> None:
        """Half-closes the stream (the server then ends the session) and waits for the call to finish."""
        self._requests.put(_END)
        if not self._finished.wait(timeout):
            self._call.cancel()


class EnvClient(ClientCore[A, O, S]):
    """A typed, blocking client of one environment session, over one bidirectional ``Step`` stream.

    Example::

        from openenv.envs.echo.v1 import echo_pb2
        with EnvClient("http://127.0.0.1:8000", action=echo_pb2.EchoAction,
                       observation=echo_pb2.EchoObservation, state=echo_pb2.EchoState) as env:
            env.reset(seed=1)
            result = env.step(echo_pb2.EchoAction(message="hi"))
            print(result.observation.echoed_message, result.reward)

    Without the message classes, the client learns them from the server's
    Describe (the generated classes when importable, else classes built from
    the descriptors the server sends). Calls from several threads are
    serialised. For asyncio, use :class:`openenv_connect.AsyncEnvClient`.

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
        action: Optional[Type[A]] = None,
        observation: Optional[Type[O]] = None,
        state: Optional[Type[S]] = None,
        partial: Optional[Type[Message]] = None,
        session_id: Optional[str] = None,
        step_timeout: Optional[float] = None,
        metadata: Sequence[Tuple[str, str]] = (),
        verify: bool = True,
        channel: Optional[grpc.Channel] = None,
        rpc_timeout: float = 30.0,
    ) -> None:
        super().__init__(url, action, observation, state, partial, session_id, step_timeout, metadata, verify, rpc_timeout)
        self._own_channel = channel is None
        if channel is None:
            target, secure = grpc_target(url)
            channel = grpc.secure_channel(target, grpc.ssl_channel_credentials()) if secure else grpc.insecure_channel(target)
        self._channel = channel
        #: The generated gRPC stub, for calls this class does not wrap (errors: see ``errors.from_rpc_error``).
        self.stub = service_pb2_grpc.EnvironmentServiceStub(channel)
        self._stream: Optional[_StepStream] = None
        self._lock = threading.Lock()
        if self._needs_describe():
            try:
                self._adopt(self.describe())
            except BaseException:
                self._release()
                raise

    def describe(self) -> service_pb2.DescribeResponse:
        """The server's description: metadata, message types and descriptors, limits, capabilities."""
        try:
            return self.stub.Describe(service_pb2.DescribeRequest(), timeout=self._rpc_timeout, metadata=self._call_metadata())
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
        return self._result(self._send(self._reset_request(seed, episode_id, options), timeout, None))

    def step(
        self,
        action: Optional[ActionLike[A]] = None,
        *,
        timeout: Optional[float] = None,
        on_partial: Optional[PartialCallback] = None,
        **fields: Any,
    ) -> StepResult[O]:
        """Applies one action and returns the result.

        ``action`` is the environment's Action message or a dict of its fields
        (proto JSON names or field names); keyword arguments build one too:
        ``env.step(message="hi")``. ``on_partial(observation, progress)`` is called
        with each partial observation sent before the result of a long step.
        """
        request = self._step_request(action, fields)
        return self._result(self._send(request, timeout, self._partial_callback(on_partial)))

    def state(self) -> S:
        """The session's typed State message."""
        return self._state(self._send(service_pb2.StepRequest(state=service_pb2.StateRequest()), None, None))

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
                    return
                if stream is not None:
                    stream.abandon()
                if self._session_id is not None:
                    try:
                        request = service_pb2.CloseSessionRequest(session_id=self._session_id)
                        self.stub.CloseSession(request, timeout=timeout, metadata=self._call_metadata())
                    except grpc.RpcError:
                        pass  # the session is gone already, or the server is: nothing left to free
            finally:
                self._release()

    def __enter__(self) -> "EnvClient[A, O, S]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _release(self) -> None:
        if self._own_channel:
            self._channel.close()

    def _send(
        self,
        request: service_pb2.StepRequest,
        timeout: Optional[float],
        on_partial: Optional[Callable[[service_pb2.PartialObservation], None]],
    ) -> service_pb2.StepResponse:
        with self._lock:
            stream = self._stream
            new_stream = stream is None or stream.broken
            self._prepare(request, timeout, new_stream)
            if stream is None or new_stream:
                if stream is not None:
                    stream.abandon()
                stream = _StepStream(self.stub, self._call_metadata())
                self._stream = stream
            return self._settle(stream.request(request, on_partial))


__all__ = ["ActionLike", "EnvClient", "StepResult", "grpc_target"]
