import { LogPositionError, type FollowOptions, type LogBatch, type LoggedEvent } from "../store.js";
import type { ChangeEvent } from "../../domain/records.js";

// One log of the memory store: events in order, each with the id
// "<time>-<counter>", the counter counting this log's appends from 1. Old
// events are trimmed from the front; followers wait for appends.
export class MemoryLog {
  private entries: LoggedEvent[] = [];
  // The counter of entries[0] (or of the next append while empty).
  private first = 1;
  private waiters = new Set<() => void>();

  get lastCounter(): number {
    return this.first + this.entries.length - 1;
  }

  get endId(): string {
    return this.entries.at(-1)?.id ?? `0-${this.lastCounter}`;
  }

  append(time: number, event: ChangeEvent): string {
    const id = `${time}-${this.lastCounter + 1}`;
    this.entries.push({ id, event });
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    return id;
  }

  // Up to `limit` events after the counter `after` that the log still holds.
  eventsAfter(after: number, limit: number): ChangeEvent[] {
    return this.entries.slice(Math.max(0, after - this.first + 1), Math.max(0, after - this.first + 1) + limit).map((entry) => entry.event);
  }

  // Drops events from the front while `expired` says so.
  trim(expired: (entry: LoggedEvent, remaining: number) => boolean): void {
    let drop = 0;
    while (drop < this.entries.length && expired(this.entries[drop]!, this.entries.length - drop)) drop++;
    if (drop === 0) return;
    this.entries = this.entries.slice(drop);
    this.first += drop;
  }

  async *follow(afterId: string | undefined, { signal, keepAliveMs }: FollowOptions): AsyncIterable<LogBatch> {
    let counter = afterId === undefined ? this.lastCounter : this.counterOf(afterId);
    let lastId = afterId ?? this.endId;
    let first = true;
    for (;;) {
      if (counter < this.first - 1) throw new LogPositionError("expired", "the events after this position are no longer retained");
      const events = this.entries.slice(counter - this.first + 1, counter - this.first + 1 + followBatch);
      if (events.length > 0 || first) {
        first = false;
        counter += events.length;
        lastId = events.at(-1)?.id ?? lastId;
        yield { events, lastId };
        continue;
      }
      if (!(await this.appended(keepAliveMs, signal))) {
        if (signal.aborted) return;
        yield { events: [], lastId };
      }
    }
  }

  // The counter of a position this log issued; "0-0" is the start of the log.
  private counterOf(id: string): number {
    const match = /^(\d{1,16})-(\d{1,16})$/.exec(id);
    const counter = Number(match?.[2]);
    if (match === null || !Number.isSafeInteger(counter)) throw new LogPositionError("unknown", "is not a position of this log");
    if (counter > this.lastCounter) throw new LogPositionError("unknown", "is ahead of the log");
    if (counter < this.first - 1) throw new LogPositionError("expired", "the events after this position are no longer retained");
    const entry = this.entries[counter - this.first];
    if ((entry !== undefined && entry.id !== id) || (counter === 0 && id !== "0-0")) {
      throw new LogPositionError("unknown", "is not a position of this log");
    }
    return counter;
  }

  // Resolves true on the next append, false after timeoutMs or on abort.
  private appended(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (appended: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.waiters.delete(onAppend);
        resolve(appended);
      };
      const onAppend = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(onAppend);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

// The most events one batch carries.
export const followBatch = 500;
