#!/usr/bin/env python3
"""Steps/s of a Python echo rollout (openenv_connect over gRPC): prints one JSON line.

    /usr/bin/python3 bench/python_echo_rollout.py URL STEPS [sync|async]
Run by bench/languages.ts, which measures the Go and TypeScript clients against the same server.
"""

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))

import openenv_connect as oc  # noqa: E402
from openenv.envs.echo.v1 import echo_pb2  # noqa: E402

url, steps = sys.argv[1], int(sys.argv[2])
mode = sys.argv[3] if len(sys.argv) > 3 else "sync"
action = echo_pb2.EchoAction(message="ping")
classes = {"action": echo_pb2.EchoAction, "observation": echo_pb2.EchoObservation, "state": echo_pb2.EchoState}


def run_sync() -> "tuple[float, oc.Episode]":
    with oc.EnvClient(url, **classes) as env:
        oc.rollout(env, lambda _obs: action, max_steps=300)  # warm-up
        start = time.perf_counter()
        episode = oc.rollout(env, lambda _obs: action, max_steps=steps)
        return time.perf_counter() - start, episode


async def run_async() -> "tuple[float, oc.Episode]":
    async with oc.AsyncEnvClient(url, **classes) as env:
        await oc.rollout_async(env, lambda _obs: action, max_steps=300)  # warm-up
        start = time.perf_counter()
        episode = await oc.rollout_async(env, lambda _obs: action, max_steps=steps)
        return time.perf_counter() - start, episode


seconds, episode = run_sync() if mode == "sync" else asyncio.run(run_async())
assert episode.steps == steps and episode.observations[-1].echoed_message == "ping"
client = "EnvClient" if mode == "sync" else "AsyncEnvClient"
print(json.dumps({"client": f"python {client} (grpcio)", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}))
