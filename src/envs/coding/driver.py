"""Driver of the coding environment's persistent Python interpreter.

The server starts `python3 -u -c <bootstrap> openenv-coding-driver` in its
own process group; the bootstrap reads this file's source as the first frame
on fd 3 and runs it. File descriptors:

  0  /dev/null
  1  standard output, read by the server (user output, then an end marker)
  2  standard error, read by the server (user output, then an end marker)
  3  from the server: this source, then commands, as frames of a 4-byte
     big-endian length + body (JSON for commands)
  4  events to the server, framed the same way
  5  never written; it reaches end-of-file when the server dies, which the
     watchdog process uses to kill everything the session started and
     remove its working directory

Commands: {"op": "init", ...limits} (first), {"op": "exec", "seq", "code",
"tests"}, {"op": "names"}. Events: {"ev": "ready"}, {"ev": "done", ...},
{"ev": "names", "names"}, {"ev": "fatal", "message"}.

After an execution the driver writes a marker (a per-interpreter random
token and the sequence number) to fds 1 and 2 and then sends "done"; the
server attributes everything before the marker to that execution, including
output of subprocesses that write to the inherited descriptors.
"""

import ast
import builtins
import io
import json
import linecache
import os
import resource
import shutil
import signal
import struct
import sys
import time
import traceback
from contextlib import redirect_stderr, redirect_stdout

CMD_FD, EVENT_FD, WATCH_FD = 3, 4, 5
RESULT_LIMIT = 10_000
TEST_OUTPUT_LIMIT = 65_536

# The interrupt handler raises only while user code runs, so a late SIGINT
# (sent at a step's timeout just as it finished) cannot break the driver.
_active = False
DRIVER_PID = os.getpid()
DRIVER_FILE = sys._getframe().f_code.co_filename


def _on_sigint(signum, frame):
    if _active:
        raise KeyboardInterrupt


def read_exact(fd, n):
    chunks = []
    while n > 0:
        chunk = os.read(fd, n)
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    head = read_exact(fd, 4)
    if head is None:
        return None
    (size,) = struct.unpack(">I", head)
    body = read_exact(fd, size)
    return None if body is None else json.loads(body.decode("utf-8"))


def send(fd, event):
    body = json.dumps(event, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    data = struct.pack(">I", len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


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


def kill_session(kill_all_of_uid):
    """Kills every process of the session except the caller."""
    me = os.getpid()
    if kill_all_of_uid:
        # The session has a uid of its own: this reaches processes that left
        # the process group (setsid) too. kill(-1) spares the caller.
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    pgid = os.getpgid(0)
    for _ in range(100):
        members = group_members(pgid)
        if members is None:
            return False
        others = [pid for pid in members if pid != me]
        if not others:
            return True
        for pid in others:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)
    return True


def start_watchdog(kill_all_of_uid, workdir):
    """Forks a process that, when the server dies, kills the session's processes and removes its directory."""
    pid = os.fork()
    if pid != 0:
        os.close(WATCH_FD)
        return pid
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
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
        if kill_session(kill_all_of_uid):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            # No /proc to spare ourselves: remove the directory first, then take the whole group.
            shutil.rmtree(workdir, ignore_errors=True)
            os.killpg(os.getpgid(0), signal.SIGKILL)
    finally:
        os._exit(0)


def _strip_driver_frames(te):
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if f.filename != DRIVER_FILE])
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


class Interpreter:
    def __init__(self):
        self.globals = {"__name__": "__main__", "__builtins__": builtins, "__doc__": None}
        self.count = 0

    def run_cell(self, code):
        self.count += 1
        filename = f"<cell-{self.count}>"
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            tree = ast.parse(code, filename, "exec")
        except (SyntaxError, ValueError) as exc:
            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
            return {"exit_code": 1, "error_name": type(exc).__name__, "error_message": str(exc), "result": ""}
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        try:
            exec(compile(tree, filename, "exec"), self.globals)
            value = eval(compile(last, filename, "eval"), self.globals) if last is not None else None
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

    def run_test(self, index, test):
        name = test.get("name") or f"test_{index}"
        output = io.StringIO()
        namespace = dict(self.globals)
        filename = f"<test-{name}>"
        code = test.get("code", "")
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        try:
            with redirect_stdout(output), redirect_stderr(output):
                exec(compile(code, filename, "exec"), namespace)
            passed, message = True, ""
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            passed = False
            message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return {"name": name, "passed": passed, "message": message, "output": output.getvalue()[:TEST_OUTPUT_LIMIT]}


