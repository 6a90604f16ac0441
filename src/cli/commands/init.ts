import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";
import { discoverEnvironments } from "../../auto/discovery.js";
import { packageRoot, packageVersion } from "../../auto/modules.js";
import { envNameForm, normalizeEnvName, pascalCase } from "../../auto/names.js";
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

NAME: letters, digits and '_' ('-' reads as '_'). The npm package is
openenv-NAME, found by name inside its own project and wherever it is
installed; as in OpenEnv, a trailing '_env' is not part of the lookup key
(my_env is found as 'my_env' or 'my'). A name that a bundled environment
already has is allowed, with a warning: yours takes its place where it is
found. Nothing is downloaded.

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
    const envName = envNameForm(name);
    if (!/^[a-z][a-z0-9_]*$/.test(key) || key.includes("__") || key.endsWith("_") || !/^[a-z][a-z0-9_]*$/.test(envName)) {
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
    if (discoverEnvironments({ installed: false }).environments.has(key)) {
      io.err(
        `warning: '${envName}' is also the name of a bundled environment ('${key}'); in this project, and wherever this ` +
          "package is installed, yours takes its place ('openenv list' shows the bundled one as hidden)\n",
      );
    }
    const files = scaffoldFiles({
      name: envName,
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
    io.out(`Created openenv-${envName.replace(/_/g, "-")} (environment '${envName}') in ${shown}\n`);
    if (envName !== key) io.out(`Found by name as '${envName}' or '${key}' (a trailing _env is not part of the key, as in OpenEnv)\n`);
    for (const path of Object.keys(files).sort()) io.out(`  ${path}\n`);
    if (values["openenv-connect"] === undefined && spec.startsWith("file:"))
      io.out(`openenv-connect dependency: ${spec} (this checkout)\n`);
    io.out(`\nNext:\n  cd ${shown}\n  npm install\n  npm test\n  npx openenv validate .\n  npx openenv serve . --port 8000\n`);
    return ExitCode.ok;
  },
};
