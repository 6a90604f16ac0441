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

With a third argument `mcp-echo`, it drives `openenv serve mcp-echo` instead,
as OpenEnv's `EchoEnv` does: an `MCPToolClient` (src/openenv/core/mcp_client.py)
in its default mode (`list_tools`/`call_tool` as `step` actions over /ws, so
rewards and step counts apply) and in production mode (`use_production_mode`:
JSON-RPC over POST /mcp with a session from `openenv/session/create`,
monotonically increasing integer ids, `openenv/session/close` on close), plus
`GenericEnvClient` (dict actions and observations over /ws).

Usage: openenv_protocol.py BASE_URL MAX_SESSIONS [echo|mcp-echo]
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
SUITE = sys.argv[3] if len(sys.argv) > 3 else "echo"


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


class Tool:
    """OpenEnv's mcp_types.Tool: name, description, input_schema."""

    def __init__(self, name, description, input_schema):
        self.name, self.description, self.input_schema = name, description, input_schema


def _tool_from_payload(payload):
    return Tool(payload.get("name", ""), payload.get("description", ""), payload.get("input_schema", payload.get("inputSchema", {})))


class MCPToolClient(EnvClient):
    """OpenEnv's MCPClientBase/MCPToolClient, reduced to its wire behaviour.

    Default mode: ListToolsAction/CallToolAction as `step` actions over /ws.
    `use_production_mode = True` (an attribute, not a constructor argument):
    JSON-RPC over HTTP POST /mcp in a session made with openenv/session/create.
    """

    def __init__(self, base_url):
        super().__init__(base_url)
        self._base_url = base_url
        self._tools_cache = None
        self.use_production_mode = False
        self._production_session_id = None
        self._jsonrpc_request_id = 0

    # --- production mode: JSON-RPC over HTTP POST /mcp
    def _next_request_id(self):
        self._jsonrpc_request_id += 1
        return self._jsonrpc_request_id

    def _production_mcp_request(self, method, params=None):
        body = {"jsonrpc": "2.0", "method": method, "params": params or {}, "id": self._next_request_id()}
        status, text, _ = http("POST", "/mcp", body)
        if status >= 400:
            raise RuntimeError(f"HTTP {status}")
        return json.loads(text)

    def _ensure_production_session(self):
        if self._production_session_id is not None:
            return self._production_session_id
        data = self._production_mcp_request("openenv/session/create")
        if "error" in data:
            raise RuntimeError(f"Failed to create MCP session: {data.get('error', {}).get('message', 'unknown error')}")
        session_id = data.get("result", {}).get("session_id")
        if not session_id:
            raise RuntimeError("Failed to create MCP session: missing session_id")
        self._production_session_id = session_id
        return session_id

    # --- the client API
    async def list_tools(self, use_cache=True):
        if use_cache and self._tools_cache is not None:
            return self._tools_cache
        if self.use_production_mode:
            try:
                session_id = self._ensure_production_session()
                data = self._production_mcp_request("tools/list", {"session_id": session_id})
                if "error" in data:
                    raise RuntimeError(f"list_tools failed: {data.get('error', {}).get('message', 'unknown error')}")
                if "result" in data and "tools" in data["result"]:
                    self._tools_cache = [_tool_from_payload(t) for t in data["result"]["tools"]]
                    return self._tools_cache
            except Exception:
                pass  # OpenEnv's production list_tools swallows every error
            return []
        result = await self.step({"type": "list_tools"})
        obs = result["observation"]
        self._tools_cache = [_tool_from_payload(t) for t in obs.get("tools", [])] if "tools" in obs else []
        return self._tools_cache

    async def call_tool(self, name, **kwargs):
        if self.use_production_mode:
            session_id = self._ensure_production_session()
            data = self._production_mcp_request("tools/call", {"name": name, "arguments": kwargs, "session_id": session_id})
            if "error" in data:
                raise RuntimeError(f"Tool '{name}' failed: {data.get('error', {}).get('message', 'unknown error')}")
            result = data.get("result")
            return result["data"] if isinstance(result, dict) and "data" in result else result
        result = await self.step({"type": "call_tool", "tool_name": name, "arguments": kwargs})
        obs = result["observation"]
        if "tool_name" in obs and obs.get("error"):
            raise RuntimeError(f"Tool '{name}' failed: {obs['error']['message']} (type: {obs['error']['error_type']})")
        if "tool_name" in obs:
            res = obs.get("result")
            return res["data"] if isinstance(res, dict) and "data" in res else res
        return obs

    async def get_tool(self, name):
        for tool in await self.list_tools():
            if tool.name == name:
                return tool
        return None

    async def has_tool(self, name):
        return await self.get_tool(name) is not None

    async def close(self):
        if self._production_session_id is not None:
            try:
                self._production_mcp_request("openenv/session/close", {"session_id": self._production_session_id})
            except Exception:
                pass
            self._production_session_id = None
        if self._ws is not None:
            await super().close()


ECHO_DESCRIPTION = "Echo back the provided message.\n\nArgs:\n    message: The message to echo back\n\nReturns:\n    The same message that was provided"
MESSAGE_SCHEMA = {"additionalProperties": False, "properties": {"message": {"type": "string"}}, "required": ["message"], "type": "object"}


