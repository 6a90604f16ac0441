"""AsyncEnvClient: the asyncio twin of EnvClient, over grpc.aio.

OpenEnv's own Python client is async-first; this one gives the same shape
(``async with``, ``await env.reset()``, ``await env.step(...)``). It also skips
the thread hand-offs of grpcio's blocking streaming API, which makes it the
faster of the two for sequential steps.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Mapping, Optional, Sequence, Tuple, Type

import grpc
import grpc.aio
from google.protobuf.message import Message

from ._core import A, ActionLike, ClientCore, O, PartialCallback, S, StepResult, grpc_target
from ._generated import service_pb2, service_pb2_grpc
from .errors import UnavailableError, from_rpc_error


class AsyncEnvClient(ClientCore[A, O, S]):
    """A typed asyncio client of one environment session, over one bidirectional ``Step`` stream.

    Example::

        async with AsyncEnvClient("http://127.0.0.1:8000") as env:
            await env.reset(seed=1)
            result = await env.step(message="hi")
            print(result.observation.echoed_message)

    Same arguments as :class:`openenv_connect.EnvClient` (``channel`` is a
    ``grpc.aio.Channel``). Nothing connects until ``connect()``, ``async with``
    or the first call. Create and use it on one event loop. Concurrent calls
    on one client are serialised; run several clients for parallel sessions.
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
        channel: Optional[grpc.aio.Channel] = None,
        rpc_timeout: float = 30.0,
    ) -> None:
        super().__init__(url, action, observation, state, partial, session_id, step_timeout, metadata, verify, rpc_timeout)
        self._channel = channel
        self._own_channel = channel is None
        self._stub: Optional[service_pb2_grpc.EnvironmentServiceStub] = None
        self._call: Optional[grpc.aio.StreamStreamCall] = None
        self._lock: Optional[asyncio.Lock] = None
        self._connected = False

    @property
    def stub(self) -> service_pb2_grpc.EnvironmentServiceStub:
        """The generated stub on the grpc.aio channel (after ``connect()``); its calls are awaitable."""
        if self._stub is None:
            # grpc.aio binds a channel to the running loop, so it is made here, not in __init__.
            if self._channel is None:
                target, secure = grpc_target(self.url)
                self._channel = (
                    grpc.aio.secure_channel(target, grpc.ssl_channel_credentials()) if secure else grpc.aio.insecure_channel(target)
                )
            self._stub = service_pb2_grpc.EnvironmentServiceStub(self._channel)
        return self._stub

    async def connect(self) -> "AsyncEnvClient[A, O, S]":
        """Reads the server's Describe (when needed) to check or learn the message classes."""
        if not self._connected:
            self._lock = self._lock or asyncio.Lock()
            if self._needs_describe():
                try:
                    self._adopt(await self.describe())
                except BaseException:
                    await self._release()
                    raise
            self._connected = True
        return self

    async def describe(self) -> service_pb2.DescribeResponse:
        """The server's description: metadata, message types and descriptors, limits, capabilities."""
        try:
            return await self.stub.Describe(service_pb2.DescribeRequest(), timeout=self._rpc_timeout, metadata=self._call_metadata())
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    async def reset(
        self,
        seed: Optional[int] = None,
        *,
        episode_id: Optional[str] = None,
        options: Optional[Mapping[str, Any]] = None,
        timeout: Optional[float] = None,
    ) -> StepResult[O]:
        """Starts a new episode (opening a session on the first call) and returns its first observation."""
        await self.connect()
        return self._result(await self._send(self._reset_request(seed, episode_id, options), timeout, None))

    async def step(
        self,
        action: Optional[ActionLike[A]] = None,
        *,
        timeout: Optional[float] = None,
        on_partial: Optional[PartialCallback] = None,
        **fields: Any,
    ) -> StepResult[O]:
        """Applies one action (a message, a dict of its fields, or keyword arguments) and returns the result."""
        await self.connect()
        request = self._step_request(action, fields)
        return self._result(await self._send(request, timeout, self._partial_callback(on_partial)))

    async def state(self) -> S:
        """The session's typed State message."""
        await self.connect()
        return self._state(await self._send(service_pb2.StepRequest(state=service_pb2.StateRequest()), None, None))

    async def close(self, timeout: float = 5.0) -> None:
        """Ends the session (half-closing the stream) and releases the connection. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        call, self._call = self._call, None
        try:
            if call is not None and not call.done():
                await call.done_writing()
                try:
                    await asyncio.wait_for(_drain(call), timeout)
                except (asyncio.TimeoutError, grpc.RpcError):
                    call.cancel()
            elif self._session_id is not None and self._stub is not None:
                try:
                    request = service_pb2.CloseSessionRequest(session_id=self._session_id)
                    await self._stub.CloseSession(request, timeout=timeout, metadata=self._call_metadata())
                except grpc.RpcError:
                    pass  # the session is gone already, or the server is: nothing left to free
        finally:
            await self._release()

    async def __aenter__(self) -> "AsyncEnvClient[A, O, S]":
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _release(self) -> None:
        if self._own_channel and self._channel is not None:
            await self._channel.close()

    async def _send(
        self,
        request: service_pb2.StepRequest,
        timeout: Optional[float],
        on_partial: Optional[Callable[[service_pb2.PartialObservation], None]],
    ) -> service_pb2.StepResponse:
        assert self._lock is not None
        async with self._lock:
            call = self._call
            new_stream = call is None or call.done()
            self._prepare(request, timeout, new_stream)
            if call is None or new_stream:
                call = self.stub.Step(metadata=self._call_metadata())
                self._call = call
            try:
                await call.write(request)
                while True:
                    reply = await call.read()
                    if reply is grpc.aio.EOF:
                        raise UnavailableError(grpc.StatusCode.UNAVAILABLE, "the server ended the Step stream")
                    if reply.request_id != request.request_id:
                        continue  # a late reply to an abandoned (e.g. cancelled) request
                    if reply.WhichOneof("kind") == "partial":
                        if on_partial is not None:
                            on_partial(reply.partial)
                        continue
                    return self._settle(reply)
            except grpc.RpcError as err:
                raise from_rpc_error(err) from None
            except asyncio.InvalidStateError:
                # write() on a call that has just finished
                raise UnavailableError(grpc.StatusCode.UNAVAILABLE, "the Step stream has ended") from None


async def _drain(call: grpc.aio.StreamStreamCall) -> None:
    while await call.read() is not grpc.aio.EOF:
        pass


__all__ = ["AsyncEnvClient"]
