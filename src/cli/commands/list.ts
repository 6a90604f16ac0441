import { parseArgs } from "node:util";
import { discoverEnvironments } from "../../auto/discovery.js";
import { type Command, ExitCode, table } from "../common.js";

export const listCommand: Command = {
  name: "list",
  summary: "List the environments that are bundled or installed",
  help: `Usage: openenv list [--json] [--project DIR]

Lists every environment discovery finds: the bundled ones and installed npm
packages that carry an openenv.yaml (named openenv-* or declaring
"openenv": {"manifest": ...} in package.json). Nothing is imported.
Invalid manifests are reported on stderr with file, line and field.

Options:
  --json           print a JSON array instead of a table
  --project DIR    project whose node_modules are scanned (default: .)

Example:
  openenv list
`,
  async run(args, io) {
    const { values } = parseArgs({ args, options: { json: { type: "boolean" }, project: { type: "string" } }, strict: true });
    const discovery = discoverEnvironments({ projectDir: values.project });
    const envs = [...discovery.environments.values()];
    if (values.json) {
      io.out(
        `${JSON.stringify(
          envs.map((e) => ({
            env_key: e.envKey,
            name: e.name,
            version: e.version,
            description: e.description,
            source: e.source,
            package: e.package,
            manifest: e.manifestPath,
            action: e.actionType,
          })),
          null,
          2,
        )}\n`,
      );
    } else if (envs.length === 0) {
      io.out("No OpenEnv environments found.\nInstall an environment with: npm install openenv-<env-name>\n");
    } else {
      io.out(
        `${table([["NAME", "VERSION", "SOURCE", "DESCRIPTION"], ...envs.map((e) => [e.envKey, e.version, e.source === "installed" ? e.package : e.source, e.description])])}\n`,
      );
    }
    for (const p of discovery.problems) io.err(`warning: ${p.message}\n`);
    for (const s of discovery.shadowed)
      io.err(`note: ${s.package} (${s.manifestPath}) is hidden by another environment named '${s.envKey}'\n`);
    return ExitCode.ok;
  },
};
