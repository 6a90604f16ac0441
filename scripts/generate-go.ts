// `npm run generate:go`: the Go client's generated code. First the protos `openenv proto` writes for
// OpenEnv's Python echo_env and maze_env (from their /schema, kept in test/fixtures/openenv-schemas),
// then `buf generate --template buf.gen.go.yaml` (Debian's protoc-gen-go and protoc-gen-go-grpc).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { protoFromSchemas } from "../src/gateway/generate.js";

const root = join(import.meta.dirname, "..");
const out = join(root, "examples", "go", "upstream-proto");
rmSync(out, { recursive: true, force: true });
for (const [fixture, pkg] of [
  ["echo_env", "openenv.upstream.echo.v1"],
  ["maze_env", "openenv.upstream.maze.v1"],
] as const) {
  const { schema } = JSON.parse(readFileSync(join(root, "test", "fixtures", "openenv-schemas", `${fixture}.json`), "utf8"));
  const generated = protoFromSchemas(schema, { package: pkg, source: `OpenEnv's ${fixture} (its /schema)` });
  const path = join(out, generated.model.path);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, generated.text);
}
execFileSync(join(root, "node_modules", ".bin", "buf"), ["generate", "--template", "buf.gen.go.yaml"], { cwd: root, stdio: "inherit" });
