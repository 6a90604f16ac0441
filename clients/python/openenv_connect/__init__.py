"""openenv_connect: a typed Python client of OpenEnv environments served by openenv-connect.

The message classes are generated from the project's ``.proto`` contract
(``clients/python/gen``, importable as ``openenv.v1`` and ``openenv.envs.*.v1``
once this package is imported). Runtime: ``grpcio`` and ``protobuf`` only.

    import openenv_connect
    from openenv.envs.echo.v1 import echo_pb2

    with openenv_connect.EnvClient("http://127.0.0.1:8000") as env:
        env.reset(seed=1)
        result = env.step(echo_pb2.EchoAction(message="hi"))
        print(result.observation.echoed_message, result.reward)

``AsyncEnvClient`` is the asyncio twin (``async with``, ``await env.step(...)``).
"""

from . import errors
from ._core import StepResult, grpc_target
from ._generated import GENERATED_ROOT, service_pb2, service_pb2_grpc
from .aio import AsyncEnvClient
from .client import EnvClient
from .errors import (
    AbortedError,
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    OpenEnvError,
    ResourceExhaustedError,
    UnavailableError,
    from_rpc_error,
)
from .policies import random_action, random_policy
from .rollout import Episode, rollout, rollout_async
from .schemas import message_classes
from .server_process import ServerProcess, serve_process

__all__ = [
    "GENERATED_ROOT",
    "AbortedError",
    "AsyncEnvClient",
    "DeadlineExceededError",
    "EnvClient",
    "Episode",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "OpenEnvError",
    "ResourceExhaustedError",
    "ServerProcess",
    "StepResult",
    "UnavailableError",
    "errors",
    "from_rpc_error",
    "grpc_target",
    "message_classes",
    "random_action",
    "random_policy",
    "rollout",
    "rollout_async",
    "serve_process",
    "service_pb2",
    "service_pb2_grpc",
]
