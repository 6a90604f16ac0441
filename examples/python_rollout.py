#!/usr/bin/env python3
"""Typed rollouts from Python against openenv-connect's TypeScript server: an echo episode, then a maze episode.

Needs only Debian's python3-grpcio and python3-protobuf plus the generated SDK in
clients/python (run with /usr/bin/python3: a pyenv python3 does not see Debian's
packages). Servers are started with `node bin/openenv.js serve NAME --port 0`
unless their URLs are given:

    /usr/bin/python3 examples/python_rollout.py
    /usr/bin/python3 examples/python_rollout.py --echo-url http://127.0.0.1:8000 --skip-maze

The maze part uses the generated module openenv.envs.maze.v1.maze_pb2. When
that module does not exist (proto/openenv/envs/maze/v1/maze.proto not merged
yet), it says so and is skipped; --require-maze makes that an error.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "clients" / "python"))

import openenv_connect as oc  # noqa: E402
from google.protobuf import text_format  # noqa: E402
from openenv.envs.echo.v1 import echo_pb2  # noqa: E402


def echo_episode(url: str, steps: int) -> None:
    # Typed end to end: the classes are the generated ones, so are the observations.
    with oc.EnvClient(url, action=echo_pb2.EchoAction, observation=echo_pb2.EchoObservation, state=echo_pb2.EchoState) as env:
        words = itertools.cycle(["hello", "typed", "world", "from", "python"])

        def policy(observation: echo_pb2.EchoObservation) -> echo_pb2.EchoAction:
            return echo_pb2.EchoAction(message=f"{next(words)} ({observation.message_length})")

        def show(action: echo_pb2.EchoAction, result: oc.StepResult[echo_pb2.EchoObservation]) -> None:
            print(f"  step {result.step_count:2}: sent {action.message!r:14} -> echoed {result.observation.echoed_message!r:14} reward {result.reward:.1f}")

        episode = oc.rollout(env, policy, max_steps=steps, seed=42, episode_id="python-echo", on_step=show)
        state = env.state()
        print(
            f"echo: episode {episode.episode_id}: {episode.steps} steps, total reward {episode.total_reward:.1f}, "
            f"state step_count={state.step_count} total_characters={state.total_characters}"
        )


def maze_episode(url: str, max_steps: int) -> None:
    from openenv.envs.maze.v1 import maze_pb2

    with oc.EnvClient(url) as env:
        if env.observation_type.__module__ != maze_pb2.__name__:
            raise SystemExit(f"maze: the server at {url} serves {env.info.observation_type if env.info else '?'}, not the maze")
        print(f"maze: {env.info.metadata.description if env.info else ''}")
        print(f"maze: action {env.action_type.DESCRIPTOR.full_name}, observation {env.observation_type.DESCRIPTOR.full_name}")
        # A random policy within the Action's field rules: it knows nothing about mazes.
        episode = oc.rollout(env, oc.random_policy(env.action_type, seed=7), max_steps=max_steps, seed=7)
        last = episode.results[-1]
        print(
            f"maze: episode {episode.episode_id}: {episode.steps} steps, total reward {episode.total_reward:.2f}, "
            f"done={last.done} (terminated={last.terminated}, truncated={last.truncated})"
        )
        print(f"maze: last observation: {text_format.MessageToString(last.observation, as_one_line=True)[:300]}")
        for _field, value in last.observation.ListFields():
            if isinstance(value, str) and "\n" in value:  # a rendered board, if the maze sends one
                print(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo-url", help="a running echo server (default: start one)")
    parser.add_argument("--maze-url", help="a running maze server (default: start one)")
    parser.add_argument("--echo-steps", type=int, default=10)
    parser.add_argument("--maze-steps", type=int, default=500, help="step limit of the random maze walk")
    parser.add_argument("--skip-maze", action="store_true")
    parser.add_argument("--require-maze", action="store_true", help="fail when the maze cannot run")
    args = parser.parse_args()

    with ExitStack() as stack:
        echo_url = args.echo_url or stack.enter_context(oc.serve_process("echo"))
        echo_episode(echo_url, args.echo_steps)

        if args.skip_maze:
            return 0
        try:
            from openenv.envs.maze.v1 import maze_pb2  # noqa: F401
        except ImportError:
            print(
                "maze: SKIPPED: the generated module openenv.envs.maze.v1.maze_pb2 does not exist "
                "(proto/openenv/envs/maze/v1/maze.proto is not in this checkout; after adding it, "
                "run `npm run generate:python`)."
            )
            return 1 if args.require_maze else 0
        maze_url = args.maze_url or stack.enter_context(oc.serve_process("maze"))
        maze_episode(maze_url, args.maze_steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
