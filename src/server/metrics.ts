import type * as http from "node:http";
import { Code } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";
import type { CallKind, SessionObserver } from "../core/session-observer.js";
import type { HttpSurface } from "./serve.js";

/** Upper bounds of the call latency histograms, in seconds: from an echo step (~0.1 ms) to a long coding step. */
export const latencyBuckets: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** A Connect code as a Prometheus label: `not_found`, `resource_exhausted`, ... */
function codeLabel(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

/**
 * A histogram that counts into plain arrays and answers prom-client's
 * `get()` when scraped. prom-client's own `Histogram.observe` costs about a
 * microsecond (it allocates and hashes labels on every call), which is a few
 * percent of an echo step; this costs a bucket scan.
 */
class LatencyHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly counts: Float64Array[] = [];
  private readonly sums: number[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    /** One series per label value, e.g. the call kinds. */
    private readonly series: readonly string[],
    private readonly label: string,
  ) {
    for (let i = 0; i < series.length; i++) {
      this.counts.push(new Float64Array(latencyBuckets.length + 1));
      this.sums.push(0);
    }
  }

  observe(series: number, seconds: number): void {
    const counts = this.counts[series] as Float64Array;
    let i = 0;
    while (i < latencyBuckets.length && seconds > (latencyBuckets[i] as number)) i++;
    counts[i] = (counts[i] as number) + 1;
    this.sums[series] = (this.sums[series] as number) + seconds;
  }

  /** prom-client's metric shape (what its registry formats, and what AggregatorRegistry merges). */
  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: object[] }> {
    const values: object[] = [];
    for (const [s, value] of this.series.entries()) {
      const counts = this.counts[s] as Float64Array;
      let total = 0;
      for (const [i, le] of latencyBuckets.entries()) {
        total += counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { [this.label]: value, le }, value: total });
      }
      total += counts[latencyBuckets.length] as number;
      values.push({ metricName: `${this.name}_bucket`, labels: { [this.label]: value, le: "+Inf" }, value: total });
      values.push({ metricName: `${this.name}_sum`, labels: { [this.label]: value }, value: this.sums[s] });
      values.push({ metricName: `${this.name}_count`, labels: { [this.label]: value }, value: total });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    for (const c of this.counts) c.fill(0);
    this.sums.fill(0);
  }
}

const CALLS: readonly CallKind[] = ["reset", "step", "state"];

/** What the server's metrics describe it by (labels on every series). */
export interface MetricsLabels {
  /** The environment's name. */
  readonly environment: string;
  /** The replica id, when the server has one. */
  readonly replica?: string | undefined;
}

/**
 * The server's Prometheus metrics (`GET /metrics`), fed by the session core
 * as a {@link SessionObserver}: every transport's sessions and calls end in the
 * same place, so they are counted the same way.
 *
 * | metric | type | what |
 * | --- | --- | --- |
 * | `openenv_sessions_open` | gauge | sessions open now |
 * | `openenv_sessions_max` | gauge | the session limit |
 * | `openenv_sessions_opened_total` | counter | sessions opened |
 * | `openenv_sessions_refused_total{code}` | counter | opens refused: `resource_exhausted` (full), `unavailable` (draining), `internal` (the factory failed) |
 * | `openenv_sessions_closed_total` | counter | sessions closed |
 * | `openenv_resets_total`, `openenv_steps_total`, `openenv_state_reads_total` | counter | calls answered with a result |
 * | `openenv_call_duration_seconds{call}` | histogram | latency of resets, steps and state reads, as their callers saw it (queueing included; failed calls too) |
 * | `openenv_errors_total{code}` | counter | every error answered: failed calls, refused opens, unknown or lost sessions, invalid actions |
 * | `openenv_lost_session_calls_total` | counter | calls for a session lost with another replica (or an earlier life of this one) |
 * | `openenv_resumes_total` | counter | sessions taken over by a new stream or socket (a resume after a drop, or a takeover) |
 *
 * Plus prom-client's default process metrics (`process_*`, `nodejs_*`: CPU, memory, event loop lag).
 */
