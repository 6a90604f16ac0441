#!/usr/bin/env python3
"""Steps/s of a Python echo rollout (openenv_connect over gRPC): prints one JSON line.

    /usr/bin/python3 bench/python_echo_rollout.py URL STEPS
Run by bench/python-vs-ts.ts, which measures the TypeScript EnvClient against the same server.
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))

import openenv_connect as oc  # noqa: E402
from openenv.envs.echo.v1 import echo_pb2  # noqa: E402

url, steps = sys.argv[1], int(sys.argv[2])
action = echo_pb2.EchoAction(message="ping")
with oc.EnvClient(url, action=echo_pb2.EchoAction, observation=echo_pb2.EchoObservation, state=echo_pb2.EchoState) as env:
    oc.rollout(env, lambda _obs: action, max_steps=300)  # warm-up
    start = time.perf_counter()
    episode = oc.rollout(env, lambda _obs: action, max_steps=steps)
    seconds = time.perf_counter() - start
assert episode.steps == steps and episode.observations[-1].echoed_message == "ping"
print(json.dumps({"client": "python grpcio (gRPC)", "steps": steps, "seconds": seconds, "steps_per_s": steps / seconds}))
