"""Driver of the coding environment's persistent Python interpreter.

Three roles, in three processes (the bootstrap names the role):

supervisor  Started by the server (inside the session's sandbox). It alone holds
            the server's channel: fd 3 (commands, from the server) and fd 4
            (events, to the server). It never runs user code, and it makes
            itself non-dumpable, so code of the same user can neither read its
            memory nor open its descriptors through /proc. It starts the kernel,
            relays executions, writes the end-of-output markers (their token
            never leaves this process), and kills and restarts the kernel.
kernel      Runs the user's code with persistent globals. Its only channel is a
            socket to the supervisor; everything it sends is treated as hostile
            input there (bounded frames, checked fields).
runner      Runs an action's tests: a fork of the supervisor, so it has never
            run user code either. Tests see the session's globals through
            proxies: data (None, bool, numbers, str, bytes, and lists, tuples,
            dicts and sets of them) is copied over, anything else is a handle
            whose attribute reads, calls and operators run in the kernel. The
            verdict -- a test passes when it runs without raising -- is reached
            here, from data; the code under test can return what it likes, but
            it cannot reach the verdict, the channel or this process.

Frames everywhere: a 4-byte big-endian length, then a UTF-8 JSON body.

Server -> supervisor (fd 3): the driver's source (the bootstrap's first frame),
then {"op": "init", ...}, {"op": "exec", "seq", "code", "tests"},
{"op": "names"}, {"op": "interrupt"}, {"op": "kill"}.
Supervisor -> server (fd 4): {"ev": "ready", "version"}, {"ev": "done", ...},
{"ev": "names", "names"}, {"ev": "fatal", "message"}.

After an execution the supervisor writes a marker (a random token and the
sequence number) to fds 1 and 2 and then sends "done": the server attributes
everything before the marker to that execution, including output of
subprocesses writing to the inherited descriptors.
"""

import ast
import base64
import builtins
import io
import json
import linecache
import math
import operator
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout

CMD_FD, EVENT_FD, WATCH_FD = 3, 4, 5
RESULT_LIMIT = 10_000
TEST_OUTPUT_LIMIT = 65_536
MESSAGE_LIMIT = 10_000
# Largest frame read from a less trusted process (the kernel): anything larger is an attack.
FRAME_LIMIT = 16 * 1024 * 1024
# Containers longer than this are passed to tests as handles, not copied.
COPY_LIMIT = 100_000
COPY_DEPTH = 32

# The bootstrap of the kernel: reads the driver's source as the first frame on the fd it is given.
KERNEL_BOOTSTRAP = "\n".join(
    [
        "import os, struct, sys",
        "fd = int(sys.argv[2])",
        "def _read(n):",
        "    b = b''",
        "    while len(b) < n:",
        "        c = os.read(fd, n - len(b))",
        "        if not c: os._exit(2)",
        "        b += c",
        "    return b",
        "exec(compile(_read(struct.unpack('>I', _read(4))[0]), 'openenv-coding-driver', 'exec'), {'__name__': 'openenv_coding_driver', 'ROLE': 'kernel', 'SOURCE_FD': fd})",
    ]
)


class FrameError(Exception):
    """A peer sent something that is not a well-formed frame."""


def read_exact(fd, n):
    chunks = []
    while n > 0:
        try:
            chunk = os.read(fd, min(n, 1 << 20))
        except InterruptedError:
            continue
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd, limit=None):
    head = read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    if limit is not None and size > limit:
        raise FrameError(f"a frame of {size} bytes (the limit is {limit})")
    body = read_exact(fd, size)
    if body is None:
        return None
    try:
        message = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise FrameError(f"a frame that is not JSON ({type(exc).__name__})") from None
    if not isinstance(message, dict):
        raise FrameError("a frame that is not a JSON object")
    return message


