import { parseArgs } from "node:util";
import { buildImage, defaultBaseImage } from "../../auto/build.js";
import { formatIssue } from "../../auto/manifest.js";
import { type Command, ExitCode, UsageError } from "../common.js";
import { resolveTarget } from "./serve.js";

export const buildCommand: Command = {
  name: "build",
  summary: "Build a Docker image of an environment (offline)",
  help: `Usage: openenv build [NAME|PATH] [--tag TAG] [--base IMAGE] [--quiet]

Builds an image of an environment with the local Docker engine, for the Docker
provider (AutoEnv.fromEnv(name, { provider: "docker" }), openenv serve --docker).
NAME is a discovered environment (bundled or installed); PATH (default .) a
directory with an openenv.yaml.

A package with its own Dockerfile (openenv init writes one) is built from its
directory with --build-arg BASE=<base>. Any other environment gets a generated
Dockerfile, and openenv-connect, its production dependencies and the
environment's package are copied from this installation into the build context:
nothing is downloaded but what the base image lacks (python3 and bubblewrap for
environments whose manifest has a sandbox section). Builds use the host network.

Options:
  --tag TAG      image tag (default: the manifest's default_image, openenv-<name>:latest)
  --base IMAGE   base image with node 22+ (default $OPENENV_BASE_IMAGE, else ${defaultBaseImage})
  --quiet        print only the tag

Examples:
  openenv build echo
  openenv build ./my-env --base openenv-base:bookworm
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { tag: { type: "string" }, base: { type: "string" }, quiet: { type: "boolean" } },
    });
    if (positionals.length > 1) throw new UsageError("expected at most one environment name or path");
    const info = await resolveTarget(positionals[0] ?? ".", {}, io);
    for (const w of info.warnings) io.err(`warning: ${formatIssue(w)}\n`);
    const quiet = values.quiet === true;
    const built = await buildImage(info, {
      tag: values.tag,
      base: values.base,
      onOutput: quiet ? undefined : (line) => io.err(`${line}\n`),
    });
    if (quiet) io.out(`${built.tag}\n`);
    else
      io.out(
        `openenv: built ${built.tag} (${built.dockerfile === "package" ? "the package's Dockerfile" : "generated Dockerfile"}, ${(built.durationMs / 1000).toFixed(1)} s)\n`,
      );
    return ExitCode.ok;
  },
};
