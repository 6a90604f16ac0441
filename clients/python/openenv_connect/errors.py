"""Errors of the OpenEnv service as Python exceptions, one class per gRPC status code.

The server reports failures two ways, and both end up here:

* as the gRPC status of a call (``grpc.RpcError``), with typed details in the
  ``grpc-status-details-bin`` trailer (a ``google.rpc.Status``);
* in-band on the Step stream, as ``StepResponse.error`` (a ``StepError``),
  which leaves the stream usable.

``StepError`` has the same fields and numbers as ``google.rpc.Status`` (code,
message, details), so one decoder reads both.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Type

import grpc
from google.protobuf import any_pb2

from ._generated import service_pb2

_STATUS_DETAILS_KEY = "grpc-status-details-bin"
_CODES_BY_VALUE: Dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}


class OpenEnvError(Exception):
    """A failed call to an OpenEnv server.

    Attributes:
        code: the gRPC status code, e.g. ``grpc.StatusCode.INVALID_ARGUMENT``.
        message: the server's message (it names the field, when there is one).
        details: typed details (``google.protobuf.Any``), e.g. ``CapacityInfo``.
    """

    #: The status code this class stands for (the base class: any).
    status_code: Optional[grpc.StatusCode] = None

    def __init__(self, code: grpc.StatusCode, message: str, details: Sequence[any_pb2.Any] = ()) -> None:
        super().__init__(f"[{code.name}] {message}")
        self.code = code
        self.message = message
        self.details: List[any_pb2.Any] = list(details)

    def find_detail(self, message_class: type) -> Optional[object]:
        """Returns the first detail of the given generated message class, decoded, or None."""
        for detail in self.details:
            instance = message_class()
            if detail.Is(instance.DESCRIPTOR):
                detail.Unpack(instance)
                return instance
        return None


class CancelledError(OpenEnvError):
    """CANCELLED: the call was cancelled, usually by the caller."""

    status_code = grpc.StatusCode.CANCELLED


class UnknownError(OpenEnvError):
    """UNKNOWN: an error with no more specific code."""

    status_code = grpc.StatusCode.UNKNOWN


class InvalidArgumentError(OpenEnvError, ValueError):
    """INVALID_ARGUMENT: a bad request, e.g. an action of the wrong type or one that breaks a field rule."""

    status_code = grpc.StatusCode.INVALID_ARGUMENT

    @property
    def violations(self) -> List[service_pb2.FieldViolation]:
        """The violated field rules (from the ``ValidationErrors`` detail); empty when there is none."""
        found = self.find_detail(service_pb2.ValidationErrors)
        return list(found.violations) if isinstance(found, service_pb2.ValidationErrors) else []


class DeadlineExceededError(OpenEnvError, TimeoutError):
    """DEADLINE_EXCEEDED: the step or call ran past its deadline."""

    status_code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(OpenEnvError, LookupError):
    """NOT_FOUND: e.g. an unknown or expired session id."""

    status_code = grpc.StatusCode.NOT_FOUND


class AlreadyExistsError(OpenEnvError):
    """ALREADY_EXISTS."""

    status_code = grpc.StatusCode.ALREADY_EXISTS


class PermissionDeniedError(OpenEnvError):
    """PERMISSION_DENIED."""

    status_code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(OpenEnvError):
    """RESOURCE_EXHAUSTED: e.g. the server runs its maximum number of sessions."""

    status_code = grpc.StatusCode.RESOURCE_EXHAUSTED

    @property
    def capacity(self) -> Optional[service_pb2.CapacityInfo]:
        """Sessions open and allowed, when the server was at capacity (the ``CapacityInfo`` detail)."""
        found = self.find_detail(service_pb2.CapacityInfo)
        return found if isinstance(found, service_pb2.CapacityInfo) else None


class FailedPreconditionError(OpenEnvError):
    """FAILED_PRECONDITION: e.g. a step before the first reset."""

    status_code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(OpenEnvError):
    """ABORTED: e.g. another stream took over the session."""

    status_code = grpc.StatusCode.ABORTED


class OutOfRangeError(OpenEnvError):
    """OUT_OF_RANGE."""

    status_code = grpc.StatusCode.OUT_OF_RANGE


class UnimplementedError(OpenEnvError, NotImplementedError):
    """UNIMPLEMENTED: the server does not serve this method."""

    status_code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(OpenEnvError):
    """INTERNAL: the environment or the server failed."""

    status_code = grpc.StatusCode.INTERNAL


class UnavailableError(OpenEnvError, ConnectionError):
    """UNAVAILABLE: the server is down, unreachable or shutting down; the call can be retried."""

    status_code = grpc.StatusCode.UNAVAILABLE


class DataLossError(OpenEnvError):
    """DATA_LOSS."""

    status_code = grpc.StatusCode.DATA_LOSS


class UnauthenticatedError(OpenEnvError):
    """UNAUTHENTICATED: missing or bad credentials."""

    status_code = grpc.StatusCode.UNAUTHENTICATED


ERROR_CLASSES: Dict[grpc.StatusCode, Type[OpenEnvError]] = {
    cls.status_code: cls
    for cls in (
        CancelledError,
        UnknownError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
        UnauthenticatedError,
    )
    if cls.status_code is not None
}


def error_for(code: grpc.StatusCode, message: str, details: Sequence[any_pb2.Any] = ()) -> OpenEnvError:
    """Builds the exception class of a status code."""
    return ERROR_CLASSES.get(code, UnknownError)(code, message, details)


def status_code_of(value: int) -> grpc.StatusCode:
    """The ``grpc.StatusCode`` of a numeric code (unknown numbers map to UNKNOWN)."""
    return _CODES_BY_VALUE.get(value, grpc.StatusCode.UNKNOWN)


def from_step_error(error: service_pb2.StepError) -> OpenEnvError:
    """Converts the in-band error of a Step reply into its exception."""
    return error_for(status_code_of(error.code), error.message, error.details)


def from_rpc_error(error: grpc.RpcError) -> OpenEnvError:
    """Converts a failed call (``grpc.RpcError``, or ``grpc.aio.AioRpcError``) into its exception, with typed details."""
    # The blocking API's errors are grpc.Call objects, grpc.aio's are not: both have these methods.
    code_of = getattr(error, "code", None)
    details_of = getattr(error, "details", None)
    trailers_of = getattr(error, "trailing_metadata", None)
    code = code_of() if callable(code_of) else None
    message = details_of() if callable(details_of) else None
    details: Sequence[any_pb2.Any] = ()
    for key, value in (trailers_of() if callable(trailers_of) else None) or ():
        if key == _STATUS_DETAILS_KEY and isinstance(value, bytes):
            status = service_pb2.StepError.FromString(value)  # same wire shape as google.rpc.Status
            details = status.details
    return error_for(code or grpc.StatusCode.UNKNOWN, message if message is not None else str(error), details)
