import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { McpEchoEnvironment } from "../../src/envs/mcp_echo/environment.js";
import { serve } from "../../src/server/serve.js";
import { startH1Proxy } from "../fixtures/h1-proxy.js";
import { ToolTestEnvironment } from "../fixtures/tool-env.js";
import { browserTestsRun, useWebSuite } from "../fixtures/web-suite.js";

/**
 * The /web page's tools panel for tool (MCP) environments, in Debian's Chromium
 * (headless, playwright-core): the tools listed from Describe (or from MCP's
 * tools/list over OpenEnv's /ws), an argument form generated from each tool's
 * input schema, a call that is a step of the page's session (history, reward),
 * the tool's result, its errors at the argument they name, progress, and the
 * episode's end. CI installs chromium (.ci/run); elsewhere a missing browser skips.
 */

const suite = useWebSuite();
const servers = suite.servers;

async function openPage(url: string): Promise<Page> {
  const page = await suite.browser().context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) problems.push(m.text());
  });
  await page.goto(`${url}/web/`);
  await page.waitForSelector("body[data-ready]", { timeout: 20_000 });
  expect(problems).toEqual([]);
  return page;
}

const historyRows = (page: Page): Promise<number> => page.locator("#history tbody tr").count();

async function reset(page: Page): Promise<void> {
  const rows = await historyRows(page);
  await page.click("#reset");
  await expect.poll(() => historyRows(page)).toBe(rows + 1);
}

/** Calls the chosen tool and waits for its result (one more history row, the result's badges). */
async function callTool(page: Page): Promise<void> {
  const rows = await historyRows(page);
  await page.click("#call-tool");
  await expect.poll(() => historyRows(page), { timeout: 20_000 }).toBe(rows + 1);
  await page.waitForSelector("#tool-status");
}

const toolNames = (page: Page): Promise<string[]> =>
  page.locator("#tool-select option").evaluateAll((os) => os.map((o) => o.textContent ?? ""));

