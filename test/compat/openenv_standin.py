#!/usr/bin/env python3
"""A stand-in for OpenEnv's Python server (FastAPI + uvicorn), written for the
gateway tests from the recorded exchanges: asyncio and Debian's
python3-websockets only, no FastAPI, no Pydantic.

It speaks OpenEnv's protocol: GET /health, /metadata, /schema and the /ws
session protocol ({"type": "reset"|"step"|"state"|"close"} frames in,
{"type": "observation"|"state"|"error"} frames out, one environment per
connection, CAPACITY_REACHED over --max-sessions, VALIDATION_ERROR with
Pydantic's error list for a bad action, EXECUTION_ERROR when a step raises).

Environments, each under its own path prefix (the root serves "echo"):
  /envs/echo    OpenEnv's template echo (EchoAction(message) -> EchoObservation)
                with test hooks in the message: "drop" (the connection dies
                mid-step), "sleep:MS", "raise:TEXT", "done"
  /envs/maze    OpenEnv's maze_env: an 8x8 grid, actions 0-3
  /envs/<name>  every fixture of test/fixtures/openenv-schemas, replaying its
                samples: reset answers observation 0, step i observation i;
                the action received is sent back in metadata["action"]

Usage: openenv_standin.py [--port 0] [--max-sessions 16] [--fixtures DIR]
Prints "listening http://127.0.0.1:PORT" once ready.
"""

import argparse
import asyncio
import http
import json
import os
import sys
import uuid

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))


def metadata(name):
    return {"name": name, "description": f"{name} environment", "readme_content": None, "version": "1.0.0", "author": None, "documentation_url": None}


# ---- Pydantic-like validation of an action against its JSON Schema (the checks OpenEnv's models make) ----

