import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../auto/modules.js";
import { type ContractNames, generatedPath, protoPackage, protoPath, renderGenerated, renderProto } from "./contract.js";

/** What `openenv init` needs to know. */
export interface ScaffoldOptions extends ContractNames {
  /** The name as the user gave it (`my_env`); `key` is its lookup key (`my`). */
  readonly name: string;
  /** npm version spec of the openenv-connect dependency (`^0.1.0`, `file:...`). */
  readonly openenvConnect: string;
  readonly description: string;
}

/** The scaffold's files, path → content. */
export function scaffoldFiles(o: ScaffoldOptions): Record<string, string> {
  const own = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const pin = (name: string): string => own.dependencies[name] ?? own.devDependencies[name] ?? "*";
  const pkgName = `openenv-${o.name.replace(/_/g, "-")}`;
  const cls = `${o.pascal}Environment`;
  const a = `${o.pascal}Action`;
  const ob = `${o.pascal}Observation`;
  const st = `${o.pascal}State`;
  const gen = `../gen/${generatedPath(o.key).replace(/\.ts$/, ".js")}`;
  const specName = `${o.key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())}Spec`;
  const title = `${o.pascal} environment`;
  return {
    "package.json": `${JSON.stringify(
      {
        name: pkgName,
        version: "0.1.0",
        description: o.description,
        type: "module",
        openenv: { manifest: "openenv.yaml" },
        files: ["dist/src", "dist/gen", "proto", "openenv.yaml", "README.md"],
        scripts: {
          build: "tsc -p tsconfig.build.json",
          prepare: "tsc -p tsconfig.build.json",
          generate: "buf generate",
          test: "node --import tsx --test test/environment.test.ts",
          serve: "openenv serve . --port 8000",
          validate: "openenv validate .",
        },
        dependencies: { "@bufbuild/protobuf": pin("@bufbuild/protobuf"), "openenv-connect": o.openenvConnect },
        devDependencies: {
          "@bufbuild/buf": pin("@bufbuild/buf"),
          "@bufbuild/protoc-gen-es": pin("@bufbuild/protoc-gen-es"),
          "@types/node": pin("@types/node"),
          tsx: pin("tsx"),
          typescript: pin("typescript"),
        },
      },
      null,
      2,
    )}\n`,
    "openenv.yaml": `spec_version: 1
name: ${o.name.endsWith("_env") ? o.name : `${o.name}_env`}
version: 0.1.0
description: ${JSON.stringify(o.description)}
type: space
runtime: openenv-connect
app: ./src/environment.js#${cls}
port: 8000
default_image: openenv-${o.key.replace(/_/g, "-")}:latest
action: ${protoPackage(o.key)}.${a}
observation: ${protoPackage(o.key)}.${ob}
state: ${protoPackage(o.key)}.${st}
`,
    [`proto/${protoPath(o.key)}`]: renderProto(o),
    [`gen/${generatedPath(o.key)}`]: renderGenerated(o),
    "src/environment.ts": `import { Environment, type EnvironmentSpec, type StepOutcome } from "openenv-connect/server";
import { type ${a}, ${a}Schema, ${ob}Schema, ${st}Schema } from "${gen}";

/** The ${o.key} environment's spec: its name and the generated schemas of its messages. */
export const ${specName}: EnvironmentSpec<typeof ${a}Schema, typeof ${ob}Schema, typeof ${st}Schema> = {
  name: "${o.key}",
  description: ${JSON.stringify(o.description)},
  version: "0.1.0",
  action: ${a}Schema,
  observation: ${ob}Schema,
  state: ${st}Schema,
};

/**
 * Echoes each message back; the reward is 0.1 per character.
 * Replace reset() and step() with your task, and the messages in
 * proto/${protoPath(o.key)} with your own (then \`npm run generate\`).
 */
export class ${cls} extends Environment<typeof ${a}Schema, typeof ${ob}Schema, typeof ${st}Schema> {
  static readonly spec = ${specName};

  reset(): StepOutcome<typeof ${ob}Schema> {
    return { observation: { echoedMessage: "${title} ready!", messageLength: 0 }, reward: 0 };
  }

  step(action: ${a}): StepOutcome<typeof ${ob}Schema> {
    const length = [...action.message].length;
    return { observation: { echoedMessage: action.message, messageLength: length }, reward: 0.1 * length };
  }

  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }
}
`,
    "test/environment.test.ts": `import { strict as assert } from "node:assert";
import { test } from "node:test";
import { EnvClient, serve } from "openenv-connect";
import { ${cls} } from "../src/environment.js";

test("a rollout over a real server", async () => {
  const server = await serve(${cls}, { port: 0 });
  try {
    const env = await EnvClient.connect({ baseUrl: server.url, spec: ${cls}.spec });
    const first = await env.reset({ seed: 1 });
    assert.equal(first.observation.echoedMessage, "${title} ready!");
    const result = await env.step({ message: "hello" });
    assert.equal(result.observation.echoedMessage, "hello");
    assert.equal(result.observation.messageLength, 5);
    assert.ok(Math.abs((result.reward ?? 0) - 0.5) < 1e-9);
    const state = await env.state();
    assert.equal(state.stepCount, 1);
    await env.close();
  } finally {
    await server.close();
  }
});
`,
    "README.md": `---
title: ${title}
sdk: docker
app_port: 8000
tags:
  - openenv
---

# ${title}

${o.description}

An [openenv-connect](https://www.npmjs.com/package/openenv-connect) environment: its contract is
\`proto/${protoPath(o.key)}\`, its logic \`src/environment.ts\`, its manifest \`openenv.yaml\`.

| message | fields |
| --- | --- |
| \`${a}\` | \`message\` (string) |
| \`${ob}\` | \`echoed_message\` (string), \`message_length\` (int32) |
| \`${st}\` | \`episode_id\` (string), \`step_count\` (uint32) |

## Develop

\`\`\`sh
npm install
npm test                       # a rollout against a real server
npx openenv validate .         # manifest, package, module, a short rollout
npx openenv serve . --port 8000
npm run generate               # after editing the .proto (buf + protoc-gen-es)
\`\`\`

## Use

Installed in a project (\`npm install ${pkgName}\`, or from a git URL), the environment is discovered by name:

\`\`\`ts
import { AutoAction, AutoEnv } from "openenv-connect";

const env = await AutoEnv.fromEnv("${o.key}");
const ${a} = await AutoAction.fromEnv("${o.key}");
await env.reset();
const result = await env.step(new ${a}({ message: "hello" }));
console.log(result.observation, result.reward);
await env.close();
\`\`\`
`,
    "tsconfig.json": `${JSON.stringify(
      {
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022", "ESNext.Disposable", "DOM"],
          types: ["node"],
          strict: true,
          verbatimModuleSyntax: true,
          skipLibCheck: true,
          declaration: true,
          sourceMap: true,
          rootDir: ".",
          outDir: "dist",
        },
        include: ["src", "gen", "test"],
      },
      null,
      2,
    )}\n`,
    "tsconfig.build.json": `${JSON.stringify({ extends: "./tsconfig.json", include: ["src", "gen"] }, null, 2)}\n`,
    "buf.yaml": `# buf.yaml: https://buf.build/docs/configuration/v2/buf-yaml
version: v2
modules:
  - path: proto
lint:
  use:
    - STANDARD
`,
    "buf.gen.yaml": `# buf.gen.yaml: https://buf.build/docs/configuration/v2/buf-gen-yaml
version: v2
clean: true
inputs:
  - directory: proto
plugins:
  - local: node_modules/.bin/protoc-gen-es
    out: gen
    include_imports: false
    opt:
      - target=ts
      - import_extension=js
`,
    ".gitignore": "node_modules/\ndist/\n",
    ".dockerignore": "node_modules/\ndist/\n.git/\n",
    Dockerfile: `# The image the Docker provider runs (default_image in openenv.yaml):
#   npx openenv build .      (docker build --network host --build-arg BASE=<base> -t openenv-${o.key.replace(/_/g, "-")}:latest .)
# BASE: any image with node 22 or later. openenv-connect comes from the npm registry, or
# from a tarball inside this directory (a file: dependency outside it is not in the build context).
ARG BASE=node:22-bookworm-slim
FROM \${BASE}
WORKDIR /app
COPY . .
RUN npm install --no-audit --no-fund && npm run build && npm prune --omit=dev
ENV OPENENV_HOST=0.0.0.0 OPENENV_PORT=8000
EXPOSE 8000
CMD ["node", "node_modules/openenv-connect/bin/openenv.js", "serve", "."]
`,
  };
}
