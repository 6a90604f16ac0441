import { Code } from "@connectrpc/connect";

/** Why a session ended (or left its holder), for the error its stream or later calls receive. */
export interface CloseReason {
  readonly code: Code;
  readonly message: string;
}

/** What drives a session: a Step stream, a WebSocket. */
export interface SessionHolder {
  /** The session left this holder: it closed, or another holder took it over. */
  detached(reason: CloseReason): void;
}

/**
 * Who holds a session now, and what happens when the holder lets go: the
 * session stays (a kept session, or one closed by its owner), or it waits
 * for a new holder to resume it and closes if none comes in time.
 */
export class Attachment {
  private holder: SessionHolder | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sessionId: string,
    /** Closes the session (when no holder resumed it in time). */
    private readonly close: (reason: CloseReason) => void,
  ) {}

  /** True while a holder drives the session. */
  get held(): boolean {
    return this.holder !== undefined;
  }

  /** Takes the session for `holder`; a previous holder is told it lost the session. Cancels a pending resume deadline. */
  take(holder: SessionHolder): void {
    const previous = this.holder;
    this.holder = holder;
    if (this.resumeTimer !== undefined) {
      clearTimeout(this.resumeTimer);
      this.resumeTimer = undefined;
    }
    if (previous !== undefined && previous !== holder) {
      previous.detached({ code: Code.Aborted, message: `session ${this.sessionId} was attached to another stream` });
    }
  }

  /** `holder` lets go; the session stays open. */
  release(holder: SessionHolder): void {
    if (this.holder === holder) this.holder = undefined;
  }

  /**
   * `holder` lost its connection: the session closes unless a new holder takes
   * it within `graceMs` (or, with no grace, unless one takes it before `settled`,
   * so that a running step still finishes first).
   */
  drop(holder: SessionHolder, graceMs: number, settled: Promise<void>): void {
    if (this.holder !== holder) return;
    this.holder = undefined;
    const expire = (): void => {
      this.resumeTimer = undefined;
      if (this.holder === undefined) {
        this.close({ code: Code.Aborted, message: "the client's stream dropped and no stream resumed the session" });
      }
    };
    if (graceMs <= 0) {
      void settled.then(expire);
      return;
    }
    this.resumeTimer = setTimeout(expire, graceMs);
    this.resumeTimer.unref();
  }

  /** The session closed: its holder is told, a pending resume deadline is cancelled. */
  closed(reason: CloseReason): void {
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    const holder = this.holder;
    this.holder = undefined;
    holder?.detached(reason);
  }
}