describe.skipIf(!browserTestsRun)("/web tools panel in Chromium", { timeout: 120_000 }, () => {
  it("mcp-echo: lists the tools, calls one from its generated form as a step, shows the result; invalid arguments at their field", async () => {
    const server = await serve(McpEchoEnvironment, { port: 0 });
    servers.push(server);
    const page = await openPage(server.url);
    expect(await page.textContent("#transport")).toContain("Step stream");
    expect(await toolNames(page)).toEqual(["echo_message", "echo_with_length"]);
    expect(await page.textContent("#tool-description")).toContain("Echo back the provided message.");
    expect(await page.isDisabled("#call-tool")).toBe(true); // no session before a reset
    await reset(page);

    await page.selectOption("#tool-select", "echo_with_length");
    expect(await page.textContent("#tool-description")).toContain("with its length");
    await page.fill("#tool-arg-message", "hello tools");
    expect(JSON.parse(await page.inputValue("#tool-args-json"))).toEqual({ message: "hello tools" });
    await callTool(page);
    expect(await page.textContent("#tool-status")).toBe("ok");
    expect(await page.textContent("#tool-called")).toBe("echo_with_length");
    expect(JSON.parse((await page.textContent("#tool-result .tool-structured")) ?? "null")).toEqual({ message: "hello tools", length: 11 });
    expect(await page.textContent("#tool-result .tool-text")).toBe('{"message":"hello tools","length":11}');
    // The call was a step of the page's session: in the history as a call_tool action, and in the state.
    expect(await page.textContent("#history tbody tr:first-child")).toContain('"call_tool":{"tool_name":"echo_with_length"');
    await page.click("#get-state");
    await expect.poll(async () => JSON.parse((await page.textContent("#state")) ?? "null")).toMatchObject({ step_count: 1 });
    // The observation pane draws the tool's result too.
    expect(await page.textContent("#observation")).toContain("echo_with_length");

    // Arguments edited as JSON fill the form.
    await page.selectOption("#tool-select", "echo_message");
    await page.fill("#tool-args-json", JSON.stringify({ message: "from json" }));
    expect(await page.inputValue("#tool-arg-message")).toBe("from json");
    await callTool(page);
    expect(await page.textContent("#tool-result .tool-text")).toBe("from json");

    // A missing argument: OpenEnv's invalid_args error (still a step), shown at the argument's field.
    await page.fill("#tool-arg-message", "");
    await callTool(page);
    expect(await page.textContent("#tool-status")).toBe("invalid_args");
    expect(await page.textContent("#tool-result .tool-error")).toContain("Missing required argument");
    expect(await page.textContent("#tool-arg-message-error")).toBe("Missing required argument");
    expect(await page.getAttribute("#tool-arg-message", "aria-invalid")).toBe("true");
    expect(await historyRows(page)).toBe(4);
    await page.close();
  });

  it("a tool environment with rewards: typed arguments, progress while a call runs, the reward and the episode's end", async () => {
    const server = await serve(ToolTestEnvironment, { port: 0 });
    servers.push(server);
    const page = await openPage(server.url);
    expect(await toolNames(page)).toContain("finish");
    expect(await toolNames(page)).not.toContain("prod_only"); // the server's mode decides the list
    await reset(page);

    await page.selectOption("#tool-select", "add");
    expect(await page.getAttribute("#tool-arg-a", "type")).toBe("number");
    await page.fill("#tool-arg-a", "2");
    await page.fill("#tool-arg-b", "40");
    await callTool(page);
    expect(await page.textContent("#tool-result .tool-text")).toBe("42");

    await page.selectOption("#tool-select", "slow");
    expect(await page.textContent("#tool-description")).toContain("time limit 0.2 s");
    await callTool(page);
    expect(await page.textContent("#tool-status")).toBe("timeout");
    expect(await page.textContent("#tool-result .tool-error")).toContain("Tool 'slow' timed out after 0.2 seconds");

    // Progress arrives as partial observations while the call runs (the live view keeps them).
    await page.selectOption("#tool-select", "progress");
    await callTool(page);
    expect(await page.textContent("#tool-result .tool-text")).toBe("done");
    expect(await page.textContent("#history tbody tr:first-child")).toContain("call_tool");
    // The row draws its body on the details' toggle event, which fires after the click returns.
    await page.click("#history tbody tr:first-child details summary");
    await expect.poll(() => page.textContent("#history tbody tr:first-child")).toContain("part 3 (3/3)");

    await page.selectOption("#tool-select", "finish");
    await callTool(page);
    expect(await page.textContent("#tool-reward")).toBe("reward 1");
    expect(await page.textContent("#tool-result")).toContain("terminated");
    expect(await page.textContent("#current-reward")).toContain("1.0");
    expect(await page.textContent("#history tbody tr:first-child")).toContain("solved: 1");
    // The episode is over: another call is refused until a reset.
    await page.click("#call-tool");
    await expect.poll(() => page.locator("#error").isVisible()).toBe(true);
    expect(await page.textContent("#error")).toMatch(/failed precondition.*over/i);
    await reset(page);
    await page.selectOption("#tool-select", "add");
    await page.fill("#tool-arg-a", "1");
    await page.fill("#tool-arg-b", "1");
    await callTool(page);
    expect(await page.textContent("#tool-result .tool-text")).toBe("2");
    await page.close();
  });

  it("against an OpenEnv-style server (no Describe): tools from MCP's tools/list over /ws, calls as OpenEnv's call_tool actions", async () => {
    const server = await serve(McpEchoEnvironment, { port: 0 });
    servers.push(server);
    const proxy = await startH1Proxy(server.url, { openenvOnly: true });
    try {
      const page = await openPage(proxy.url);
      expect(await page.textContent("#transport")).toContain("OpenEnv WebSocket");
      expect(await toolNames(page)).toEqual(["echo_message", "echo_with_length"]);
      await reset(page);
      await page.fill("#tool-arg-message", "over ws");
      await callTool(page);
      expect(await page.textContent("#tool-status")).toBe("ok");
      expect(await page.textContent("#tool-result .tool-text")).toBe("over ws");
      expect(await page.textContent("#history tbody tr:first-child")).toContain('"type":"call_tool"');
      await page.fill("#tool-arg-message", "");
      await callTool(page);
      expect(await page.textContent("#tool-status")).toBe("invalid_args");
      expect(await page.textContent("#tool-arg-message-error")).toBe("Missing required argument");
      await page.close();
    } finally {
      await proxy.close();
    }
  });
});