def guarded(fn):
    """Runs fn with interrupts enabled; None when an interrupt escaped it."""
    global _active
    try:
        signal.signal(signal.SIGINT, _on_sigint)
        _active = True
        try:
            return fn()
        finally:
            _active = False
            exit_if_forked()
    except KeyboardInterrupt:
        _active = False
        exit_if_forked()
        return None


def exit_if_forked():
    """A process forked by user code that returns from it must not go on as a second driver."""
    if os.getpid() != DRIVER_PID:
        flush_std()
        os._exit(0)


def flush_std():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - user code may have replaced or closed them
            pass


def write_marker(fd, marker):
    try:
        os.write(fd, marker)
        return True
    except OSError:
        return False


def execute(interp, message, marker_prefix):
    seq = message["seq"]
    outcome = guarded(lambda: interp.run_cell(message.get("code", "")))
    interrupted = outcome is None or outcome.get("error_name") == "KeyboardInterrupt"
    if outcome is None:
        outcome = {"exit_code": 130, "error_name": "KeyboardInterrupt", "error_message": "", "result": ""}
    tests = message.get("tests") or []
    results = []
    for i, test in enumerate(tests):
        name = test.get("name") or f"test_{i}"
        if interrupted:
            results.append({"name": name, "passed": False, "message": "not run: the execution was interrupted", "output": ""})
            continue
        if outcome["exit_code"] != 0:
            results.append({"name": name, "passed": False, "message": "not run: the code failed", "output": ""})
            continue
        result = guarded(lambda i=i, test=test: interp.run_test(i, test))
        if result is None:
            interrupted = True
            result = {"name": name, "passed": False, "message": "interrupted", "output": ""}
        results.append(result)
    flush_std()
    marker = marker_prefix + str(seq).encode() + b"\x00"
    markers = [write_marker(1, marker), write_marker(2, marker)]
    send(EVENT_FD, {"ev": "done", "seq": seq, "interrupted": interrupted, "tests": results, "markers": markers, **outcome})


def main():
    signal.signal(signal.SIGINT, _on_sigint)
    config = read_frame(CMD_FD)
    if config is None or config.get("op") != "init":
        os._exit(2)
    sys.argv = [""]
    stdlib = os.path.dirname(os.__file__)
    if not os.access(stdlib, os.R_OK | os.X_OK):
        send(EVENT_FD, {"ev": "fatal", "message": f"the Python standard library at {stdlib} is not readable by uid {os.getuid()}"})
        os._exit(2)
    if config.get("seed") is not None:
        import random

        random.seed(config["seed"])
    kill_all_of_uid = bool(config.get("kill_all_of_uid"))
    watchdog = start_watchdog(kill_all_of_uid, config["workdir"])
    apply_limits(config)
    marker_prefix = b"\x00OPENENV-END:" + config["token"].encode() + b":"
    interp = Interpreter()
    version = "%d.%d.%d" % sys.version_info[:3]
    send(EVENT_FD, {"ev": "ready", "pid": os.getpid(), "version": version})
    while True:
        try:
            message = read_frame(CMD_FD)
        except KeyboardInterrupt:
            continue
        if message is None:
            # The server is gone. The watchdog cleans up; should user code have
            # killed it, take everything this session started down ourselves.
            try:
                os.kill(watchdog, 0)
            except OSError:
                kill_session(kill_all_of_uid)
                shutil.rmtree(config["workdir"], ignore_errors=True)
            os._exit(0)
        op = message.get("op")
        if op == "exec":
            execute(interp, message, marker_prefix)
        elif op == "names":
            names = sorted(k for k in interp.globals if isinstance(k, str) and not k.startswith("_"))
            send(EVENT_FD, {"ev": "names", "names": names})
        elif op == "exit":
            os._exit(0)


main()