def encode_frame(message):
    body = json.dumps(message, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    return struct.pack(">I", len(body)) + body


def write_all(fd, data):
    while data:
        try:
            written = os.write(fd, data)
        except InterruptedError:
            continue
        data = data[written:]


def send(fd, message):
    write_all(fd, encode_frame(message))


class FrameReader:
    """Incremental frames from a non-blocking descriptor, bounded: a frame over the limit is an error."""

    def __init__(self, fd, limit):
        self.fd = fd
        self.limit = limit
        self.buf = bytearray()
        self.eof = False

    def feed(self):
        """Reads what is available; returns the complete frames (raises FrameError on a bad one)."""
        try:
            data = os.read(self.fd, 1 << 20)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self.eof = True
            return []
        self.buf += data
        frames = []
        while len(self.buf) >= 4:
            (size,) = struct.unpack(">I", self.buf[:4])
            if size > self.limit:
                raise FrameError(f"a frame of {size} bytes (the limit is {self.limit})")
            if len(self.buf) < 4 + size:
                break
            body = bytes(self.buf[4 : 4 + size])
            del self.buf[: 4 + size]
            try:
                message = json.loads(body.decode("utf-8"))
            except (ValueError, RecursionError):
                raise FrameError("a frame that is not JSON") from None
            if not isinstance(message, dict):
                raise FrameError("a frame that is not a JSON object")
            frames.append(message)
        return frames


def as_text(value, limit=MESSAGE_LIMIT):
    return value[:limit] if isinstance(value, str) else ""


def as_int(value, default=0):
    return value if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31 else default


def set_non_dumpable():
    """No ptrace, /proc/<pid>/mem or /proc/<pid>/fd for processes of the same user (they hold no capabilities)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
        return True
    except Exception:  # noqa: BLE001 - no ctypes: the sandbox's other walls remain
        return False


def apply_limits(config):
    limits = {
        "RLIMIT_AS": config.get("memory_bytes"),
        "RLIMIT_CPU": config.get("cpu_seconds"),
        "RLIMIT_NPROC": config.get("max_processes"),
        "RLIMIT_FSIZE": config.get("max_file_bytes"),
        "RLIMIT_NOFILE": config.get("max_open_files"),
        "RLIMIT_CORE": 0,
    }
    for name, value in limits.items():
        which = getattr(resource, name, None)
        if which is None or value is None:
            continue
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        # Hard limits, so user code cannot raise them again. The CPU limit's
        # hard value is one second later: the soft limit sends SIGXCPU (which
        # names the cause) before the hard one's SIGKILL.
        top = value + 1 if name == "RLIMIT_CPU" and (hard == resource.RLIM_INFINITY or value < hard) else value
        resource.setrlimit(which, (value, top))


# ---------------------------------------------------------------------------
# Killing a session's processes


def group_members(pgid):
    """Live processes of a process group, from /proc; None where there is no /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                members.append(int(name))
        except (OSError, ValueError):
            continue
    return members


def kill_session(mode):
    """Kills every process of the session except the caller.

    mode "all": the caller is alone with the session in its namespace (the
    sandbox) or in its uid, so kill(-1) -- atomic with respect to fork -- reaches
    every other process, even those that left the process group. "group": only
    the caller's process group.
    """
    me = os.getpid()
    if mode == "all":
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    pgid = os.getpgid(0)

    def others():
        members = group_members(pgid)
        return None if members is None else [pid for pid in members if pid != me]

    return kill_until_gone(others)


def kill_until_gone(find):
    """SIGKILLs the processes find() returns until it returns none (a forking one may need rounds); False where it cannot see them."""
    for _ in range(100):
        pids = find()
        if pids is None:
            return False
        if not pids:
            return True
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
    return True


def start_watchdog(mode, workdir):
    """Unsandboxed only: forks a process that, when the server dies, kills the session and removes its directory."""
    pid = os.fork()
    if pid != 0:
        return pid
    try:
        for fd in (CMD_FD, EVENT_FD):
            os.close(fd)
        while True:
            try:
                if not os.read(WATCH_FD, 1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        if kill_session(mode):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
            os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(0)


# ---------------------------------------------------------------------------
# Data passed between the kernel and the runner


def encode_value(value, refs, depth=0):
    """Data as tagged JSON; anything else as a handle registered in `refs`."""
    t = type(value)
    if value is None or t is bool or t is str or t is int:
        return value
    if t is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if t is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if depth < COPY_DEPTH and t in (list, tuple, set, frozenset, dict) and len(value) <= COPY_LIMIT:
        if t is list:
            return [encode_value(v, refs, depth + 1) for v in value]
        if t is dict:
            return {"$dict": [[encode_value(k, refs, depth + 1), encode_value(v, refs, depth + 1)] for k, v in value.items()]}
        return {"$" + t.__name__: [encode_value(v, refs, depth + 1) for v in value]}
    ref = id(value)
    refs[ref] = value
    return {"$ref": ref, "$type": t.__name__}


def decode_value(data, resolve, depth=0):
    """Tagged JSON back to data; handles through `resolve(ref, type_name)`."""
    if depth > COPY_DEPTH + 2:
        raise ValueError("value nested too deeply")
    if data is None or isinstance(data, (bool, int, str)):
        return data
    if isinstance(data, float):
        return data
    if isinstance(data, list):
        return [decode_value(v, resolve, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) == 0:
        raise ValueError("malformed value")
    if "$ref" in data:
        return resolve(data["$ref"], data.get("$type"))
    if "$float" in data:
        return float(data["$float"])
    if "$bytes" in data:
        return base64.b64decode(data["$bytes"])
    if "$dict" in data:
        return {decode_value(k, resolve, depth + 1): decode_value(v, resolve, depth + 1) for k, v in data["$dict"]}
    for tag, make in (("$tuple", tuple), ("$set", set), ("$frozenset", frozenset)):
        if tag in data:
            return make(decode_value(v, resolve, depth + 1) for v in data[tag])
    raise ValueError("malformed value")


def describe_error(exc):
    return {
        "type": type(exc).__name__,
        "message": str(exc)[:MESSAGE_LIMIT],
        "builtin": isinstance(getattr(builtins, type(exc).__name__, None), type)
        and getattr(builtins, type(exc).__name__) is type(exc),
    }


# ---------------------------------------------------------------------------
# Kernel

# The interrupt handler raises only while user code runs, so a late SIGINT
# (sent at a step's timeout just as it finished) cannot break the kernel.
_active = False


def _on_sigint(signum, frame):
    if _active:
        raise KeyboardInterrupt


def _strip_driver_frames(te):
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename != "openenv-coding-driver"])
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _strip_driver_frames(chained)


def user_traceback(exc):
    """The traceback of an exception raised by user code, without the driver's frames."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    _strip_driver_frames(te)
    return "".join(te.format())


def safe_repr(value):
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a broken __repr__ must not break the driver
        text = f"<repr failed: {type(exc).__name__}: {exc}>"
    return text if len(text) <= RESULT_LIMIT else text[:RESULT_LIMIT] + "..."


def error_outcome(exc, exit_code=1):
    sys.stderr.write(user_traceback(exc))
    return {"exit_code": exit_code, "error_name": type(exc).__name__, "error_message": str(exc)[:RESULT_LIMIT], "result": ""}


def flush_std():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - user code may have replaced or closed them
            pass


class Kernel:
    def __init__(self, sock_fd):
        self.fd = sock_fd
        self.pid = os.getpid()
        self.globals = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None}
        self.count = 0
        self.refs = {}

    def guarded(self, fn):
        """Runs user code with interrupts enabled; re-raises KeyboardInterrupt."""
        global _active
        _active = True
        try:
            return fn()
        finally:
            _active = False
            self.exit_if_forked()

    def exit_if_forked(self):
        """A process forked by user code that returns from it must not go on as a second kernel."""
        if os.getpid() != self.pid:
            flush_std()
            os._exit(0)

    def run_cell(self, code):
        self.count += 1
        filename = f"<cell-{self.count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            tree = ast.parse(code, filename, "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            return {"exit_code": 1, "error_name": type(exc).__name__, "error_message": str(exc), "result": ""}
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        try:

            def run():
                exec(compile(tree, filename, "exec"), self.globals)
                return eval(compile(last, filename, "eval"), self.globals) if last is not None else None

            value = self.guarded(run)
        except SystemExit as exc:
            code = exc.code
            if code is None:
                return {"exit_code": 0, "error_name": "", "error_message": "", "result": ""}
            if isinstance(code, int):
                return {"exit_code": code, "error_name": "SystemExit", "error_message": str(code), "result": ""}
            sys.stderr.write(f"{code}\n")
            return {"exit_code": 1, "error_name": "SystemExit", "error_message": str(code), "result": ""}
        except KeyboardInterrupt as exc:
            return error_outcome(exc, 130)
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything
            return error_outcome(exc)
        return {"exit_code": 0, "error_name": "", "error_message": "", "result": "" if value is None else safe_repr(value)}

    def reply(self, message):
        try:
            send(self.fd, message)
        except OSError:
            os._exit(0)

    def serve(self):
        while True:
            try:
                message = read_frame(self.fd, FRAME_LIMIT)
            except KeyboardInterrupt:
                continue
            except FrameError:
                os._exit(3)
            if message is None:
                os._exit(0)
            op = message.get("op")
            try:
                if op == "exec":
                    outcome = self.execute(message)
                    flush_std()
                    self.reply({"ev": "ran", "seq": message.get("seq"), **outcome})
                elif op == "names":
                    names = sorted(k for k in self.globals if isinstance(k, str) and not k.startswith("_"))
                    self.reply({"ev": "names", "names": names})
                elif op == "rpc":
                    self.reply(self.rpc(message))
                elif op == "release":
                    self.refs.clear()
            except KeyboardInterrupt:
                continue

    def execute(self, message):
        try:
            return self.run_cell(message.get("code", "") if isinstance(message.get("code"), str) else "")
        except KeyboardInterrupt as exc:
            return error_outcome(exc, 130)

    def resolve(self, ref, _type):
        if ref not in self.refs:
            raise LookupError("the object is gone")
        return self.refs[ref]

    def rpc(self, message):
        rid = message.get("id")
        try:
            args = [decode_value(a, self.resolve) for a in message.get("args", [])]
            result = self.guarded(lambda: self.rpc_op(message.get("kind"), args, message))
            body = {"id": rid, "value": encode_value(result, self.refs)}
            if len(encode_frame(body)) > FRAME_LIMIT:
                raise ValueError("the value is too large to pass to a test")
            return body
        except StopIteration:
            return {"id": rid, "error": {"type": "StopIteration", "message": "", "builtin": True}}
        except KeyboardInterrupt:
            return {"id": rid, "error": {"type": "KeyboardInterrupt", "message": "", "builtin": True}}
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything
            return {"id": rid, "error": describe_error(exc)}

    def rpc_op(self, kind, args, message):
        name = message.get("name")
        if kind == "globals":
            return {k: v for k, v in self.globals.items() if k != "__builtins__"}
        if kind == "getattr":
            return getattr(args[0], name)
        if kind == "setattr":
            return setattr(args[0], name, args[1])
        if kind == "delattr":
            return delattr(args[0], name)
        if kind == "call":
            kwargs = decode_value(message.get("kwargs", {"$dict": []}), self.resolve)
            return args[0](*args[1:], **kwargs)
        if kind == "method":
            return getattr(type(args[0]), name)(*args)
        if kind == "binop":
            return getattr(operator, name)(args[0], args[1])
        if kind == "unop":
            return {"len": len, "bool": bool, "iter": iter, "next": next, "repr": repr, "str": str, "hash": hash}.get(
                name, getattr(operator, name, None) or getattr(builtins, name)
            )(args[0])
        if kind == "contains":
            return args[1] in args[0]
        if kind == "isinstance":
            return isinstance(args[0], args[1])
        if kind == "issubclass":
            return issubclass(args[0], args[1])
        raise ValueError(f"unknown request {kind!r}")


def kernel_main():
    fd = SOURCE_FD  # noqa: F821 - set by the bootstrap
    config = read_frame(fd, FRAME_LIMIT)
    if config is None:
        os._exit(2)
    os.set_inheritable(fd, False)
    sys.argv = [""]
    signal.signal(signal.SIGINT, _on_sigint)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    try:
        os.setpgid(0, 0) if config.get("own_group") else None
    except OSError:
        pass
    if config.get("seed") is not None:
        import random

        random.seed(config["seed"])
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # the memory limit takes the kernel (and what it starts) first, never the supervisor
    except OSError:
        pass
    apply_limits(config)
    kernel = Kernel(fd)
    send(fd, {"ev": "ready", "version": "%d.%d.%d" % sys.version_info[:3]})
    kernel.serve()


# ---------------------------------------------------------------------------
# Runner (a fork of the supervisor): tests against the kernel, through proxies


class RemoteError(Exception):
    """An exception raised in the session's code that has no built-in equivalent."""


_remote_errors = {}


class Runner:
    def __init__(self, fd):
        self.fd = fd
        self.next_id = 0

    def call(self, kind, *args, **fields):
        self.next_id += 1
        rid = self.next_id
        message = {"op": "rpc", "id": rid, "kind": kind, "args": [self.encode(a) for a in args], **fields}
        send(self.fd, message)
        while True:
            reply = read_frame(self.fd, FRAME_LIMIT)
            if reply is None:
                raise RuntimeError("the interpreter died while the tests ran")
            if reply.get("id") == rid:
                break
        error = reply.get("error")
        if isinstance(error, dict):
            raise self.exception(error)
        return decode_value(reply.get("value"), self.proxy)

    def encode(self, value, depth=0):
        if isinstance(value, Remote):
            return {"$ref": object.__getattribute__(value, "_ref")}
        t = type(value)
        if value is None or t in (bool, int, str):
            return value
        if t is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if t is bytes:
            return {"$bytes": base64.b64encode(value).decode("ascii")}
        if depth < COPY_DEPTH:
            if t is list:
                return [self.encode(v, depth + 1) for v in value]
            if t is dict:
                return {"$dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
            if t in (tuple, set, frozenset):
                return {"$" + t.__name__: [self.encode(v, depth + 1) for v in value]}
        raise TypeError(
            f"a test can pass data and the session's own objects to the session's code, not a {t.__name__}"
        )

    def exception(self, error):
        name = as_text(error.get("type"), 200) or "Exception"
        message = as_text(error.get("message"))
        if name == "KeyboardInterrupt":
            return KeyboardInterrupt()
        builtin = getattr(builtins, name, None)
        if error.get("builtin") is True and isinstance(builtin, type) and issubclass(builtin, BaseException):
            try:
                return builtin(message) if message else builtin()
            except Exception:  # noqa: BLE001 - exception types with other signatures
                pass
        if name not in _remote_errors:
            _remote_errors[name] = type(name, (RemoteError,), {})
        return _remote_errors[name](message)

    def proxy(self, ref, type_name):
        if not isinstance(ref, int):
            raise ValueError("malformed handle")
        return Remote(self, ref, as_text(type_name, 200))


def _binop(name, reflected=False):
    def op(self, other):
        runner = object.__getattribute__(self, "_runner")
        return runner.call("binop", other, self, name=name) if reflected else runner.call("binop", self, other, name=name)

    return op


def _unop(name):
    def op(self):
        return object.__getattribute__(self, "_runner").call("unop", self, name=name)

    return op


class Remote:
    """A handle on an object of the session (its methods and operators run in the kernel)."""

    __slots__ = ("_runner", "_ref", "_type")

    def __init__(self, runner, ref, type_name):
        object.__setattr__(self, "_runner", runner)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_type", type_name)

    def _call(self, kind, *args, **fields):
        return object.__getattribute__(self, "_runner").call(kind, self, *args, **fields)

    def __getattr__(self, name):
        return self._call("getattr", name=name)

    def __setattr__(self, name, value):
        self._call("setattr", value, name=name)

    def __delattr__(self, name):
        self._call("delattr", name=name)

    def __call__(self, *args, **kwargs):
        runner = object.__getattribute__(self, "_runner")
        return runner.call("call", self, *args, kwargs=runner.encode(kwargs))

    def __getitem__(self, key):
        return self._call("binop", key, name="getitem")

    def __setitem__(self, key, value):
        object.__getattribute__(self, "_runner").call("method", self, key, value, name="__setitem__")

    def __delitem__(self, key):
        self._call("binop", key, name="delitem")

    def __contains__(self, item):
        return self._call("contains", item)

    def __iter__(self):
        return self._call("unop", name="iter")

    def __next__(self):
        return self._call("unop", name="next")

    def __instancecheck__(self, instance):
        return object.__getattribute__(self, "_runner").call("isinstance", instance, self)

    def __subclasscheck__(self, cls):
        return object.__getattribute__(self, "_runner").call("issubclass", cls, self)

    def __enter__(self):
        return self._call("method", name="__enter__")

    def __exit__(self, *exc):
        return self._call("method", None, None, None, name="__exit__")


for _name in ("len", "bool", "repr", "str", "hash", "neg", "pos", "abs", "invert", "index"):
    setattr(Remote, f"__{_name}__", _unop(_name))
for _name in ("int", "float", "complex"):
    setattr(Remote, f"__{_name}__", _unop(_name))
for _name in ("eq", "ne", "lt", "le", "gt", "ge"):
    setattr(Remote, f"__{_name}__", _binop(_name))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lshift", "rshift", "and", "or", "xor", "matmul"):
    op_name = _name + "_" if _name in ("and", "or") else _name
    setattr(Remote, f"__{_name}__", _binop(op_name))
    setattr(Remote, f"__r{_name}__", _binop(op_name, reflected=True))


def run_tests(kernel_fd, tests, result_fd):
    """The runner process: runs each test, writes the results as one frame to result_fd."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    runner = Runner(kernel_fd)
    results = []
    interrupted = False
    try:
        names = runner.call("globals")
    except KeyboardInterrupt:
        names, interrupted = None, True
    except BaseException as exc:  # noqa: BLE001
        names = None
        failure = f"not run: the session's globals could not be read ({type(exc).__name__}: {exc})"
    for i, test in enumerate(tests):
        name = as_text(test.get("name"), 256) or f"test_{i}"
        if names is None:
            message = "not run: the execution was interrupted" if interrupted else failure
            results.append({"name": name, "passed": False, "message": message, "output": ""})
            continue
        code = test.get("code", "") if isinstance(test.get("code"), str) else ""
        filename = f"<test-{name}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        namespace = {**names, "__builtins__": builtins, "__name__": "__main__"}
        output = io.StringIO()
        try:
            with redirect_stdout(output), redirect_stderr(output):
                exec(compile(code, filename, "exec"), namespace)
            passed, message = True, ""
        except KeyboardInterrupt:
            interrupted = True
            passed, message = False, "interrupted"
        except BaseException as exc:  # noqa: BLE001
            passed = False
            message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        results.append({"name": name, "passed": passed, "message": message[:MESSAGE_LIMIT], "output": output.getvalue()[:TEST_OUTPUT_LIMIT]})
        if interrupted:
            for j, rest in enumerate(tests[i + 1 :], i + 1):
                results.append({"name": as_text(rest.get("name"), 256) or f"test_{j}", "passed": False, "message": "not run: the execution was interrupted", "output": ""})
            break
    send(result_fd, {"tests": results, "interrupted": interrupted})


# ---------------------------------------------------------------------------
# Supervisor


class Supervisor:
    def __init__(self, config, source):
        self.config = config
        self.source = source
        self.mode = "all" if config.get("kill_all") else "group"
        self.marker_prefix = b"\x00OPENENV-END:" + str(config["token"]).encode() + b":"
        self.sel = selectors.DefaultSelector()
        self.kernel = None  # subprocess.Popen
        self.kernel_fd = None
        self.kernel_reader = None
        self.kernel_ready = False
        self.restarted = False  # the kernel was replaced since the last execution
        self.runner_pid = None
        self.runner_reader = None
        self.running = None  # the execution in progress
        self.interrupting = None  # when the server asked to interrupt the running execution
        self.watchdog = None  # unsandboxed: the pid of the process that cleans up if the server dies
        self.pending_names = False
        self.cmd = FrameReader(CMD_FD, 64 * 1024 * 1024)
        os.set_blocking(CMD_FD, False)
        self.sel.register(CMD_FD, selectors.EVENT_READ, "cmd")
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")

    # -- the kernel --

    def start_kernel(self):
        parent, child = socket.socketpair()
        kernel_config = {k: self.config.get(k) for k in ("seed", "memory_bytes", "cpu_seconds", "max_processes", "max_file_bytes", "max_open_files")}
        kernel_config["own_group"] = False
        self.kernel = subprocess.Popen(
            [sys.executable, "-u", "-c", KERNEL_BOOTSTRAP, "openenv-coding-kernel", str(child.fileno())],
            stdin=subprocess.DEVNULL,
            pass_fds=(child.fileno(),),
            cwd=self.config.get("workdir") or None,
        )
        child.close()
        self.kernel_fd = parent.detach()
        write_all(self.kernel_fd, struct.pack(">I", len(self.source)) + self.source)
        send(self.kernel_fd, kernel_config)
        os.set_blocking(self.kernel_fd, False)
        self.kernel_reader = FrameReader(self.kernel_fd, FRAME_LIMIT)
        self.kernel_ready = False
        self.sel.register(self.kernel_fd, selectors.EVENT_READ, "kernel")

    def send_kernel(self, message):
        """Sends to the kernel without blocking for long: a kernel that stops reading is replaced."""
        data = encode_frame(message)
        deadline = time.time() + 5
        while data and self.kernel_fd is not None:
            try:
                data = data[os.write(self.kernel_fd, data) :]
            except (BlockingIOError, InterruptedError):
                if time.time() > deadline:
                    self.kernel_gone()
                    return
                selectors.DefaultSelector().select(timeout=0.05)
            except OSError:
                self.kernel_gone()
                return

    def drop_kernel(self):
        """Forgets the current kernel (after it died or was killed) and reaps it."""
        if self.kernel_fd is not None:
            try:
                self.sel.unregister(self.kernel_fd)
            except (KeyError, ValueError):
                pass
            os.close(self.kernel_fd)
        self.kernel_fd = None
        self.kernel_reader = None
        self.kernel_ready = False
        info = None
        if self.kernel is not None:
            try:
                self.kernel.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            rc = self.kernel.returncode
            if rc is not None:
                info = {"code": None, "signal": signal.Signals(-rc).name} if rc < 0 else {"code": rc, "signal": None}
        self.kernel = None
        return info

    def restart_kernel(self):
        """Kills everything the session started (but this process) and starts a fresh kernel."""
        self.stop_runner()
        self.kill_others()
        info = self.drop_kernel()
        self.restarted = True
        self.start_kernel()
        return info

    def kill_others(self):
        """Kills every other process of the session; unsandboxed, the watchdog was one of them: start another."""
        kill_session(self.mode)
        if self.watchdog is not None:
            try:
                os.waitpid(self.watchdog, 0)
            except ChildProcessError:
                pass
            self.watchdog = start_watchdog(self.mode, self.config["workdir"])

    def stop_runner(self):
        if self.runner_pid is not None:
            try:
                os.kill(self.runner_pid, signal.SIGKILL)
                os.waitpid(self.runner_pid, 0)
            except OSError:
                pass
            self.runner_pid = None
        if self.runner_reader is not None:
            try:
                self.sel.unregister(self.runner_reader.fd)
            except (KeyError, ValueError):
                pass
            os.close(self.runner_reader.fd)
            self.runner_reader = None

    # -- executions --

    def on_exec(self, message):
        seq = as_int(message.get("seq"), -1)
        code = message.get("code") if isinstance(message.get("code"), str) else ""
        tests = [t for t in message.get("tests") or [] if isinstance(t, dict)]
        self.running = {"seq": seq, "tests": tests, "outcome": None, "results": None, "killed": False, "died": None}
        if self.kernel_ready:
            self.send_kernel({"op": "exec", "seq": seq, "code": code})
        else:
            self.running["queued"] = code

    def on_kernel_frame(self, message):
        ev = message.get("ev")
        if ev == "ready":
            if self.kernel_ready:
                return
            self.kernel_ready = True
            run = self.running
            if run is not None and "queued" in run:
                self.send_kernel({"op": "exec", "seq": run["seq"], "code": run.pop("queued")})
        elif ev == "ran":
            run = self.running
            if run is None or run["outcome"] is not None or message.get("seq") != run["seq"] or self.runner_pid is not None:
                return  # not the answer to the running execution (user code can write to this socket)
            run["outcome"] = {
                "exit_code": as_int(message.get("exit_code"), 1),
                "error_name": as_text(message.get("error_name"), 200),
                "error_message": as_text(message.get("error_message"), RESULT_LIMIT),
                "result": as_text(message.get("result"), RESULT_LIMIT + 3),
            }
            if run["tests"] and run["outcome"]["exit_code"] == 0 and run["outcome"]["error_name"] != "KeyboardInterrupt":
                self.start_runner(run["tests"])
            else:
                self.finish()
        elif ev == "names" and self.pending_names:
            self.pending_names = False
            names = message.get("names")
            names = [n[:200] for n in names if isinstance(n, str)][:10_000] if isinstance(names, list) else []
            send(EVENT_FD, {"ev": "names", "names": names})

    def start_runner(self, tests):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                for fd in (CMD_FD, EVENT_FD, self.wake_r):
                    try:
                        os.close(fd)
                    except OSError:
                        pass
                signal.set_wakeup_fd(-1)
                os.set_blocking(self.kernel_fd, True)
                run_tests(self.kernel_fd, tests, w)
            finally:
                os._exit(0)
        os.close(w)
        os.set_blocking(r, False)
        self.runner_pid = pid
        self.runner_reader = FrameReader(r, 64 * 1024 * 1024)
        # The runner owns the kernel's socket until it is done.
        self.sel.unregister(self.kernel_fd)
        self.sel.register(r, selectors.EVENT_READ, "runner")

    def on_runner_frames(self, frames):
        run = self.running
        for message in frames:
            if run is not None and run["results"] is None:
                run["results"] = message

    def runner_done(self):
        """The runner exited (or closed its pipe): collect it and give the kernel's socket back."""
        run = self.running
        self.stop_runner()
        if self.kernel_fd is not None:
            try:
                self.sel.register(self.kernel_fd, selectors.EVENT_READ, "kernel")
            except (KeyError, ValueError):
                pass
            # Discard replies to requests the runner did not wait for.
            self.send_kernel({"op": "release"})
        if run is not None and run["results"] is None:
            run["results"] = {"tests": [], "interrupted": False, "failed": "the test runner died"}
        self.finish()

    def finish(self):
        run = self.running
        if run is None:
            return
        self.running = None
        outcome = run["outcome"] or {}
        results = run["results"] or {}
        tests = []
        raw = results.get("tests") if isinstance(results.get("tests"), list) else []
        for i, t in enumerate(run["tests"]):
            name = as_text(t.get("name"), 256) or f"test_{i}"
            got = raw[i] if i < len(raw) and isinstance(raw[i], dict) else None
            if got is not None:
                tests.append({"name": name, "passed": got.get("passed") is True, "message": as_text(got.get("message")), "output": as_text(got.get("output"), TEST_OUTPUT_LIMIT)})
            else:
                why = "not run: the execution was interrupted" if outcome.get("error_name") == "KeyboardInterrupt" else "not run: the code failed"
                if run["killed"] or run["died"] is not None:
                    why = "not run: the interpreter died"
                elif results.get("failed"):
                    why = f"not run: {results['failed']}"
                tests.append({"name": name, "passed": False, "message": why, "output": ""})
        interrupted = outcome.get("error_name") == "KeyboardInterrupt" or results.get("interrupted") is True
        if self.interrupting is not None:
            self.interrupting = None
            self.kill_kernel_forks()
        flush_std()
        marker = self.marker_prefix + str(run["seq"]).encode() + b"\x00"
        for fd in (1, 2):
            try:
                write_all(fd, marker)
            except OSError:
                pass
        done = {
            "ev": "done",
            "seq": run["seq"],
            "exit_code": outcome.get("exit_code", 1),
            "error_name": outcome.get("error_name", ""),
            "error_message": outcome.get("error_message", ""),
            "result": outcome.get("result", ""),
            "interrupted": interrupted,
            "tests": tests,
            "restarted": self.restarted,
            "killed": run["killed"],
            "died": run["died"],
        }
        self.restarted = False
        if run["killed"] or run["died"] is not None:
            self.restarted = False  # reported with this execution
            done["restarted"] = True
        send(EVENT_FD, done)

    # -- the loop --

    def on_command(self, message):
        op = message.get("op")
        if op == "exec" and self.running is None:
            self.on_exec(message)
        elif op == "names":
            if self.running is None and self.kernel_ready and self.runner_pid is None:
                self.pending_names = True
                self.send_kernel({"op": "names"})
            else:
                send(EVENT_FD, {"ev": "names", "names": []})
        elif op == "interrupt" and self.running is not None:
            self.interrupting = time.time()
            self.interrupt_group()
        elif op == "kill":
            run = self.running
            self.restart_kernel()
            if run is not None:
                run["killed"] = True
                self.finish()
        elif op == "exit":
            kill_session(self.mode)
            os._exit(0)

    def interrupt_group(self):
        """SIGINT to the session's process group: the kernel, the runner and what the code forked (this process ignores it)."""
        try:
            os.killpg(os.getpgid(0), signal.SIGINT)
        except OSError:
            pass

    def kill_kernel_forks(self):
        """Processes forked by the interrupted code (copies of the kernel) that are still running it."""
        kernel = self.kernel.pid if self.kernel is not None else None
        try:
            with open(f"/proc/{kernel}/cmdline", "rb") as f:
                cmdline = f.read()
        except (OSError, TypeError):
            return

        def forks():
            found = []
            for pid in group_members(os.getpgid(0)) or []:
                if pid in (kernel, os.getpid(), self.runner_pid):
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        if f.read() == cmdline:
                            found.append(pid)
                except OSError:
                    pass
            return found

        kill_until_gone(forks)

    def kernel_gone(self):
        """The kernel exited (or its socket broke): restart it; a running execution ends with how it died."""
        run = self.running
        self.stop_runner()
        self.kill_others()
        info = self.drop_kernel()
        self.restarted = True
        self.start_kernel()
        if run is not None:
            run["died"] = info or {"code": None, "signal": None}
            self.finish()

    def loop(self):
        while True:
            for key, _ in self.sel.select(timeout=0.1 if self.interrupting is not None else 1.0):
                tag = key.data
                if tag == "cmd":
                    try:
                        frames = self.cmd.feed()
                    except FrameError:
                        os._exit(3)
                    for message in frames:
                        self.on_command(message)
                    if self.cmd.eof:
                        # The server is gone: the sandbox dies with it; unsandboxed, clean up here.
                        kill_session(self.mode)
                        if self.config.get("watchdog"):
                            shutil.rmtree(self.config["workdir"], ignore_errors=True)
                        os._exit(0)
                elif tag == "kernel" and self.kernel_reader is not None:
                    try:
                        frames = self.kernel_reader.feed()
                    except FrameError:
                        frames = None
                    if frames is None or self.kernel_reader.eof:
                        self.kernel_gone()
                        continue
                    for message in frames:
                        self.on_kernel_frame(message)
                elif tag == "runner" and self.runner_reader is not None:
                    try:
                        self.on_runner_frames(self.runner_reader.feed())
                        if self.runner_reader.eof:
                            self.runner_done()
                    except FrameError:
                        self.runner_done()
                elif tag == "wake":
                    try:
                        os.read(self.wake_r, 4096)
                    except OSError:
                        pass
            self.check_children()
            # Until the code stops, interrupt again: processes it forked after the last wave get one too.
            if self.interrupting is not None and self.running is not None:
                self.interrupt_group()

    def check_children(self):
        if self.kernel is not None and self.kernel.poll() is not None:
            self.kernel_gone()
        if self.watchdog is not None:
            try:
                gone = os.waitpid(self.watchdog, os.WNOHANG)[0] != 0
            except ChildProcessError:
                gone = True
            if gone:  # killed by the session's code: arm another
                self.watchdog = start_watchdog(self.mode, self.config["workdir"])
        if self.runner_pid is not None:
            try:
                pid, _ = os.waitpid(self.runner_pid, os.WNOHANG)
            except ChildProcessError:
                pid = self.runner_pid
            if pid != 0:
                self.runner_pid = None
                if self.runner_reader is not None:
                    # Results written just before exiting are still in the pipe.
                    try:
                        self.on_runner_frames(self.runner_reader.feed())
                    except FrameError:
                        pass
                self.runner_done()


def supervisor_main():
    config = read_frame(CMD_FD)
    if config is None or config.get("op") != "init":
        os._exit(2)
    source = SOURCE  # noqa: F821 - set by the bootstrap
    sys.argv = [""]
    # Signals from the session's code (same user) must not stop the supervisor; handlers, unlike SIG_IGN, are not inherited.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, lambda *_: None)
    stdlib = os.path.dirname(os.__file__)
    if not os.access(stdlib, os.R_OK | os.X_OK):
        send(EVENT_FD, {"ev": "fatal", "message": f"the Python standard library at {stdlib} is not readable by uid {os.getuid()}"})
        os._exit(2)
    set_non_dumpable()
    try:
        os.setpgid(0, 0)
    except OSError:
        pass  # already a process group (and session) leader
    watchdog = start_watchdog("all" if config.get("kill_all") else "group", config["workdir"]) if config.get("watchdog") else None
    supervisor = Supervisor(config, source)
    supervisor.watchdog = watchdog
    supervisor.start_kernel()
    # Wait for the first kernel before announcing readiness.
    deadline = time.time() + 30
    while not supervisor.kernel_ready and time.time() < deadline:
        for key, _ in supervisor.sel.select(timeout=0.5):
            if key.data == "kernel":
                try:
                    frames = supervisor.kernel_reader.feed()
                except FrameError:
                    frames = []
                for message in frames:
                    supervisor.on_kernel_frame(message)
                if supervisor.kernel_reader.eof:
                    send(EVENT_FD, {"ev": "fatal", "message": "the interpreter exited during startup"})
                    os._exit(2)
            elif key.data == "wake":
                os.read(supervisor.wake_r, 4096)
        if supervisor.kernel.poll() is not None:
            send(EVENT_FD, {"ev": "fatal", "message": f"the interpreter exited during startup (status {supervisor.kernel.returncode})"})
            os._exit(2)
    if not supervisor.kernel_ready:
        send(EVENT_FD, {"ev": "fatal", "message": "the interpreter did not start within 30 s"})
        os._exit(2)
    supervisor.restarted = False
    send(EVENT_FD, {"ev": "ready", "pid": os.getpid(), "version": "%d.%d.%d" % sys.version_info[:3]})
    supervisor.loop()


if ROLE == "kernel":  # noqa: F821 - set by the bootstrap
    kernel_main()
else:
    supervisor_main()
