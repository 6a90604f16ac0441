/**
 * The replies to a session's most recent request ids (or promises of them), so
 * that a request retried after a dropped stream is answered from the record,
 * not applied twice. At least the last `limit` are kept (up to twice as many):
 * two generations of maps, the older dropped whole when the newer fills, so the
 * hot path does one insert per step and never deletes.
 */
export class RequestRecords<Reply> {
  private current = new Map<string, Reply>();
  private previous = new Map<string, Reply>();

  constructor(private readonly limit: number) {}

  /** The reply recorded for a request id, if it is still remembered. */
  get(requestId: string): Reply | undefined {
    return this.current.get(requestId) ?? this.previous.get(requestId);
  }

  /** Remembers a reply. */
  remember(requestId: string, reply: Reply): void {
    if (this.current.size >= this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(requestId, reply);
  }
}
