"""Finds the message classes of an environment from the server's Describe answer.

Describe names the Action, Observation and State messages and carries their
descriptors. When the environment's generated module is importable (it is for
every proto in this repository: ``clients/python/gen``), the client uses its
classes, so observations are instances of e.g. ``echo_pb2.EchoObservation``.
Otherwise it builds equivalent classes from the descriptors, so a client works
against an environment it has no generated code for.
"""

from __future__ import annotations

import importlib
from typing import Dict, Iterable, List, Optional

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

from ._generated import service_pb2


def generated_class(file: descriptor_pb2.FileDescriptorProto, full_name: str) -> Optional[type]:
    """The generated class of ``full_name`` from the module protoc generates for ``file``, if importable."""
    module_name = file.name[: -len(".proto")].replace("/", ".") + "_pb2"
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    relative = full_name[len(file.package) + 1 :] if file.package else full_name
    found: object = module
    for part in relative.split("."):
        found = getattr(found, part, None)
        if found is None:
            return None
    return found if isinstance(found, type) and issubclass(found, Message) else None


def _file_defining(files: Iterable[descriptor_pb2.FileDescriptorProto], full_name: str) -> Optional[descriptor_pb2.FileDescriptorProto]:
    for file in files:
        prefix = f"{file.package}." if file.package else ""
        if not full_name.startswith(prefix):
            continue
        top = full_name[len(prefix) :].split(".")[0]
        if any(message.name == top for message in file.message_type):
            return file
    return None


class _DynamicClasses:
    """Classes built from a FileDescriptorSet in a private pool (never the default one)."""

    def __init__(self, files: List[descriptor_pb2.FileDescriptorProto]) -> None:
        self._pool = descriptor_pool.DescriptorPool()
        by_name = {file.name: file for file in files}
        added: Dict[str, bool] = {}

        def add(name: str) -> None:
            if added.get(name):
                return
            added[name] = True
            file = by_name.get(name)
            if file is None:
                return
            for dependency in file.dependency:
                add(dependency)
            self._pool.Add(file)

        for file in files:
            add(file.name)

    def get(self, full_name: str) -> type:
        descriptor = self._pool.FindMessageTypeByName(full_name)
        get_class = getattr(message_factory, "GetMessageClass", None)
        if get_class is not None:  # protobuf >= 4.22
            return get_class(descriptor)
        return message_factory.MessageFactory(self._pool).GetPrototype(descriptor)


def message_classes(info: service_pb2.DescribeResponse, prefer_generated: bool = True) -> Dict[str, Optional[type]]:
    """The action, observation, state and partial classes named by a Describe answer.

    Returns a dict with keys ``action``, ``observation``, ``state`` and ``partial``
    (None when the environment sends no partial observations).
    """
    files = list(info.descriptors.file)
    dynamic: Optional[_DynamicClasses] = None

    def resolve(full_name: str) -> type:
        nonlocal dynamic
        if prefer_generated:
            file = _file_defining(files, full_name)
            found = generated_class(file, full_name) if file is not None else None
            if found is not None:
                return found
        if dynamic is None:
            dynamic = _DynamicClasses(files)
        return dynamic.get(full_name)

    return {
        "action": resolve(info.action_type),
        "observation": resolve(info.observation_type),
        "state": resolve(info.state_type),
        "partial": resolve(info.partial_type) if info.partial_type else None,
    }
