import { parseArgs } from "node:util";
import { installFromHub } from "../../auto/hub.js";
import { parseEnvReference } from "../../auto/names.js";
import { type Command, ExitCode, UsageError } from "../common.js";

export const installCommand: Command = {
  name: "install",
  summary: "Install a Hub Space's environment package (after a y/N prompt)",
  help: `Usage: openenv install USER/ENV [--yes] [--project DIR] [--hub URL]

Installs the environment package of a Hugging Face Space with
'npm install git+<hub>/spaces/USER/ENV' into the project, after OpenEnv's
security warning and a [y/N] prompt. Without a terminal the install is
refused (not left waiting) unless --yes or OPENENV_TRUST_REMOTE_CODE=1.

Options:
  --yes, -y        install without asking (same as OPENENV_TRUST_REMOTE_CODE=1)
  --project DIR    the project to install into (default: .)
  --hub URL        Hub base URL (default: $OPENENV_HUB_URL or https://huggingface.co)

Example:
  openenv install openenv/echo_env
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { yes: { type: "boolean", short: "y" }, project: { type: "string" }, hub: { type: "string" } },
    });
    const id = positionals[0];
    if (id === undefined || positionals.length > 1) throw new UsageError("expected one Hub id (USER/ENV)");
    const ref = parseEnvReference(id);
    if (ref.kind !== "hub") throw new UsageError(`'${id}' is not a Hub id (USER/ENV)`);
    const info = await installFromHub(ref.repoId, {
      trustRemoteCode: values.yes,
      projectDir: values.project,
      hubUrl: values.hub,
      onProgress: (m) => io.err(`openenv: ${m}\n`),
    });
    io.out(`Installed ${info.package}: environment '${info.envKey}' (${info.description})\n`);
    return ExitCode.ok;
  },
};
