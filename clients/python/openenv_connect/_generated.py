"""Makes the generated protobuf modules importable (``openenv_connect/_gen`` once installed, ``clients/python/gen`` in a checkout).

protoc's Python generator names modules after the proto package
(``openenv.v1.environment_service_pb2``) and imports them by that absolute
name, so ``gen/`` has to be an import root. OpenEnv's own distribution
(``openenv-core``) is a regular package also called ``openenv``; when it is
installed, Python resolves ``openenv`` to it and would never look in ``gen/``.
Appending our directory to that package's ``__path__`` lets both live side by
side: ``openenv.core`` from OpenEnv, ``openenv.v1`` and ``openenv.envs.*.v1``
from here.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# Installed (pip install ./clients/python): inside the package; in a checkout: clients/python/gen.
GENERATED_ROOT = _HERE / "_gen" if (_HERE / "_gen").is_dir() else _HERE.parent / "gen"


def _install() -> None:
    root = str(GENERATED_ROOT)
    if root not in sys.path:
        sys.path.append(root)
    import openenv  # ours (a namespace package) or OpenEnv's regular package

    portion = str(GENERATED_ROOT / "openenv")
    search = getattr(openenv, "__path__", None)
    if search is not None and portion not in list(search):
        search.append(portion)


_install()

from openenv.v1 import environment_service_pb2 as service_pb2  # noqa: E402
from openenv.v1 import environment_service_pb2_grpc as service_pb2_grpc  # noqa: E402
from buf.validate import validate_pb2  # noqa: E402
from openenv.v1 import options_pb2  # noqa: E402

__all__ = ["GENERATED_ROOT", "options_pb2", "service_pb2", "service_pb2_grpc", "validate_pb2"]