async def mcp_checks():
    # EchoEnv (an MCPToolClient) in its default mode: tools as step actions over /ws.
    env = await MCPToolClient(BASE).connect()
    r = await env.reset()
    check(r["observation"] == {} and r["reward"] == 0.0 and r["done"] is False, "EchoEnv reset: {} with reward 0.0")
    check(r["metadata"] == {"status": "ready", "message": "Echo environment ready!"}, "reset metadata (echo_env's)")
    tools = await env.list_tools()
    check([t.name for t in tools] == ["echo_message", "echo_with_length"], "list_tools names")
    check(tools[0].description == ECHO_DESCRIPTION and tools[0].input_schema == MESSAGE_SCHEMA, "list_tools: FastMCP's description and input_schema")
    check(await env.has_tool("echo_with_length") and not await env.has_tool("nope"), "has_tool")
    check(await env.call_tool("echo_message", message="Hello!") == "Hello!", "call_tool echo_message -> 'Hello!'")
    check(await env.call_tool("echo_with_length", message="Test") == {"message": "Test", "length": 4}, "call_tool echo_with_length -> dict")
    try:
        await env.call_tool("nope")
        check(False, "unknown tool raises")
    except RuntimeError as e:
        check(str(e) == "Tool 'nope' failed: Unknown tool: 'nope' (type: tool_not_found)", f"unknown tool -> {e}")
    try:
        await env.call_tool("echo_message")
        check(False, "missing argument raises")
    except RuntimeError as e:
        check(str(e).startswith("Tool 'echo_message' failed: 1 validation error for call[echo_message]") and "(type: invalid_args)" in str(e), "missing argument -> invalid_args")
    raw = await env.step({"type": "call_tool", "tool_name": "echo_message", "arguments": {"message": "hi"}})
    check(
        raw["observation"]
        == {
            "tool_name": "echo_message",
            "result": {"content": [{"type": "text", "text": "hi", "annotations": None, "meta": None}], "structured_content": {"result": "hi"}, "meta": None, "data": "hi", "is_error": False},
            "error": None,
        }
        and raw["reward"] is None
        and raw["done"] is False,
        "step(CallToolAction): FastMCP's result, reward None",
    )
    state = await env.state()
    # list_tools + 2 calls + 2 failed calls + the raw step: every tool action is a step (has_tool used the cache).
    check(state["step_count"] == 6, f"state step_count counts tool steps ({state['step_count']})")
    await env.close()

    # GenericEnvClient: plain dicts over /ws.
    generic = await EnvClient(BASE).connect()
    await generic.reset(episode_id="py-generic")
    r = await generic.step({"type": "call_tool", "tool_name": "echo_with_length", "arguments": {"message": "héllo"}})
    check(r["observation"]["result"]["data"] == {"message": "héllo", "length": 5}, "GenericEnvClient call_tool step (code points)")
    r = await generic.step({"type": "list_tools"})
    check([t["name"] for t in r["observation"]["tools"]] == ["echo_message", "echo_with_length"], "GenericEnvClient list_tools step")
    r = await generic.step({"tool_name": "echo_message", "arguments": {"message": "no type"}})
    check(r["observation"]["result"]["data"] == "no type", "GenericEnvClient: a call without 'type' is a call_tool")
    mcp = await generic._send_and_receive({"type": "mcp", "data": {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo_message", "arguments": {"message": "x"}}, "id": "a"}})
    check(mcp["data"]["id"] == "a" and mcp["data"]["result"]["data"] == "x", "mcp frame on /ws: tools/call")
    check(await generic.state() == {"episode_id": "py-generic", "step_count": 4}, "the mcp frame's call is a step of the /ws session")
    await generic.close()

    # EchoEnv in production mode: JSON-RPC over POST /mcp, in a session of its own.
    prod = MCPToolClient(BASE)
    prod.use_production_mode = True
    tools = await prod.list_tools()
    check([t.name for t in tools] == ["echo_message", "echo_with_length"] and tools[0].input_schema == MESSAGE_SCHEMA, "production list_tools (inputSchema)")
    session_id = prod._production_session_id
    check(isinstance(session_id, str) and len(session_id) == 36, "openenv/session/create gave a session id")
    check(await prod.call_tool("echo_message", message="Hello!") == "Hello!", "production call_tool echo_message")
    check(await prod.call_tool("echo_with_length", message="Test") == {"message": "Test", "length": 4}, "production call_tool echo_with_length")
    try:
        await prod.call_tool("nope")
        check(False, "production unknown tool raises")
    except RuntimeError as e:
        check(str(e) == "Tool 'nope' failed: Unknown tool: 'nope'", f"production unknown tool -> {e}")
    check(prod._jsonrpc_request_id == 5, "monotonically increasing JSON-RPC ids")
    await prod.close()
    data = json.loads(http("POST", "/mcp", {"jsonrpc": "2.0", "method": "tools/list", "params": {"session_id": session_id}, "id": 1})[1])
    check(data["error"]["code"] == -32602 and data["error"]["message"] == f"Unknown session_id: {session_id}", "close -> openenv/session/close freed the session")

    # The stateless JSON-RPC call, as OpenEnv's HTTP sample records it.
    status, text, _ = http("POST", "/mcp", {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "echo_message", "arguments": {"message": "hi"}}, "id": 1})
    check(
        status == 200
        and text == '{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi","annotations":null,"meta":null}],"structured_content":{"result":"hi"},"meta":null,"data":"hi","is_error":false}}',
        "stateless POST /mcp tools/call, byte for byte",
    )

    # Tool-call steps from Python over /ws (informational).
    env = await MCPToolClient(BASE).connect()
    await env.reset()
    for _ in range(200):
        await env.call_tool("echo_message", message="bench")
    started = time.perf_counter()
    n = 2000
    for _ in range(n):
        await env.call_tool("echo_message", message="bench")
    rate = n / (time.perf_counter() - started)
    print(f"info mcp tool-call steps/s from Python over /ws (sequential): {rate:.0f}", flush=True)
    await env.close()


if SUITE == "mcp-echo":
    asyncio.run(mcp_checks())
else:
    http_checks()
    asyncio.run(ws_checks())
print("ALL OK", flush=True)
