"""The Python SDK against a real openenv-connect echo server (gRPC over cleartext HTTP/2 on loopback).

Servers: $OPENENV_URL (default limits) and $OPENENV_CAPACITY_URL (--max-sessions 2),
as test/python-sdk.test.ts passes them; when unset, `node bin/openenv.js serve echo`
processes are started here.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path
from typing import Callable, List

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the SDK root: clients/python

import openenv_connect as oc  # noqa: E402
from openenv.envs.echo.v1 import echo_pb2  # noqa: E402
from servers import Server, server_from_env  # noqa: E402

CAPACITY = 2
servers: List[Server] = []
URL = ""
CAPACITY_URL = ""


def setUpModule() -> None:
    global URL, CAPACITY_URL
    main = server_from_env("OPENENV_URL", "echo", [])
    servers.append(main)
    capacity = server_from_env("OPENENV_CAPACITY_URL", "echo", ["--max-sessions", str(CAPACITY)])
    servers.append(capacity)
    URL, CAPACITY_URL = main.url, capacity.url


def tearDownModule() -> None:
    for server in servers:
        server.stop()


def echo_client(url: str = "", **kwargs: object) -> oc.EnvClient:
    return oc.EnvClient(
        url or URL,
        action=echo_pb2.EchoAction,
        observation=echo_pb2.EchoObservation,
        state=echo_pb2.EchoState,
        **kwargs,  # type: ignore[arg-type]
    )


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def session_exists(client: oc.EnvClient, session_id: str) -> bool:
    try:
        client.stub.State(oc.service_pb2.StateRequest(session_id=session_id), timeout=10)
        return True
    except grpc.RpcError as err:
        if err.code() == grpc.StatusCode.NOT_FOUND:  # type: ignore[attr-defined]
            return False
        raise


class EpisodeTest(unittest.TestCase):
    def test_reset_many_steps_and_state(self) -> None:
        with echo_client() as env:
            first = env.reset(seed=7, episode_id="ep-1")
            self.assertIsInstance(first.observation, echo_pb2.EchoObservation)
            self.assertEqual(first.observation.echoed_message, "Echo environment ready!")
            self.assertEqual(first.episode_id, "ep-1")
            self.assertEqual(first.step_count, 0)
            self.assertFalse(first.done)
            self.assertRegex(env.session_id or "", r"^[0-9a-f-]{36}$")
            messages = [f"message {i} héllo wörld" * (i % 3 + 1) for i in range(200)]
            total = 0
            for i, message in enumerate(messages):
                result = env.step(echo_pb2.EchoAction(message=message))
                self.assertIsInstance(result.observation, echo_pb2.EchoObservation)
                self.assertEqual(result.observation.echoed_message, message)
                self.assertEqual(result.observation.message_length, len(message))
                self.assertAlmostEqual(result.reward or 0.0, 0.1 * len(message))
                self.assertEqual(result.step_count, i + 1)
                self.assertEqual(result.metadata, {"original_message": message, "step": i + 1})
                self.assertFalse(result.done or result.terminated or result.truncated)
                total += len(message)
            state = env.state()
            self.assertIsInstance(state, echo_pb2.EchoState)
            self.assertEqual(state.episode_id, "ep-1")
            self.assertEqual(state.step_count, len(messages))
            self.assertEqual(state.total_characters, total)

    def test_actions_as_dict_and_keywords(self) -> None:
        with echo_client() as env:
            env.reset()
            self.assertEqual(env.step({"message": "from a dict"}).observation.echoed_message, "from a dict")
            self.assertEqual(env.step(message="from keywords").observation.echoed_message, "from keywords")
            self.assertEqual(env.step().observation.echoed_message, "")
            with self.assertRaises(oc.InvalidArgumentError) as caught:
                env.step({"no_such_field": 1})
            self.assertIn("no_such_field", caught.exception.message)
            with self.assertRaises(TypeError):
                env.step({"message": "x"}, message="y")

    def test_many_episodes_on_one_stream(self) -> None:
        with echo_client() as env:
            env.reset()
            stream = env._stream
            session = env.session_id
            for episode in range(25):
                first = env.reset(seed=episode, episode_id=f"episode-{episode}")
                self.assertEqual(first.episode_id, f"episode-{episode}")
                self.assertEqual(first.step_count, 0)
                for i in range(4):
                    self.assertEqual(env.step(message="x").step_count, i + 1)
                self.assertEqual(env.state().step_count, 4)
            self.assertIs(env._stream, stream, "every episode ran on the first Step stream")
            self.assertEqual(env.session_id, session, "every episode ran in the same session")

    def test_learns_generated_classes_from_describe(self) -> None:
        with oc.EnvClient(URL) as env:
            self.assertIs(env.action_type, echo_pb2.EchoAction)
            self.assertIs(env.observation_type, echo_pb2.EchoObservation)
            self.assertIs(env.state_type, echo_pb2.EchoState)
            self.assertEqual(env.info.metadata.name, "echo")  # type: ignore[union-attr]
            env.reset()
            self.assertIsInstance(env.step(message="typed").observation, echo_pb2.EchoObservation)

    def test_builds_classes_from_descriptors_without_generated_code(self) -> None:
        with oc.EnvClient(URL, verify=False, action=echo_pb2.EchoAction) as probe:
            info = probe.describe()
        classes = oc.message_classes(info, prefer_generated=False)
        observation_class = classes["observation"]
        assert observation_class is not None
        self.assertIsNot(observation_class, echo_pb2.EchoObservation)
        self.assertEqual(observation_class.DESCRIPTOR.full_name, "openenv.envs.echo.v1.EchoObservation")
        with oc.EnvClient(URL, verify=False, **classes) as env:  # type: ignore[arg-type]
            env.reset()
            action = classes["action"](message="dynamic")  # type: ignore[misc]
            result = env.step(action)
            self.assertEqual(result.observation.echoed_message, "dynamic")
            self.assertEqual(result.observation.message_length, 7)
            self.assertEqual(env.state().step_count, 1)

    def test_context_manager_ends_the_session(self) -> None:
        with echo_client() as env:
            env.reset()
            session = env.session_id
            assert session is not None
            self.assertTrue(session_exists(env, session))
        with echo_client() as other:
            wait_for(lambda: not session_exists(other, session))
        with self.assertRaises(oc.FailedPreconditionError):
            env.step(message="after close")
        env.close()  # a second close is a no-op

    def test_attaches_a_session_opened_by_unary_reset(self) -> None:
        with echo_client() as opener:
            opened = opener.stub.Reset(oc.service_pb2.ResetRequest(episode_id="unary"), timeout=10)
        with echo_client(session_id=opened.session_id) as env:
            result = env.step(message="attached")
            self.assertEqual(result.step_count, 1)
            self.assertEqual(result.episode_id, "unary")
            self.assertEqual(env.session_id, opened.session_id)

    def test_resumes_the_session_on_a_new_stream_after_a_drop(self) -> None:
        with echo_client() as env:
            env.reset(episode_id="resumed")
            env.step(message="before")
            dropped = env._stream
            assert dropped is not None
            dropped._call.cancel()  # the connection's stream goes away; the server keeps the session for its resume grace
            wait_for(lambda: dropped.broken)
            result = env.step(message="after")
            self.assertIsNot(env._stream, dropped)
            self.assertEqual((result.step_count, result.episode_id), (2, "resumed"))

    def test_rollout(self) -> None:
        with echo_client() as env:
            episode = oc.rollout(env, lambda obs: echo_pb2.EchoAction(message=f"{obs.message_length}!"), max_steps=30, seed=1)
        self.assertEqual(episode.steps, 30)
        self.assertEqual(len(episode.results), 31)
        self.assertFalse(episode.done)
        self.assertIsInstance(episode.observations[-1], echo_pb2.EchoObservation)
        # obs 0 has length 0 -> "0!" (2 chars) -> length 2 -> "2!" ... every action is 2 characters.
        self.assertEqual([a.message for a in episode.actions[:3]], ["0!", "2!", "2!"])
        self.assertAlmostEqual(episode.total_reward, 30 * 0.2)
        self.assertEqual(episode.results[-1].step_count, 30)


class ErrorTest(unittest.TestCase):
    def test_wrong_action_type_is_invalid_argument_from_the_server(self) -> None:
        # A client built with the wrong Action class (verify=False) sends an Any of EchoState.
        with oc.EnvClient(URL, action=echo_pb2.EchoState, observation=echo_pb2.EchoObservation, state=echo_pb2.EchoState, verify=False) as env:
            env.reset()
            with self.assertRaises(oc.InvalidArgumentError) as caught:
                env.step(echo_pb2.EchoState(episode_id="not an action"))
            err = caught.exception
            self.assertEqual(err.code, grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("openenv.envs.echo.v1.EchoAction", err.message)
            self.assertIsInstance(err, ValueError)
            # The error was in-band: the same stream and session keep working.
            stream = env._stream
            self.assertEqual(env.state().step_count, 0)
            self.assertIs(env._stream, stream)

    def test_wrong_action_type_is_refused_locally(self) -> None:
        with echo_client() as env:
            env.reset()
            with self.assertRaises(oc.InvalidArgumentError) as caught:
                env.step(echo_pb2.EchoState())  # type: ignore[arg-type]
            self.assertIn("expected type openenv.envs.echo.v1.EchoAction", str(caught.exception))
            self.assertEqual(env.state().step_count, 0, "nothing was sent")

    def test_client_for_another_environment_is_refused(self) -> None:
        with self.assertRaises(oc.FailedPreconditionError) as caught:
            oc.EnvClient(URL, action=echo_pb2.EchoState)
        self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
        self.assertIn("openenv.envs.echo.v1.EchoAction", caught.exception.message)

    def test_field_rule_violation_names_the_field(self) -> None:
        with echo_client() as env:
            env.reset()
            with self.assertRaises(oc.InvalidArgumentError) as caught:
                env.step(message="x" * (1048576 + 1))
            violations = caught.exception.violations
            self.assertEqual([(v.field, v.rule) for v in violations], [("message", "max_len")])
            self.assertEqual(env.step(message="ok").step_count, 1)

    def test_step_before_reset_is_failed_precondition(self) -> None:
        with echo_client() as env:
            with self.assertRaises(oc.FailedPreconditionError) as caught:
                env.step(message="too early")
            self.assertEqual(caught.exception.code, grpc.StatusCode.FAILED_PRECONDITION)
            self.assertIn("step before reset", caught.exception.message)
            with self.assertRaises(oc.FailedPreconditionError):
                env.state()
            self.assertEqual(env.reset().step_count, 0, "the stream is still usable")

    def test_unknown_session_is_not_found(self) -> None:
        with echo_client(session_id="no-such-session") as env:
            with self.assertRaises(oc.NotFoundError) as caught:
                env.step(message="hello?")
            self.assertEqual(caught.exception.code, grpc.StatusCode.NOT_FOUND)
            self.assertIn("no-such-session", caught.exception.message)
            self.assertIsInstance(caught.exception, LookupError)
        with echo_client() as env:
            with self.assertRaises(grpc.RpcError) as raw:
                env.stub.State(oc.service_pb2.StateRequest(session_id="no-such-session"), timeout=10)
            mapped = oc.from_rpc_error(raw.exception)
            self.assertIsInstance(mapped, oc.NotFoundError)
            self.assertIn("no-such-session", mapped.message)

    def test_capacity_is_resource_exhausted(self) -> None:
        holders = [echo_client(CAPACITY_URL) for _ in range(CAPACITY)]
        try:
            for holder in holders:
                holder.reset()
            with echo_client(CAPACITY_URL) as extra:
                with self.assertRaises(oc.ResourceExhaustedError) as caught:
                    extra.reset()
                err = caught.exception
                self.assertEqual(err.code, grpc.StatusCode.RESOURCE_EXHAUSTED)
                self.assertEqual(err.message, f"Server at capacity: {CAPACITY}/{CAPACITY} sessions active. Cannot accept new connections.")
                capacity = err.capacity
                assert capacity is not None
                self.assertEqual((capacity.active_sessions, capacity.max_sessions), (CAPACITY, CAPACITY))
                # The unary Reset reports the same, with the detail in the grpc-status-details-bin trailer.
                with self.assertRaises(grpc.RpcError) as raw:
                    extra.stub.Reset(oc.service_pb2.ResetRequest(), timeout=10)
                unary = oc.from_rpc_error(raw.exception)
                self.assertIsInstance(unary, oc.ResourceExhaustedError)
                assert isinstance(unary, oc.ResourceExhaustedError)
                self.assertEqual(unary.capacity.max_sessions if unary.capacity else None, CAPACITY)
                # A freed slot is usable again, by the same client and stream.
                holders.pop().close()

                def reset_works() -> bool:
                    try:
                        extra.reset()
                        return True
                    except oc.ResourceExhaustedError:
                        return False

                wait_for(reset_works)
                self.assertEqual(extra.step(message="in").step_count, 1)
        finally:
            for holder in holders:
                holder.close()

    def test_unreachable_server_is_unavailable(self) -> None:
        with self.assertRaises(oc.UnavailableError) as caught:
            oc.EnvClient("http://127.0.0.1:1", rpc_timeout=10)
        self.assertIsInstance(caught.exception, ConnectionError)

    def test_every_status_code_has_a_class(self) -> None:
        for code in grpc.StatusCode:
            if code == grpc.StatusCode.OK:
                continue
            err = oc.errors.from_step_error(oc.service_pb2.StepError(code=code.value[0], message="m"))
            self.assertEqual(err.code, code)
            self.assertIs(type(err).status_code, code)
        self.assertIsInstance(oc.errors.from_step_error(oc.service_pb2.StepError(code=99, message="m")), oc.errors.UnknownError)


def async_echo_client(url: str = "", **kwargs: object) -> oc.AsyncEnvClient:
    return oc.AsyncEnvClient(
        url or URL,
        action=echo_pb2.EchoAction,
        observation=echo_pb2.EchoObservation,
        state=echo_pb2.EchoState,
        **kwargs,  # type: ignore[arg-type]
    )


class AsyncClientTest(unittest.IsolatedAsyncioTestCase):
    async def test_reset_many_steps_and_state(self) -> None:
        async with async_echo_client() as env:
            first = await env.reset(seed=3, episode_id="async-1")
            self.assertIsInstance(first.observation, echo_pb2.EchoObservation)
            self.assertEqual(first.episode_id, "async-1")
            for i in range(150):
                result = await env.step(message=f"m{i}")
                self.assertEqual(result.observation.echoed_message, f"m{i}")
                self.assertEqual(result.step_count, i + 1)
            state = await env.state()
            self.assertIsInstance(state, echo_pb2.EchoState)
            self.assertEqual(state.step_count, 150)

    async def test_learns_generated_classes_lazily(self) -> None:
        env = oc.AsyncEnvClient(URL)
        try:
            first = await env.reset()  # connects on first use
            self.assertIs(env.observation_type, echo_pb2.EchoObservation)
            self.assertIsInstance(first.observation, echo_pb2.EchoObservation)
        finally:
            await env.close()

    async def test_parallel_clients_each_keep_one_stream(self) -> None:
        async def run(index: int) -> None:
            async with async_echo_client() as env:
                await env.reset()
                stream, session = env._call, env.session_id
                for episode in range(3):
                    first = await env.reset(episode_id=f"c{index}-e{episode}")
                    self.assertEqual(first.step_count, 0)
                    for i in range(10):
                        result = await env.step(message=f"{index}:{i}")
                        self.assertEqual(result.observation.echoed_message, f"{index}:{i}")
                        self.assertEqual((result.step_count, result.episode_id), (i + 1, f"c{index}-e{episode}"))
                self.assertIs(env._call, stream)
                self.assertEqual(env.session_id, session)

        await asyncio.gather(*(run(i) for i in range(4)))

    async def test_in_band_errors_leave_the_stream_usable(self) -> None:
        async with async_echo_client() as env:
            with self.assertRaises(oc.FailedPreconditionError):
                await env.step(message="too early")
            await env.reset()
            with self.assertRaises(oc.InvalidArgumentError) as caught:
                await env.step(message="x" * (1048576 + 1))
            self.assertEqual([v.field for v in caught.exception.violations], ["message"])
            self.assertEqual((await env.step(message="ok")).step_count, 1)
        async with async_echo_client(session_id="no-such-session") as env:
            with self.assertRaises(oc.NotFoundError):
                await env.state()
        async with oc.AsyncEnvClient(URL, action=echo_pb2.EchoState, verify=False) as env:
            await env.reset()
            with self.assertRaises(oc.InvalidArgumentError) as wrong:
                await env.step(echo_pb2.EchoState())
            self.assertIn("openenv.envs.echo.v1.EchoAction", wrong.exception.message)

    async def test_capacity_detail_from_the_stream_and_from_a_unary_call(self) -> None:
        holders = [async_echo_client(CAPACITY_URL) for _ in range(CAPACITY)]
        try:
            for holder in holders:
                await holder.reset()
            async with async_echo_client(CAPACITY_URL) as extra:
                with self.assertRaises(oc.ResourceExhaustedError) as caught:
                    await extra.reset()
                self.assertEqual(caught.exception.capacity.max_sessions if caught.exception.capacity else None, CAPACITY)
                with self.assertRaises(grpc.RpcError) as raw:
                    await extra.stub.Reset(oc.service_pb2.ResetRequest(), timeout=10)
                unary = oc.from_rpc_error(raw.exception)
                assert isinstance(unary, oc.ResourceExhaustedError)
                self.assertEqual(unary.capacity.active_sessions if unary.capacity else None, CAPACITY)
        finally:
            for holder in holders:
                await holder.close()

    async def test_resumes_the_session_after_a_drop(self) -> None:
        async with async_echo_client() as env:
            await env.reset(episode_id="async-resume")
            await env.step(message="before")
            dropped = env._call
            assert dropped is not None
            dropped.cancel()
            result = await env.step(message="after")
            self.assertIsNot(env._call, dropped)
            self.assertEqual((result.step_count, result.episode_id), (2, "async-resume"))

    async def test_unreachable_server_is_unavailable(self) -> None:
        env = oc.AsyncEnvClient("http://127.0.0.1:1", rpc_timeout=10)
        with self.assertRaises(oc.UnavailableError):
            await env.connect()

    async def test_rollout_async_with_a_coroutine_policy(self) -> None:
        async def policy(observation: echo_pb2.EchoObservation) -> echo_pb2.EchoAction:
            await asyncio.sleep(0)
            return echo_pb2.EchoAction(message="abc")

        async with async_echo_client() as env:
            episode = await oc.rollout_async(env, policy, max_steps=20)
        self.assertEqual(episode.steps, 20)
        self.assertAlmostEqual(episode.total_reward, 20 * 0.3)


class UrlTest(unittest.TestCase):
    def test_grpc_target(self) -> None:
        self.assertEqual(oc.grpc_target("http://127.0.0.1:8000"), ("127.0.0.1:8000", False))
        self.assertEqual(oc.grpc_target("https://env.example.com"), ("env.example.com:443", True))
        self.assertEqual(oc.grpc_target("http://[::1]:9000/"), ("[::1]:9000", False))
        self.assertEqual(oc.grpc_target("localhost:8000"), ("localhost:8000", False))
        with self.assertRaises(ValueError):
            oc.grpc_target("http://host:80/prefix")
        with self.assertRaises(ValueError):
            oc.grpc_target("ws://host:80")


def _rules_test_action_class() -> type:
    """An Action message with an enum, allowed strings, bounded numbers and a oneof, built at run time."""
    from openenv.v1 import options_pb2

    file = descriptor_pb2.FileDescriptorProto(name="rules_test/v1/action.proto", package="rules_test.v1", syntax="proto3")
    file.dependency.append("openenv/v1/options.proto")
    enum = file.enum_type.add(name="Direction")
    for number, name in enumerate(["DIRECTION_UNSPECIFIED", "DIRECTION_UP", "DIRECTION_DOWN"]):
        enum.value.add(name=name, number=number)
    message = file.message_type.add(name="MoveAction")

    def add_field(name: str, number: int, kind: int, **rules: object) -> descriptor_pb2.FieldDescriptorProto:
        fd = message.field.add(name=name, number=number, type=kind, label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
        if rules:
            fd.options.Extensions[options_pb2.rules].CopyFrom(options_pb2.FieldRules(**rules))  # type: ignore[arg-type]
        return fd

    add_field("direction", 1, descriptor_pb2.FieldDescriptorProto.TYPE_ENUM).type_name = ".rules_test.v1.Direction"
    add_field("speed", 2, descriptor_pb2.FieldDescriptorProto.TYPE_INT32, gte=1, lte=3)
    add_field("mode", 3, descriptor_pb2.FieldDescriptorProto.TYPE_STRING, allowed=["walk", "run"])
    add_field("angle", 4, descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE, gte=0.0, lte=1.0)
    add_field("label", 5, descriptor_pb2.FieldDescriptorProto.TYPE_STRING, min_len=2, max_len=4)
    message.oneof_decl.add(name="extra")
    for number, name in [(6, "jump"), (7, "crouch")]:
        add_field(name, number, descriptor_pb2.FieldDescriptorProto.TYPE_BOOL).oneof_index = 0
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(descriptor_pb2.DescriptorProto.DESCRIPTOR.file.serialized_pb)
    pool.AddSerializedFile(options_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(file)
    descriptor = pool.FindMessageTypeByName("rules_test.v1.MoveAction")
    get_class = getattr(message_factory, "GetMessageClass", None)
    return get_class(descriptor) if get_class else message_factory.MessageFactory(pool).GetPrototype(descriptor)


class RandomPolicyTest(unittest.TestCase):
    def test_random_actions_follow_the_field_rules(self) -> None:
        cls = _rules_test_action_class()
        policy = oc.random_policy(cls, seed=5)
        seen_directions, seen_modes, seen_extra = set(), set(), set()
        for _ in range(200):
            action = policy(None)
            self.assertIn(action.direction, (1, 2))
            self.assertIn(action.speed, (1, 2, 3))
            self.assertIn(action.mode, ("walk", "run"))
            self.assertTrue(0.0 <= action.angle <= 1.0)
            self.assertTrue(2 <= len(action.label) <= 4)
            seen_directions.add(action.direction)
            seen_modes.add(action.mode)
            seen_extra.add(action.WhichOneof("extra"))
        self.assertEqual(seen_directions, {1, 2})
        self.assertEqual(seen_modes, {"walk", "run"})
        self.assertEqual(seen_extra, {"jump", "crouch"})

    def test_random_actions_follow_protovalidate_rules(self) -> None:
        from openenv.testing.v1 import validation_pb2

        policy = oc.random_policy(validation_pb2.ValidatedAction, seed=7)
        for _ in range(200):
            action = policy(None)
            self.assertTrue(2 <= len(action.name) <= 8)
            self.assertTrue(1 <= action.count <= 10)
            self.assertIn(action.mode, ("", "fast", "slow"))
            self.assertLessEqual(action.weight, 1.5)
            self.assertLessEqual(len(action.moves), 3)

    def test_random_policy_drives_echo(self) -> None:
        with echo_client() as env:
            episode = oc.rollout(env, oc.random_policy(env.action_type, seed=1), max_steps=5)
        self.assertEqual(episode.steps, 5)


class PackagingTest(unittest.TestCase):
    def test_coexists_with_openenv_core(self) -> None:
        # OpenEnv's own distribution is a regular package named `openenv`; the generated
        # `openenv.v1` / `openenv.envs.*` modules must still import next to it.
        with tempfile.TemporaryDirectory() as tmp:
            package = Path(tmp) / "openenv"
            (package / "core").mkdir(parents=True)
            (package / "__init__.py").write_text("IS_OPENENV_CORE = True\n")
            (package / "core" / "__init__.py").write_text("")
            script = textwrap.dedent(
                """
                import openenv
                assert openenv.IS_OPENENV_CORE
                import openenv_connect
                import openenv.core
                from openenv.envs.echo.v1 import echo_pb2
                from openenv.v1 import environment_service_pb2
                print(echo_pb2.EchoAction(message="ok").message)
                """
            )
            sdk = str(Path(oc.__file__).resolve().parents[1])
            env = {**os.environ, "PYTHONPATH": os.pathsep.join([tmp, sdk])}
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.strip(), "ok")


if __name__ == "__main__":
    unittest.main()
