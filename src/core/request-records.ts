/**
 * The replies to a session's most recent request ids (or promises of them), so
 * that a request retried after a dropped stream is answered from the record,
 * not applied twice.
 */
export class RequestRecords<Reply> {
  private readonly replies = new Map<string, Reply>();

  constructor(private readonly limit: number) {}

  /** The reply recorded for a request id, if it is still remembered. */
  get(requestId: string): Reply | undefined {
    return this.replies.get(requestId);
  }

  /** Remembers a reply, forgetting the oldest beyond the limit. */
  remember(requestId: string, reply: Reply): void {
    const replies = this.replies;
    replies.set(requestId, reply);
    if (replies.size > this.limit) replies.delete(replies.keys().next().value as string);
  }

  /** How many replies are remembered. */
  get size(): number {
    return this.replies.size;
  }
}
