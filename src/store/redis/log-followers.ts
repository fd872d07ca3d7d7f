import type { Cluster, Redis } from "ioredis";
import { LogPositionError, type FollowOptions, type LogBatch, type LoggedEvent } from "../store.js";
import { decodeEvent } from "./codec.js";

// Which part of a log's ids counts its entries: 1 for <count>-<ms> (a room's
// log), 2 for <ms>-<count> (a shard of an account's log).
export type CountPart = 1 | 2;

export interface LogRead {
  // The position read from (the log's end when none was given).
  from: string;
  events: LoggedEvent[];
}

// Reads a log after a position (the end when undefined), checking that the
// log still holds that position.
export type ReadLog = (key: string, countPart: CountPart, after: string | undefined, limit: number) => Promise<LogRead>;

export interface LogFollowersOptions {
  // How long one blocking read waits in Redis before it is sent again.
  blockMs: number;
  // The newest entries of each followed log kept in memory for its followers.
  windowSize: number;
  readBatch: number;
}

type StreamEntry = [string, string[]];

// Follows Redis logs for this process. Each log key that has followers gets
// one blocking reader (XREAD BLOCK on a connection of its own) shared by all of
// them, keeping the log's newest entries in a bounded window: 1 000 watchers of
// a room cost one blocking read, not 1 000. A follower takes what follows its
// position from the window, or reads it from Redis when it has fallen behind
// the window, so a slow follower costs reads, never memory.
export class LogFollowers {
  private readonly tails = new Map<string, Tail>();

  constructor(
    private readonly blockingClient: () => Redis | Cluster,
    private readonly read: ReadLog,
    private readonly options: LogFollowersOptions,
  ) {}

  async *follow(
    key: string,
    countPart: CountPart,
    afterId: string | undefined,
    { signal, keepAliveMs }: FollowOptions,
  ): AsyncIterable<LogBatch> {
    const first = await this.read(key, countPart, afterId, this.options.readBatch);
    let position = first.events.at(-1)?.id ?? first.from;
    yield { events: first.events, lastId: position };
    const tail = this.acquire(key, countPart, position);
    try {
      while (!signal.aborted) {
        let events = tail.after(position);
        if (events === undefined) {
          events = (await this.read(key, countPart, position, this.options.readBatch)).events;
          // Entries that reached the window during the read are not missed.
          if (events.length === 0) events = tail.after(position) ?? [];
        }
        if (events.length > 0) {
          position = events.at(-1)!.id;
          yield { events, lastId: position };
          continue;
        }
        if (!(await tail.next(keepAliveMs, signal)) && !signal.aborted) yield { events: [], lastId: position };
      }
    } finally {
      this.release(key, tail);
    }
  }

  close(): void {
    for (const tail of this.tails.values()) tail.stop();
    this.tails.clear();
  }

  private acquire(key: string, countPart: CountPart, position: string): Tail {
    let tail = this.tails.get(key);
    if (tail === undefined) {
      tail = new Tail(key, countPart, position, this.blockingClient(), this.options);
      this.tails.set(key, tail);
    }
    tail.followers++;
    return tail;
  }

  private release(key: string, tail: Tail): void {
    if (--tail.followers > 0) return;
    tail.stop();
    if (this.tails.get(key) === tail) this.tails.delete(key);
  }
}

// One log's blocking reader and its window of newest entries.
class Tail {
  followers = 0;
  private window: LoggedEvent[] = [];
  private waiters = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly key: string,
    private readonly countPart: CountPart,
    // The position up to which this tail has read.
    private lastId: string,
    private readonly client: Redis | Cluster,
    private readonly options: LogFollowersOptions,
  ) {
    client.on("error", () => {
      // Failed reads are retried by the loop; ioredis reconnects.
    });
    void this.run();
  }

  // What follows a position, if this tail can tell: undefined when the
  // position is behind the window (read it from Redis instead).
  after(position: string): LoggedEvent[] | undefined {
    const wanted = this.countOf(position);
    if (this.window.length === 0) return position === this.lastId || wanted > this.countOf(this.lastId) ? [] : undefined;
    const first = this.countOf(this.window[0]!.id);
    if (wanted < first - 1) return undefined;
    return this.window.slice(Math.max(0, wanted - first + 1), Math.max(0, wanted - first + 1) + this.options.readBatch);
  }

  // Resolves true when entries arrive, false after timeoutMs or on abort.
  next(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (arrived: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.waiters.delete(onArrival);
        resolve(arrived);
      };
      const onArrival = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(onArrival);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  stop(): void {
    this.stopped = true;
    this.client.disconnect();
    for (const wake of this.waiters) wake();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const reply = await this.client.xread(
          "COUNT",
          this.options.readBatch,
          "BLOCK",
          this.options.blockMs,
          "STREAMS",
          this.key,
          this.lastId,
        );
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) continue;
        for (const [id, fields] of entries) this.window.push({ id, event: decodeEvent(fields[1]!) });
        if (this.window.length > this.options.windowSize) this.window = this.window.slice(-this.options.windowSize);
        this.lastId = entries.at(-1)![0];
        for (const wake of this.waiters) wake();
        this.waiters.clear();
      } catch {
        if (this.stopped) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  private countOf(id: string): number {
    return Number(id.split("-")[this.countPart - 1]);
  }
}

// Turns a reply of the read script into a read, or its refusal into an error.
export function logReadOf(reply: unknown[]): LogRead {
  const [status, from, entries] = reply as [string, string, StreamEntry[]];
  if (status === "expired") throw new LogPositionError("expired", "the events after this position are no longer retained");
  if (status === "unknown") throw new LogPositionError("unknown", "is not a position of this log");
  return { from, events: entries.map(([id, fields]) => ({ id, event: decodeEvent(fields[1]!) })) };
}
