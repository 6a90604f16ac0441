import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { packageRoot, packageVersion } from "../../auto/modules.js";
import { normalizeEnvName, pascalCase } from "../../auto/names.js";
import { type Command, ExitCode, UsageError } from "../common.js";
import { scaffoldFiles } from "../scaffold/files.js";

/** The default openenv-connect dependency of a scaffold: this copy in a checkout, else the registry version. */
export function defaultOpenenvConnectSpec(): string {
  const root = packageRoot();
  return root.includes(`${sep}node_modules${sep}`) ? `^${packageVersion()}` : `file:${root}`;
}

export const initCommand: Command = {
  name: "init",
  summary: "Create a new environment package",
  help: `Usage: openenv init NAME [--dir DIR] [--description TEXT] [--openenv-connect SPEC]

Creates an environment package in DIR (default ./NAME), ready to test,
validate, serve and publish:

  proto/openenv/envs/NAME/v1/NAME.proto   the contract (Action, Observation, State)
  gen/.../NAME_pb.ts                      generated code (npm run generate redoes it)
  src/environment.ts                      the Environment class (an echo to start from)
  test/environment.test.ts                a rollout against a real server (npm test)
  openenv.yaml, package.json, README.md, tsconfig*.json, buf*.yaml, Dockerfile

NAME: letters, digits and '_' (a '-env'/'_env' suffix is dropped). The npm
package is openenv-NAME, discoverable once installed. Nothing is downloaded.

Options:
  --dir DIR               where to create it (must not exist, or be empty)
  --description TEXT      one-line description
  --openenv-connect SPEC  version spec of the openenv-connect dependency
                          (default: ^<this version>, or file:<this checkout>)

Example:
  openenv init my_game && cd my_game && npm install && npm test
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { dir: { type: "string" }, description: { type: "string" }, "openenv-connect": { type: "string" } },
    });
    const name = positionals[0];
    if (name === undefined || positionals.length > 1) throw new UsageError("expected one environment NAME");
    const key = normalizeEnvName(name);
    if (!/^[a-z][a-z0-9_]*$/.test(key) || key.includes("__") || key.endsWith("_")) {
      throw new UsageError(
        `'${name}' is not a valid environment name: use lower-case letters, digits and single '_', starting with a letter`,
      );
    }
    const dir = resolve(values.dir ?? name);
    if (existsSync(dir) && readdirSync(dir).length > 0) {
      io.err(`Error: ${dir} exists and is not empty; choose another --dir\n`);
      return ExitCode.failure;
    }
    const spec = values["openenv-connect"] ?? defaultOpenenvConnectSpec();
    const files = scaffoldFiles({
      key,
      pascal: pascalCase(key),
      openenvConnect: spec,
      description: values.description ?? `${pascalCase(key)}: an openenv-connect environment`,
    });
    for (const [path, content] of Object.entries(files)) {
      const target = join(dir, path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, content);
    }
    const shown = relative(process.cwd(), dir) || ".";
    io.out(`Created openenv-${key.replace(/_/g, "-")} (environment '${key}') in ${shown}\n`);
    for (const path of Object.keys(files).sort()) io.out(`  ${path}\n`);
    if (values["openenv-connect"] === undefined && spec.startsWith("file:"))
      io.out(`openenv-connect dependency: ${spec} (this checkout)\n`);
    io.out(`\nNext:\n  cd ${shown}\n  npm install\n  npm test\n  npx openenv validate .\n  npx openenv serve . --port 8000\n`);
    return ExitCode.ok;
  },
};