export class ServerMetrics implements SessionObserver {
  readonly registry = new Registry();
  private readonly opens: Counter;
  private readonly refusals: Counter<"code">;
  private readonly closes: Counter;
  private readonly results: Counter[];
  private readonly errors: Counter<"code">;
  private readonly lost: Counter;
  private readonly resumes: Counter;
  private readonly latency: LatencyHistogram;

  constructor(labels: MetricsLabels, sessions: { readonly active: () => number; readonly max: () => number }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels(labels.replica === undefined ? { environment: labels.environment } : { ...labels });
    new Gauge({
      name: "openenv_sessions_open",
      help: "Sessions open now.",
      registers,
      collect() {
        this.set(sessions.active());
      },
    });
    new Gauge({
      name: "openenv_sessions_max",
      help: "The most sessions this server opens at once.",
      registers,
      collect() {
        this.set(sessions.max());
      },
    });
    this.opens = new Counter({ name: "openenv_sessions_opened_total", help: "Sessions opened.", registers });
    this.refusals = new Counter({
      name: "openenv_sessions_refused_total",
      help: "Opens refused: resource_exhausted (full), unavailable (draining), internal (the factory failed).",
      labelNames: ["code"],
      registers,
    });
    this.closes = new Counter({ name: "openenv_sessions_closed_total", help: "Sessions closed.", registers });
    this.results = [
      new Counter({ name: "openenv_resets_total", help: "Resets answered with a result.", registers }),
      new Counter({ name: "openenv_steps_total", help: "Steps answered with a result.", registers }),
      new Counter({ name: "openenv_state_reads_total", help: "State reads answered.", registers }),
    ];
    this.errors = new Counter({
      name: "openenv_errors_total",
      help: "Errors answered, by code: failed calls, refused opens, unknown or lost sessions, invalid actions.",
      labelNames: ["code"],
      registers,
    });
    this.lost = new Counter({
      name: "openenv_lost_session_calls_total",
      help: "Calls for a session lost with another replica, or with an earlier life of this one.",
      registers,
    });
    this.resumes = new Counter({
      name: "openenv_resumes_total",
      help: "Sessions taken over by a new stream or socket: resumes after a drop, and takeovers.",
      registers,
    });
    this.latency = new LatencyHistogram(
      "openenv_call_duration_seconds",
      "Latency of resets, steps and state reads as their callers saw it (queueing included, failed calls too).",
      CALLS,
      "call",
    );
    this.registry.registerMetric(this.latency as unknown as Metric);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The metrics in Prometheus' text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  opened(): void {
    this.opens.inc();
  }

  refused(code: Code): void {
    const label = codeLabel(code);
    this.refusals.inc({ code: label });
    this.errors.inc({ code: label });
  }

  closed(): void {
    this.closes.inc();
  }

  call(kind: CallKind, seconds: number, error: Code | undefined): void {
    const series = kind === "step" ? 1 : kind === "reset" ? 0 : 2;
    this.latency.observe(series, seconds);
    if (error === undefined) (this.results[series] as Counter).inc();
    else this.errors.inc({ code: codeLabel(error) });
  }

  rejected(code: Code, lost: boolean): void {
    this.errors.inc({ code: codeLabel(code) });
    if (lost) this.lost.inc();
  }

  resumed(): void {
    this.resumes.inc();
  }
}

/** `GET /metrics`: the metrics in Prometheus' text format. */
export function metricsSurface(metrics: ServerMetrics): HttpSurface {
  return {
    handle(req, res) {
      const url = req.url ?? "/";
      if (url !== "/metrics" && !url.startsWith("/metrics?")) return false;
      const out = res as http.ServerResponse;
      if (req.method !== "GET" && req.method !== "HEAD") {
        out.writeHead(405, { allow: "GET", "content-type": "application/json" });
        out.end(JSON.stringify({ detail: "Method Not Allowed" }));
        return true;
      }
      metrics.text().then(
        (text) => {
          out.writeHead(200, { "content-type": metrics.registry.contentType, "content-length": Buffer.byteLength(text) });
          out.end(req.method === "HEAD" ? undefined : text);
        },
        (err: unknown) => {
          out.writeHead(500, { "content-type": "text/plain" });
          out.end(`metrics failed: ${String(err)}`);
        },
      );
      return true;
    },
  };
}
