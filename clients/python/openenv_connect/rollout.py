"""rollout(): run one episode of a policy against an environment."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Generic, List, Mapping, Optional, Union

from ._core import O, StepResult
from .aio import AsyncEnvClient
from .client import EnvClient


@dataclass
class Episode(Generic[O]):
    """One episode: the reset result, then one result per step, and the actions taken."""

    #: The episode id the server assigned (or the one passed to ``rollout``).
    episode_id: str
    #: ``results[0]`` is the reset's; ``results[i]`` follows ``actions[i - 1]``.
    results: List[StepResult[O]] = field(default_factory=list)
    #: The actions sent, in order.
    actions: List[Any] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Number of steps taken."""
        return len(self.actions)

    @property
    def observations(self) -> List[O]:
        """Every observation, the reset's first."""
        return [r.observation for r in self.results]

    @property
    def total_reward(self) -> float:
        """Sum of the step rewards (steps with no reward count as 0; the reset's reward is not counted)."""
        return sum(r.reward or 0.0 for r in self.results[1:])

    @property
    def done(self) -> bool:
        """The episode ended (terminated or truncated) rather than hitting ``max_steps``."""
        return bool(self.results) and self.results[-1].done

    @property
    def terminated(self) -> bool:
        """The episode reached a terminal state of the task."""
        return bool(self.results) and self.results[-1].terminated

    @property
    def truncated(self) -> bool:
        """The environment cut the episode short."""
        return bool(self.results) and self.results[-1].truncated


def rollout(
    env: EnvClient[Any, O, Any],
    policy: Callable[[O], Any],
    *,
    max_steps: int = 1000,
    seed: Optional[int] = None,
    episode_id: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
    on_step: Optional[Callable[[Any, StepResult[O]], None]] = None,
) -> Episode[O]:
    """Resets ``env`` and steps it with ``policy(observation) -> action`` until the episode
    is done or ``max_steps`` steps were taken.

    The action may be the environment's Action message or a dict of its fields.
    ``on_step(action, result)`` is called after each step. All steps go over the
    client's one Step stream.
    """
    if max_steps < 0:
        raise ValueError("max_steps must be >= 0")
    first = env.reset(seed, episode_id=episode_id, options=options)
    episode: Episode[O] = Episode(episode_id=first.episode_id, results=[first])
    result = first
    while not result.done and episode.steps < max_steps:
        action = policy(result.observation)
        result = env.step(action)
        episode.actions.append(action)
        episode.results.append(result)
        if on_step is not None:
            on_step(action, result)
    return episode


async def rollout_async(
    env: AsyncEnvClient[Any, O, Any],
    policy: Callable[[O], Union[Any, Awaitable[Any]]],
    *,
    max_steps: int = 1000,
    seed: Optional[int] = None,
    episode_id: Optional[str] = None,
    options: Optional[Mapping[str, Any]] = None,
    on_step: Optional[Callable[[Any, StepResult[O]], None]] = None,
) -> Episode[O]:
    """:func:`rollout` for an :class:`AsyncEnvClient`; ``policy`` may be a coroutine function."""
    if max_steps < 0:
        raise ValueError("max_steps must be >= 0")
    first = await env.reset(seed, episode_id=episode_id, options=options)
    episode: Episode[O] = Episode(episode_id=first.episode_id, results=[first])
    result = first
    while not result.done and episode.steps < max_steps:
        action = policy(result.observation)
        if inspect.isawaitable(action):
            action = await action
        result = await env.step(action)
        episode.actions.append(action)
        episode.results.append(result)
        if on_step is not None:
            on_step(action, result)
    return episode
