// A soak client process: drives its sessions' Step streams as fast as the server
// answers, one step in flight per session, and resumes them after every failure:
// a new stream attaches the session by id and retries the same request id, which the
// server answers from its record if it had applied it (exactly once). The driver may
// drop this process's connections ("drop") or SIGKILL it at any moment.
import { create, fromBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { EchoActionSchema, EchoObservationSchema, EchoStateSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { EnvironmentService } from "../gen/openenv/v1/environment_service_pb.js";
import { StepChannel } from "../src/client/step-channel.js";
import { connectStepStream, http2StepStream } from "../src/client/step-streams.js";
import { createTransport, type OwnedTransport } from "../src/client/transports.js";
import { jsonRegistry } from "../src/protocol/descriptors.js";
import type { ClientCounters, ClientMessage, DriverMessage, SessionPlan, SessionProgress } from "./protocol.js";

/** A request unanswered for this long is abandoned and retried on a new stream. */
const REQUEST_TIMEOUT_MS = 20_000;
/** Attempts per request before it counts as lost. */
const MAX_ATTEMPTS = 200;

const counters: ClientCounters = { sends: 0, retries: 0, mismatched: 0, resumes: 0, errors: {}, samples: {} };
let url = "";

const registry = jsonRegistry([EchoActionSchema, EchoObservationSchema, EchoStateSchema]);
const echoAction = (message: string) => anyPack(EchoActionSchema, create(EchoActionSchema, { message }));
let stopping = false;

/** This process's HTTP/2 connections: one for the raw channels, one for connect-node's client. */
class Connections {
  fast: OwnedTransport | undefined;
  json: OwnedTransport | undefined;

  get(kind: "fast" | "json"): OwnedTransport {
    if (kind === "fast") {
      this.fast ??= createTransport({ kind: "grpc", baseUrl: url });
      return this.fast;
    }
    this.json ??= createTransport({ kind: "connect-json", baseUrl: url, registry });
    return this.json;
  }

  /** Chaos: cut both connections under every stream using them. */
  drop(): void {
    this.fast?.close();
    this.json?.close();
    this.fast = undefined;
    this.json = undefined;
  }
}
const connections = new Connections();

class SoakSession {
  sessionId: string | undefined;
  acked: number;
  givenUp = 0;
  private channel: StepChannel | undefined;

  constructor(private readonly plan: SessionPlan) {
    this.sessionId = plan.sessionId;
    this.acked = plan.acked;
  }

  progress(): SessionProgress {
    return { key: this.plan.key, sessionId: this.sessionId, acked: this.acked, givenUp: this.givenUp };
  }

  async run(): Promise<void> {
    if (this.sessionId === undefined) {
      const ok = await this.request({ command: { case: "reset", value: {} } }, `${this.plan.key}.reset`, undefined);
      if (!ok) return;
      report("progress"); // the driver must learn the new session's id as soon as possible
    }
    while (!stopping) {
      const seq = this.acked + 1;
      const message = `${this.plan.key}:${seq}`;
      const ok = await this.request({ command: { case: "action", value: echoAction(message) } }, `${this.plan.key}.${seq}`, {
        message,
        seq,
      });
      if (!ok) {
        this.givenUp++;
        return;
      }
      this.acked = seq;
    }
    // Half-close: the server ends the session with the stream.
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => {});
  }

  private open(): StepChannel {
    const kind = this.plan.kind;
    if (kind === "connect-json") {
      return new StepChannel(connectStepStream(createClient(EnvironmentService, connections.get("json").transport)));
    }
    const direct = connections.get("fast").direct;
    if (direct === undefined) throw new Error("no HTTP/2 connection");
    const protocol = kind === "fast-grpc" ? "grpc" : kind === "fast-connect" ? "connect" : "grpc-web";
    return new StepChannel(http2StepStream({ ...direct, protocol }));
  }

  /** Sends one request until it is answered (retrying the same id on new streams); false if it never was. */
  private async request(
    init: Parameters<StepChannel["request"]>[0],
    id: string,
    expect: { message: string; seq: number } | undefined,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) counters.retries++;
      let channel = this.channel;
      if (channel === undefined || channel.broken !== undefined) {
        channel = this.open();
        this.channel = channel;
        if (this.sessionId !== undefined) counters.resumes++;
      }
      counters.sends++;
      let timer: NodeJS.Timeout | undefined;
      try {
        const reply = await Promise.race([
          channel.request({ ...init, sessionId: this.sessionId ?? "" }, undefined, id),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("no reply in time")), REQUEST_TIMEOUT_MS);
          }),
        ]);
        if (channel.sessionId !== undefined) this.sessionId = channel.sessionId;
        if (expect !== undefined) {
          const obs = reply.case === "result" ? reply.value.observation : undefined;
          const ok =
            reply.case === "result" &&
            reply.value.stepCount === expect.seq &&
            obs !== undefined &&
            fromBinary(EchoObservationSchema, obs.value).echoedMessage === expect.message;
          if (!ok) counters.mismatched++;
        }
        return true;
      } catch (err) {
        const e = ConnectError.from(err, Code.Internal);
        const name = codeName(e.code);
        counters.errors[name] = (counters.errors[name] ?? 0) + 1;
        counters.samples[name] ??= e.rawMessage.slice(0, 200);
        if (channel.broken === undefined) {
          // An in-band error or a timeout: start over on a fresh stream.
          void channel.cancel().catch(() => {});
        }
        this.channel = undefined;
        if (e.code === 5 /* NOT_FOUND: the session is gone, nothing to resume */) return false;
        await new Promise((r) => setTimeout(r, Math.min(1_000, 5 * 2 ** Math.min(attempt, 8))));
      } finally {
        clearTimeout(timer);
      }
    }
    return false;
  }
}

function codeName(code: number): string {
  return (
    [
      "ok",
      "canceled",
      "unknown",
      "invalid_argument",
      "deadline_exceeded",
      "not_found",
      "already_exists",
      "permission_denied",
      "resource_exhausted",
      "failed_precondition",
      "aborted",
      "out_of_range",
      "unimplemented",
      "internal",
      "unavailable",
      "data_loss",
      "unauthenticated",
    ][code] ?? `code_${code}`
  );
}

let sessions: SoakSession[] = [];
const report = (type: ClientMessage["type"]): void => {
  process.send?.({ type, sessions: sessions.map((s) => s.progress()), counters } satisfies ClientMessage);
};

process.on("message", (msg: DriverMessage) => {
  if (msg.type === "init") {
    url = msg.url;
    sessions = msg.sessions.map((p) => new SoakSession(p));
    const ticker = setInterval(() => report("progress"), 100);
    void Promise.all(sessions.map((s) => s.run())).then(() => {
      clearInterval(ticker);
      connections.drop();
      report("done");
      process.disconnect?.();
    });
  } else if (msg.type === "drop") {
    connections.drop();
  } else if (msg.type === "stop") {
    stopping = true;
  }
});
// Never outlive the driver (it holds our IPC channel).
process.on("disconnect", () => setTimeout(() => process.exit(0), 100).unref());
