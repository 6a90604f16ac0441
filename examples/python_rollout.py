#!/usr/bin/env python3
"""Typed rollouts from Python against openenv-connect's TypeScript server: an echo episode, then a maze episode.

Needs the SDK installed (Debian's python3-grpcio and python3-protobuf, seen by a
virtualenv made with --system-site-packages), run from a checkout. Servers are
started with `node bin/openenv.js serve NAME --port 0` unless their URLs are given:

    /usr/bin/python3 -m venv --system-site-packages .venv
    .venv/bin/pip install --no-index --no-build-isolation ./clients/python
    .venv/bin/python examples/python_rollout.py
    .venv/bin/python examples/python_rollout.py --echo-url http://127.0.0.1:8000 --skip-maze

The maze part uses the generated module openenv.envs.maze.v1.maze_pb2 and a
shortest-path policy on the typed observation. When that module does not exist
(a checkout without proto/openenv/envs/maze/v1/maze.proto), it says so and is
skipped; --require-maze makes that an error.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import deque
from contextlib import ExitStack
from typing import Any, Callable

import openenv_connect as oc
from google.protobuf import text_format
from openenv.envs.echo.v1 import echo_pb2


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


def shortest_path_policy(maze_pb2: Any) -> Callable[[Any], Any]:
    """A typed maze policy: breadth-first search on the observation's rendered grid, first move of the path."""
    moves = {
        maze_pb2.DIRECTION_UP: (-1, 0),
        maze_pb2.DIRECTION_DOWN: (1, 0),
        maze_pb2.DIRECTION_LEFT: (0, -1),
        maze_pb2.DIRECTION_RIGHT: (0, 1),
    }

    def policy(observation: Any) -> Any:
        grid = observation.render.splitlines()
        start = (observation.position.row, observation.position.col)
        goal = (observation.goal.row, observation.goal.col)
        first_move = {start: None}
        frontier = deque([start])
        while frontier:
            cell = frontier.popleft()
            if cell == goal:
                return maze_pb2.MazeAction(direction=first_move[cell])
            for direction, (dr, dc) in moves.items():
                nxt = (cell[0] + dr, cell[1] + dc)
                if nxt not in first_move and 0 <= nxt[0] < len(grid) and 0 <= nxt[1] < len(grid[nxt[0]]) and grid[nxt[0]][nxt[1]] != "#":
                    first_move[nxt] = first_move[cell] or direction
                    frontier.append(nxt)
        return maze_pb2.MazeAction(direction=observation.legal_directions[0])  # no path: any legal move

    return policy


def maze_episode(url: str, max_steps: int) -> None:
    from openenv.envs.maze.v1 import maze_pb2

    # No classes given: the client learns them from Describe and uses the generated maze_pb2 ones.
    with oc.EnvClient(url) as env:
        if env.observation_type is not maze_pb2.MazeObservation:
            raise SystemExit(f"maze: the server at {url} serves {env.observation_type.DESCRIPTOR.full_name}, not the maze")
        episode = oc.rollout(env, shortest_path_policy(maze_pb2), max_steps=max_steps, seed=7, options={"width": 6, "height": 4})
        first, last = episode.observations[0], episode.results[-1]
        print(first.render, end="")
        print(
            f"maze: {first.rows}x{first.cols} grid, distance {first.distance_to_goal}: {episode.steps} steps, "
            f"total reward {episode.total_reward:.2f}, terminated={last.terminated} truncated={last.truncated}, "
            f"reward components {last.reward_components}"
        )
        print(last.observation.render, end="")
        state = env.state()  # a maze_pb2.MazeState
        print(f"maze: state solved={state.solved} step_count={state.step_count} wall_hits={state.wall_hits}")
        if not state.solved:
            raise SystemExit("maze: the shortest-path policy did not reach the goal")

        # The same client, any environment: random actions within the Action's field rules.
        walk = oc.rollout(env, oc.random_policy(env.action_type, seed=7), max_steps=50, seed=8)
        print(f"maze: random walk: {walk.steps} steps, total reward {walk.total_reward:.2f}, done={walk.done}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echo-url", help="a running echo server (default: start one)")
    parser.add_argument("--maze-url", help="a running maze server (default: start one)")
    parser.add_argument("--echo-steps", type=int, default=10)
    parser.add_argument("--maze-steps", type=int, default=200, help="step limit of the maze episode")
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
