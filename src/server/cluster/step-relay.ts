// How a Step stream reaches the worker that owns its session: relayed over a gRPC stream.
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { EnvironmentService, StepRequest } from "../../../gen/openenv/v1/environment_service_pb.js";
import type { StepRelay } from "../../core/placement.js";
import type { ReplySink } from "../../core/step-input.js";
import { AsyncQueue } from "../../protocol/async-queue.js";

/** A Step stream relayed to its session's owner over a gRPC stream. */
export class GrpcStepRelay implements StepRelay {
  private readonly requests = new AsyncQueue<StepRequest>();
  private readonly cancel = new AbortController();
  private sent = 0;
  private answered = 0;
  private draining: ConnectError | undefined;
  private done = false;

  constructor(
    client: Client<typeof EnvironmentService>,
    private readonly out: ReplySink,
    headers: Headers,
    private readonly owner: string,
  ) {
    void this.run(client, headers);
  }

  send(req: StepRequest): void {
    if (this.done) return;
    this.sent++;
    this.requests.push(req);
  }

  end(): void {
    this.requests.end();
  }

  abort(cause: ConnectError): void {
    this.stop(cause);
  }

  drain(cause: ConnectError): void {
    this.draining = cause;
    if (this.answered >= this.sent) this.stop(cause);
  }

  private stop(cause: ConnectError): void {
    if (this.done) return;
    this.done = true;
    this.cancel.abort(cause);
    this.out.fail(cause);
  }

  private async run(client: Client<typeof EnvironmentService>, headers: Headers): Promise<void> {
    try {
      for await (const res of client.step(this.requests, { headers, signal: this.cancel.signal })) {
        if (this.done) return;
        if (res.kind.case !== "partial") this.answered++;
        this.out.push(res);
        if (this.draining !== undefined && this.answered >= this.sent) return this.stop(this.draining);
      }
      if (!this.done) {
        this.done = true;
        this.out.end();
      }
    } catch (err) {
      if (this.done) return;
      this.done = true;
      this.out.fail(relayError(err, this.owner));
    }
  }
}

/** A failure to reach the owner (not an error the owner answered with) gets the owner's name. */
export function relayError(err: unknown, owner: string): ConnectError {
  const e = ConnectError.from(err);
  const transport = e.cause !== undefined && !(e.cause instanceof ConnectError);
  if (transport && e.code !== Code.Canceled && e.code !== Code.DeadlineExceeded) {
    return new ConnectError(`lost the connection to ${owner}: ${e.rawMessage}`, Code.Unavailable);
  }
  // The owner's own error, as it sent it (its response metadata stays behind).
  const copy = new ConnectError(e.rawMessage, e.code);
  copy.details = [...e.details];
  return copy;
}
