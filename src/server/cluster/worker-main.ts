// Entry point of a cluster worker process (forked by serveCluster).
import cluster from "node:cluster";
import { isClusterMessage } from "./messages.js";
import { WORKER_CONFIG_ENV, type WorkerConfig } from "./options.js";

const raw = process.env[WORKER_CONFIG_ENV];
if (!cluster.isWorker || raw === undefined) {
  process.stderr.write("openenv: this module is the entry point of serveCluster's worker processes; it is not run directly\n");
  process.exit(2);
}
// Loading the server takes a while: a shutdown that arrives meanwhile ends the process at once.
const early = (msg: unknown): void => {
  if (isClusterMessage(msg) && msg.openenv === "shutdown") process.exit(0);
};
process.on("message", early);
try {
  const { runWorker } = await import("./worker.js");
  process.off("message", early);
  await runWorker(JSON.parse(raw) as WorkerConfig);
} catch (err) {
  process.stderr.write(
    `openenv[worker ${cluster.worker?.id ?? "?"}, pid ${process.pid}]: failed to start: ${(err as Error).stack ?? String(err)}\n`,
  );
  process.exit(1);
}