JSON_TYPES = {"string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,), "array": (list,), "object": (dict,)}
TYPE_ERRORS = {"string": ("string_type", "Input should be a valid string"), "integer": ("int_type", "Input should be a valid integer"),
               "number": ("float_type", "Input should be a valid number"), "boolean": ("bool_type", "Input should be a valid boolean"),
               "array": ("list_type", "Input should be a valid list"), "object": ("dict_type", "Input should be a valid dictionary")}


def pydantic_error(kind, loc, msg, value):
    return {"type": kind, "loc": loc, "msg": msg, "input": value, "url": f"https://errors.pydantic.dev/2.14/v/{kind}"}


def type_ok(schema, value):
    t = schema.get("type")
    if t is None or t not in JSON_TYPES:
        return True
    if isinstance(value, bool) and t in ("integer", "number"):
        return False
    return isinstance(value, JSON_TYPES[t])


def validate(schema, data):
    """Required keys, extra keys (extra="forbid") and top-level types, in Pydantic's order."""
    if "oneOf" in schema or "anyOf" in schema:
        return []  # unions (agent_world_model_env): the replay env accepts what the schema allows
    if not isinstance(data, dict):
        return [pydantic_error("model_attributes_type", [], "Input should be a valid dictionary or object to extract fields from", data)]
    errors = []
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in data:
            errors.append(pydantic_error("missing", [name], "Field required", data))
    for name, value in data.items():
        if name not in props:
            if schema.get("additionalProperties") is False:
                errors.append(pydantic_error("extra_forbidden", [name], "Extra inputs are not permitted", value))
            continue
        prop = props[name]
        if value is None and any(a.get("type") == "null" for a in prop.get("anyOf", [])):
            continue
        if not type_ok(prop, value):
            kind, msg = TYPE_ERRORS[prop["type"]]
            errors.append(pydantic_error(kind, [name], msg, value))
    return errors


# ---- environments ----


class EchoEnv:
    """OpenEnv's template echo environment."""

    name = "echo"

    def __init__(self, fixtures):
        f = fixtures["echo_env"]
        self.schema = f["schema"]
        self.metadata = f["metadata"]
        self.episode_id = None
        self.step_count = 0

    def reset(self, seed=None, episode_id=None, **_):
        self.episode_id = episode_id or str(uuid.uuid4())
        self.step_count = 0
        return {"observation": {"echoed_message": "Echo environment ready!", "message_length": 0}, "reward": 0.0, "done": False}

    async def step(self, action, ws):
        message = action["message"]
        if message == "drop":
            ws.transport.abort()  # the server dies mid-step: no reply, no close frame
            await ws.wait_closed()
        if message.startswith("sleep:"):
            await asyncio.sleep(int(message[6:]) / 1000)
        if message.startswith("raise:"):
            raise RuntimeError(message[6:])
        self.step_count += 1
        obs = {"echoed_message": message, "message_length": len(message)}
        return {"observation": obs, "reward": len(message) * 0.1, "done": message == "done", "metadata": {"original_message": message, "step": self.step_count}}

    def state(self):
        return {"episode_id": self.episode_id, "step_count": self.step_count}


class MazeEnv:
    """OpenEnv's maze_env: an 8x8 grid with walls, start top-left, goal bottom-right."""

    name = "maze"
    GRID = [
        "..#.....",
        ".##.###.",
        "....#...",
        "#.#.#.##",
        "..#...#.",
        ".####.#.",
        "......#.",
        "#.###...",
    ]
    MOVES = [(-1, 0), (1, 0), (0, -1), (0, 1)]  # up, down, left, right

    def __init__(self, fixtures):
        f = fixtures["maze_env"]
        self.schema = f["schema"]
        self.metadata = f["metadata"]
        self.pos = (0, 0)
        self.prev = (0, 0)
        self.episode_id = None
        self.step_count = 0

    def legal(self, pos):
        out = []
        for i, (dr, dc) in enumerate(self.MOVES):
            r, c = pos[0] + dr, pos[1] + dc
            if 0 <= r < 8 and 0 <= c < 8 and self.GRID[r][c] == ".":
                out.append(i)
        return out

    def obs(self):
        return {"legal_actions": self.legal(self.pos), "current_position": list(self.pos), "previous_position": list(self.prev)}

    def reset(self, seed=None, episode_id=None, **_):
        self.pos = self.prev = (0, 0)
        self.episode_id = episode_id or str(uuid.uuid4())
        self.step_count = 0
        return {"observation": self.obs(), "reward": 0.0, "done": False}

    async def step(self, action, ws):
        a = action["action"]
        if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a <= 3:
            raise ValueError(f"action must be 0, 1, 2 or 3, got {a!r}")
        self.step_count += 1
        self.prev = self.pos
        if a in self.legal(self.pos):
            dr, dc = self.MOVES[a]
            self.pos = (self.pos[0] + dr, self.pos[1] + dc)
        at_goal = self.pos == (7, 7)
        done = at_goal or self.step_count >= 200
        return {"observation": self.obs(), "reward": 1.0 if at_goal else -0.01, "done": done}

    def state(self):
        return {"episode_id": self.episode_id, "step_count": self.step_count}


class ReplayEnv:
    """Replays a fixture's sample observations; the action received comes back in metadata."""

    def __init__(self, fixture):
        self.name = fixture["name"]
        self.schema = fixture["schema"]
        self.metadata = fixture["metadata"]
        self.samples = fixture["samples"]
        self.step_count = 0

    def reset(self, **_):
        self.step_count = 0
        return {"observation": self.samples["observation"][0], "reward": None, "done": False}

    async def step(self, action, ws):
        self.step_count += 1
        observations = self.samples["observation"]
        return {"observation": observations[self.step_count % len(observations)], "reward": 1, "done": False, "metadata": {"action": action}}

    def state(self):
        return self.samples["state"][0]


# ---- the server ----


class Server:
    def __init__(self, fixtures, max_sessions):
        self.fixtures = fixtures
        self.max_sessions = max_sessions
        self.factories = {"/envs/echo": lambda: EchoEnv(fixtures), "/envs/maze": lambda: MazeEnv(fixtures), "": lambda: EchoEnv(fixtures)}
        for name, f in fixtures.items():
            self.factories.setdefault(f"/envs/{name}", (lambda fx: lambda: ReplayEnv(fx))(f))
        self.probes = {prefix: make() for prefix, make in self.factories.items()}
        self.active = {prefix: 0 for prefix in self.factories}

    def route(self, path):
        path = path.split("?", 1)[0]
        for prefix in sorted(self.factories, key=len, reverse=True):
            if prefix == "" or path == prefix or path.startswith(prefix + "/"):
                return prefix, path[len(prefix):] or "/"
        return None, path

    async def process_request(self, path, headers):
        prefix, rest = self.route(path)
        if prefix is not None and rest == "/ws":
            return None  # the WebSocket handshake goes on
        env = self.probes.get(prefix) if prefix is not None else None
        body = None
        if env is not None and rest == "/health":
            body = {"status": "healthy"}
        elif env is not None and rest == "/metadata":
            body = env.metadata
        elif env is not None and rest == "/schema":
            body = env.schema
        if body is None:
            return self.respond(http.HTTPStatus.NOT_FOUND, {"detail": "Not Found"})
        return self.respond(http.HTTPStatus.OK, body)

    @staticmethod
    def respond(status, body):
        data = json.dumps(body, separators=(",", ":")).encode()
        return status, [("content-type", "application/json"), ("content-length", str(len(data))), ("connection", "close")], data

    async def handler(self, ws, path=None):
        prefix, _ = self.route(ws.path)
        if self.active[prefix] >= self.max_sessions:
            await self.send_error(ws, f"Server at capacity: {self.active[prefix]}/{self.max_sessions} sessions active. Cannot accept new connections.",
                                  "CAPACITY_REACHED", active_sessions=self.active[prefix], max_sessions=self.max_sessions)
            await ws.close(1000)
            return
        self.active[prefix] += 1
        env = self.factories[prefix]()
        try:
            async for raw in ws:
                try:
                    msg = json.loads(raw)
                except json.JSONDecodeError as e:
                    await self.send_error(ws, f"Invalid JSON: {e}", "INVALID_JSON")
                    continue
                kind = msg.get("type", "") if isinstance(msg, dict) else ""
                try:
                    if kind == "reset":
                        data = msg.get("data") or {}
                        await ws.send(json.dumps({"type": "observation", "data": env.reset(**data)}))
                    elif kind == "step":
                        action = msg.get("data")
                        errors = validate(env.schema["action"], action)
                        if errors:
                            await self.send_error(ws, "Invalid message", "VALIDATION_ERROR", errors=errors)
                            continue
                        await ws.send(json.dumps({"type": "observation", "data": await env.step(action, ws)}))
                    elif kind == "state":
                        await ws.send(json.dumps({"type": "state", "data": env.state()}))
                    elif kind == "close":
                        break
                    else:
                        await self.send_error(ws, f"Unknown message type: {kind}", "UNKNOWN_TYPE")
                except websockets.ConnectionClosed:
                    raise
                except Exception as e:  # the environment raised: OpenEnv reports it and keeps the session
                    await self.send_error(ws, str(e), "EXECUTION_ERROR")
        except websockets.ConnectionClosed:
            pass
        finally:
            self.active[prefix] -= 1

    @staticmethod
    async def send_error(ws, message, code, **extra):
        await ws.send(json.dumps({"type": "error", "data": {"message": message, "code": code, **extra}}))


def load_fixtures(directory):
    out = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                fixture = json.load(f)
            out[fixture["name"]] = fixture
    return out


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-sessions", type=int, default=16)
    parser.add_argument("--fixtures", default=os.path.join(HERE, "..", "fixtures", "openenv-schemas"))
    args = parser.parse_args()
    server = Server(load_fixtures(args.fixtures), args.max_sessions)
    async with websockets.serve(server.handler, "127.0.0.1", args.port, process_request=server.process_request,
                                max_size=100 * 1024 * 1024, ping_interval=None) as ws_server:
        port = ws_server.sockets[0].getsockname()[1]
        print(f"listening http://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
