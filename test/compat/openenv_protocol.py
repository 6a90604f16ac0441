#!/usr/bin/env python3
"""Drives an OpenEnv server the way OpenEnv's own Python code does, using only
the standard library and Debian's python3-websockets (the client library
OpenEnv's EnvClient uses).

The WebSocket client below follows OpenEnv's `EnvClient`/`GenericEnvClient`
(src/openenv/core/env_client.py, generic_client.py): http:// -> ws://, "/ws",
max_size 100 MiB, JSON text frames, `{"type":"reset","data":kwargs}`,
`{"type":"step","data":action}`, `{"type":"state"}`, `{"type":"close"}`, and
`RuntimeError("Server error: {message} (code: {code})")` for error frames.
The HTTP checks are those of `openenv validate --url` and of plain HTTP users.

Usage: openenv_protocol.py BASE_URL MAX_SESSIONS
Prints one line per check and "ALL OK" at the end; exits 1 on the first failure.
"""

import asyncio
import json
import sys
import time
import urllib.error
import urllib.request

import websockets

BASE = sys.argv[1].rstrip("/")
MAX_SESSIONS = int(sys.argv[2])


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok   {what}", flush=True)


def http(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.read().decode(), dict(res.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def http_checks():
    status, text, headers = http("GET", "/health")
    check(status == 200 and json.loads(text) == {"status": "healthy"}, "GET /health")
    check(headers.get("content-type") == "application/json", "JSON content type")

    status, text, _ = http("GET", "/metadata")
    meta = json.loads(text)
    check(status == 200 and isinstance(meta["name"], str) and isinstance(meta["description"], str), "GET /metadata: name, description")
    check(list(meta) == ["name", "description", "readme_content", "version", "author", "documentation_url"], "metadata keys")

    status, text, _ = http("GET", "/schema")
    schema = json.loads(text)
    check(status == 200 and all(isinstance(schema[k], dict) for k in ("action", "observation", "state")), "GET /schema: 3 objects")
    check("message" in schema["action"]["properties"], "action schema has the proto's fields")

    # What `openenv validate --url` checks.
    status, text, _ = http("GET", "/openapi.json")
    doc = json.loads(text)
    check(status == 200 and doc["info"]["version"].startswith("1."), "openapi info.version 1.x (profile openenv-http/1.x)")
    check(all(p in doc["paths"] for p in ("/reset", "/step", "/state")), "simulation mode paths")
    status, text, _ = http("POST", "/mcp", {})
    check(status == 200 and json.loads(text)["jsonrpc"] == "2.0", "POST /mcp {} -> 200 + jsonrpc 2.0")

    status, text, _ = http("POST", "/reset", raw=b"")
    check(status == 200 and text.startswith('{"observation":') and '"reward":0.0,"done":false' in text, "POST /reset (empty body)")
    status, text, _ = http("POST", "/step", {"action": {"message": "hi"}})
    result = json.loads(text)
    check(status == 200 and result["observation"]["echoed_message"] == "hi" and isinstance(result["reward"], float), "POST /step")
    check(result.get("metadata", {}).get("original_message") == "hi", "top-level metadata")
    status, text, _ = http("GET", "/state")
    check(status == 200 and json.loads(text)["step_count"] == 0, "GET /state (stateless: fresh env)")

    status, text, _ = http("POST", "/reset", {"seed": -1})
    check(
        status == 422
        and text
        == '{"detail":[{"type":"greater_than_equal","loc":["body","seed"],"msg":"Input should be greater than or equal to 0","input":-1,"ctx":{"ge":0}}]}',
        "422 for seed -1, OpenEnv's body",
    )
    status, text, _ = http("POST", "/step", {})
    check(status == 422 and text == '{"detail":[{"type":"missing","loc":["body","action"],"msg":"Field required","input":{}}]}', "422 for a missing action")
    status, text, _ = http("POST", "/step", raw=b"{bad")
    check(status == 422 and json.loads(text)["detail"][0]["ctx"]["error"] == "Expecting property name enclosed in double quotes", "422 json_invalid with Python's message")
    status, text, _ = http("POST", "/step", {"action": {"msg": "hi"}})
    check(status == 422 and json.loads(text)["detail"][0]["type"] == "extra_forbidden", "422 extra_forbidden on the action")

    # Stateful HTTP mode.
    status, text, headers = http("POST", "/reset", {"episode_id": "py-http"}, headers={"OpenEnv-Session-Id": "new"})
    sid = headers.get("openenv-session-id")
    check(status == 200 and sid and json.loads(text)["session_id"] == sid, "stateful /reset returns the session id (header and body)")
    for _ in range(2):
        http("POST", "/step", {"action": {"message": "ab"}}, headers={"OpenEnv-Session-Id": sid})
    status, text, _ = http("GET", "/state", headers={"OpenEnv-Session-Id": sid})
    check(json.loads(text) == {"episode_id": "py-http", "step_count": 2, "total_characters": 4}, "stateful /state sees the steps")
    status, text, _ = http("POST", "/mcp", {"jsonrpc": "2.0", "method": "openenv/session/close", "params": {"session_id": sid}, "id": 1})
    check(json.loads(text)["result"] == {"session_id": sid, "closed": True}, "openenv/session/close")


class EnvClient:
    """OpenEnv's EnvClient/GenericEnvClient protocol, reduced to its wire behaviour."""

    def __init__(self, base_url):
        ws_url = base_url.replace("https://", "wss://").replace("http://", "ws://")
        self._ws_url = f"{ws_url}/ws"
        self._ws = None

    async def connect(self):
        self._ws = await websockets.connect(self._ws_url, open_timeout=10, max_size=100 * 1024 * 1024, ping_interval=20, ping_timeout=20)
        return self

    async def _send_and_receive(self, message):
        await self._ws.send(json.dumps(message))
        response = json.loads(await asyncio.wait_for(self._ws.recv(), timeout=60))
        if response.get("type") == "error":
            error_data = response.get("data", {})
            raise RuntimeError(f"Server error: {error_data.get('message', 'Unknown error')} (code: {error_data.get('code', 'UNKNOWN')})")
        return response

    async def reset(self, **kwargs):
        return self._parse_result((await self._send_and_receive({"type": "reset", "data": kwargs}))["data"])

    async def step(self, action):
        return self._parse_result((await self._send_and_receive({"type": "step", "data": action}))["data"])

    async def state(self):
        return (await self._send_and_receive({"type": "state"}))["data"]

    @staticmethod
    def _parse_result(payload):
        obs = payload.get("observation", {})
        return {
            "observation": obs,
            "reward": payload.get("reward"),
            "done": payload.get("done", False),
            "metadata": payload.get("metadata", obs.get("metadata", {})),
        }

    async def close(self):
        try:
            await self._ws.send(json.dumps({"type": "close"}))
        except Exception:
            pass
        await self._ws.close()


async def ws_checks():
    env = await EnvClient(BASE).connect()
    r = await env.reset(seed=42, episode_id="py-ws")
    check(r["observation"]["echoed_message"] == "Echo environment ready!" and r["reward"] == 0.0 and r["done"] is False, "ws reset")
    for i, message in enumerate(["hi", "héllo", "x" * 1000], start=1):
        r = await env.step({"message": message})
        check(r["observation"] == {"echoed_message": message, "message_length": len(message)}, f"ws step {i}")
        check(abs(r["reward"] - 0.1 * len(message)) < 1e-9 and r["metadata"]["step"] == i, f"ws reward and metadata {i}")
    state = await env.state()
    check(state == {"episode_id": "py-ws", "step_count": 3, "total_characters": 1007}, "ws state")

    try:
        await env.step({"msg": "nope"})
        check(False, "ws invalid action raises")
    except RuntimeError as e:
        check("(code: VALIDATION_ERROR)" in str(e), f"ws invalid action -> {e}")
    try:
        await env._send_and_receive({"type": "nope"})
        check(False, "ws unknown type raises")
    except RuntimeError as e:
        check(str(e) == "Server error: Unknown message type: nope (code: UNKNOWN_TYPE)", "ws unknown type")
    await env._ws.send("{not json")
    reply = json.loads(await env._ws.recv())
    check(reply["data"]["code"] == "INVALID_JSON" and "line 1 column 2 (char 1)" in reply["data"]["message"], "ws INVALID_JSON")

    pong = await env._ws.ping()
    await asyncio.wait_for(pong, 10)
    check(True, "ws ping answered")

    big = "z" * (20 * 1024 * 1024)
    r = await env.reset(blob=big)
    check(r["done"] is False, "ws 20 MiB frame accepted")

    for _ in range(200):  # warm-up (the server's JIT)
        await env.step({"message": "bench"})
    started = time.perf_counter()
    n = 2000
    for _ in range(n):
        await env.step({"message": "bench"})
    rate = n / (time.perf_counter() - started)
    print(f"info ws steps/s from Python (sequential): {rate:.0f}", flush=True)

    await env.close()
    check(env._ws.close_code == 1000, "ws close -> 1000")

    # Fatal cases: one SESSION_ERROR frame, then a normal close.
    for frame in (b'{"type": "state"}', "[1, 2]"):
        async with websockets.connect(f"{BASE.replace('http://', 'ws://')}/ws") as ws:
            await ws.send(frame)
            reply = json.loads(await ws.recv())
            check(reply["type"] == "error" and reply["data"]["code"] == "SESSION_ERROR", f"fatal {type(frame).__name__} frame -> SESSION_ERROR")
            try:
                await ws.send(json.dumps({"type": "state"}))
                await asyncio.wait_for(ws.recv(), timeout=10)
                check(False, "fatal frame closes the socket")
            except websockets.ConnectionClosed as e:
                check(e.code == 1000, "then close 1000")

    # Capacity: fill every slot, then one more.
    held = [await EnvClient(BASE).connect() for _ in range(MAX_SESSIONS)]
    for h in held:
        await h.reset()
    extra = await EnvClient(BASE).connect()
    # The server reports capacity right after the handshake, then closes normally.
    reply = json.loads(await asyncio.wait_for(extra._ws.recv(), timeout=10))
    check(
        reply
        == {
            "type": "error",
            "data": {
                "message": f"Server at capacity: {MAX_SESSIONS}/{MAX_SESSIONS} sessions active. Cannot accept new connections.",
                "code": "CAPACITY_REACHED",
                "active_sessions": MAX_SESSIONS,
                "max_sessions": MAX_SESSIONS,
            },
        },
        "capacity frame",
    )
    await extra._ws.wait_closed()
    check(extra._ws.close_code == 1000, "capacity -> close 1000")
    for h in held:
        await h.close()


http_checks()
asyncio.run(ws_checks())
print("ALL OK", flush=True)
