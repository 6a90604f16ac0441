"""Tool (MCP) environments from the generated Python classes: Describe lists the tools with their
JSON Schemas, and a ToolAction step calls one (JSON arguments as a Struct, or the tool's own message).

Server: $OPENENV_MCP_URL (test/python-sdk.test.ts passes `mcp-echo`); when unset, an
`openenv serve mcp-echo` process is started here.
"""

from __future__ import annotations

import sys
import unittest
from pathlib import Path
from typing import List

from google.protobuf import json_format, struct_pb2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the SDK root: clients/python

import openenv_connect as oc  # noqa: E402
from openenv.envs.mcp_echo.v1 import mcp_echo_pb2  # noqa: E402
from openenv.v1 import tools_pb2  # noqa: E402
from servers import Server, server_from_env  # noqa: E402

servers: List[Server] = []
URL = ""


def setUpModule() -> None:
    global URL
    server = server_from_env("OPENENV_MCP_URL", "mcp-echo", [])
    servers.append(server)
    URL = server.url


def tearDownModule() -> None:
    for s in servers:
        s.stop()


def call(tool: str, **arguments: object) -> tools_pb2.ToolAction:
    args = struct_pb2.Struct()
    args.update(arguments)
    return tools_pb2.ToolAction(call_tool=tools_pb2.CallToolAction(tool_name=tool, arguments=args))


class ToolsFromPython(unittest.TestCase):
    def test_describe_lists_the_tools_with_schemas_and_message_types(self) -> None:
        with oc.EnvClient(URL) as env:
            described = env.describe()
            self.assertEqual(described.action_type, "openenv.v1.ToolAction")
            tools = {t.name: t for t in described.tools}
            self.assertEqual(sorted(tools), ["echo_message", "echo_with_length"])
            schema = json_format.MessageToDict(tools["echo_with_length"].input_schema)
            self.assertEqual(schema["required"], ["message"])
            self.assertEqual(schema["properties"]["message"]["type"], "string")
            self.assertEqual(tools["echo_with_length"].input_type, "openenv.envs.mcp_echo.v1.EchoArgs")
            self.assertEqual(tools["echo_with_length"].output_type, "openenv.envs.mcp_echo.v1.EchoWithLengthResult")

    def test_calls_tools_as_steps_with_json_and_typed_arguments(self) -> None:
        with oc.EnvClient(URL, action=tools_pb2.ToolAction, observation=tools_pb2.ToolObservation, state=mcp_echo_pb2.McpEchoState) as env:
            env.reset(seed=1)
            r = env.step(call("echo_with_length", message="from python"))
            result = r.observation.call_tool.result
            self.assertFalse(result.is_error)
            self.assertEqual(json_format.MessageToDict(result.structured_content), {"message": "from python", "length": 11})
            self.assertEqual(result.content[0].text, '{"message":"from python","length":11}')

            # The tool's own message in, its own message out.
            typed = tools_pb2.CallToolAction(tool_name="echo_with_length")
            typed.typed_arguments.Pack(mcp_echo_pb2.EchoArgs(message="typed"))
            r = env.step(tools_pb2.ToolAction(call_tool=typed))
            out = mcp_echo_pb2.EchoWithLengthResult()
            self.assertTrue(r.observation.call_tool.result.typed_result.Unpack(out))
            self.assertEqual((out.message, out.length), ("typed", 5))

            # OpenEnv's tool errors, in-band: the session goes on, every call a step.
            r = env.step(call("nope"))
            self.assertEqual(r.observation.call_tool.error.error_type, tools_pb2.TOOL_ERROR_TYPE_TOOL_NOT_FOUND)
            r = env.step(call("echo_message"))
            self.assertEqual(r.observation.call_tool.error.error_type, tools_pb2.TOOL_ERROR_TYPE_INVALID_ARGS)
            self.assertIn("Missing required argument", r.observation.call_tool.error.message)
            self.assertEqual(env.state().step_count, 4)


if __name__ == "__main__":
    unittest.main()
