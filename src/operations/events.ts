import { setMaxListeners } from "node:events";
import type { ChangeEvent } from "../domain/records.js";
import { LogPositionError, logShards, type LogBatch, type Store } from "../store/store.js";
import { RollcallError, invalid } from "../domain/errors.js";
import { decodeEventCursor, encodeEventCursor } from "./event-cursor.js";
import type { RoomOperations } from "./rooms.js";

export interface WatchInput {
  // A room sid or the unique name of an in-progress room; empty for every
  // room of the account.
  room: string;
  // A cursor to continue after; empty for only the events from now on.
  after: string;
}

export interface WatchedEvent {
  // Watching from this cursor continues right after this event.
  cursor: string;
  event: ChangeEvent;
}

export interface WatchBatch {
  events: WatchedEvent[];
  // The position after the last event (or, with none, where the watch is).
  cursor: string;
}

export interface EventOptions {
  // An idle watch yields an empty batch this often.
  keepAliveMs?: number | undefined;
}

export const defaultKeepAliveMs = 15_000;

// Room watch cursors remembered, newest kept.
const roomCursorsKept = 10_000;

type ShardNext = { shard: number; result: IteratorResult<LogBatch> } | { shard: number; error: unknown };

// Watches of the change log: one room's, or every room of an account through
// the shards of the account's log. Every watch first yields an empty batch
// with the position it starts from, then the events as they come, and an
// empty batch after keepAliveMs without any.
export class EventOperations {
  private readonly keepAliveMs: number;
  private readonly roomCursors = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly rooms: RoomOperations,
    options: EventOptions = {},
  ) {
    this.keepAliveMs = options.keepAliveMs ?? defaultKeepAliveMs;
  }

  watch(accountSid: string, input: WatchInput, signal: AbortSignal): AsyncIterable<WatchBatch> {
    return input.room === ""
      ? this.watchAccount(accountSid, input.after, signal)
      : this.watchRoom(accountSid, input.room, input.after, signal);
  }

  // A room's events; ends after the room's room-ended event.
  private async *watchRoom(accountSid: string, room: string, after: string, signal: AbortSignal): AsyncGenerator<WatchBatch, void> {
    const found = await this.rooms.get(accountSid, room);
    const roomSid = found.sid;
    const start = after === "" ? undefined : decodeEventCursor(after, accountSid, roomSid).logIds[0];
    const cursorAt = (id: string) => this.roomCursor(accountSid, roomSid, id);
    const batches = this.store.followLog({ accountSid, roomSid }, start, { signal, keepAliveMs: this.keepAliveMs });
    let first = true;
    try {
      for await (const batch of batches) {
        if (first) {
          first = false;
          yield { events: [], cursor: cursorAt(start ?? batch.lastId) };
          // Watching a completed room from now on: its room-ended event is
          // behind (the room is read again, as it may have ended since it
          // was found), so nothing more will come.
          if (start === undefined && (await this.store.getRoom(accountSid, roomSid))?.status !== "in-progress") return;
          if (batch.events.length === 0) continue;
        }
        const events = batch.events.map(({ id, event }) => ({ cursor: cursorAt(id), event }));
        const end = events.findIndex(({ event }) => event.type === "room-ended");
        if (end >= 0) {
          yield { events: events.slice(0, end + 1), cursor: events[end]!.cursor };
          return;
        }
        if (events.length > 0 || found.status === "in-progress") yield { events, cursor: cursorAt(batch.lastId) };
        // A room that had ended before the watch began, watched from its
        // room-ended event or later: once caught up, nothing is left to see.
        if (found.status !== "in-progress" && (events.length === 0 || batch.lastId === (await this.logEnd(accountSid, roomSid)))) return;
      }
    } catch (error) {
      throw positionError(error, "room");
    }
  }

  // A room watch's cursor after the log position `id`: the same for every
  // watcher of the room, so made once (a digest each) for the recent ones.
  private roomCursor(accountSid: string, roomSid: string, id: string): string {
    const key = `${roomSid}/${id}`;
    let cursor = this.roomCursors.get(key);
    if (cursor === undefined) {
      cursor = encodeEventCursor({ accountSid, roomSid, logIds: [id] });
      this.roomCursors.set(key, cursor);
      if (this.roomCursors.size > roomCursorsKept) this.roomCursors.delete(this.roomCursors.keys().next().value!);
    }
    return cursor;
  }

  // The position at the end of a room's log.
  private async logEnd(accountSid: string, roomSid: string): Promise<string> {
    return (await this.store.listParticipants(accountSid, roomSid, { status: "connected", limit: 1 })).logId;
  }

  // Every room of an account: the shards of its log, followed at once and
  // merged. Each shard has at most one read in flight, and is read again only
  // once its batch has been passed on, so a slow consumer slows the reads
  // rather than filling a buffer. Rooms keep their order: each room's events
  // are in one shard.
  private async *watchAccount(accountSid: string, after: string, signal: AbortSignal): AsyncGenerator<WatchBatch, void> {
    const start = after === "" ? undefined : decodeEventCursor(after, accountSid, undefined).logIds;
    const stop = new AbortController();
    const follow = { signal: AbortSignal.any([signal, stop.signal]), keepAliveMs: this.keepAliveMs };
    // Each shard's follower listens to it.
    setMaxListeners(logShards + 10, follow.signal);
    const shards = Array.from({ length: logShards }, (_, shard) =>
      this.store.followLog({ accountSid, shard }, start?.[shard], follow)[Symbol.asyncIterator](),
    );
    const pending = new Map<number, Promise<ShardNext>>();
    const read = (shard: number) =>
      pending.set(
        shard,
        shards[shard]!.next().then(
          (result) => ({ shard, result }),
          (error: unknown) => ({ shard, error }),
        ),
      );
    const keepAlive = new KeepAlive(this.keepAliveMs);
    try {
      // Every shard answers at once with where it starts.
      const firsts = await Promise.all(shards.map((_, shard) => shardBatch(read(shard).get(shard)!)));
      pending.clear();
      if (firsts.some((batch) => batch === undefined)) return;
      const positions = firsts.map((batch, shard) => start?.[shard] ?? batch!.lastId);
      const cursorAt = () => encodeEventCursor({ accountSid, logIds: positions });
      yield { events: [], cursor: cursorAt() };
      keepAlive.reset();

      const take = (shard: number, batch: LogBatch): WatchedEvent[] => {
        const events = batch.events.map(({ id, event }) => {
          positions[shard] = id;
          return { cursor: cursorAt(), event };
        });
        positions[shard] = batch.lastId;
        return events;
      };
      const backlog = firsts.flatMap((batch, shard) => take(shard, batch!));
      if (backlog.length > 0) {
        yield { events: backlog, cursor: cursorAt() };
        keepAlive.reset();
      }
      for (let shard = 0; shard < logShards; shard++) read(shard);
      while (!signal.aborted) {
        const next = await Promise.race([...pending.values(), keepAlive.due]);
        if (next === "keep-alive") {
          yield { events: [], cursor: cursorAt() };
          keepAlive.reset();
          continue;
        }
        pending.delete(next.shard);
        const batch = await shardBatch(Promise.resolve(next));
        if (batch === undefined) return;
        const events = take(next.shard, batch);
        if (events.length > 0) {
          yield { events, cursor: cursorAt() };
          keepAlive.reset();
        }
        read(next.shard);
      }
    } catch (error) {
      throw positionError(error, "account");
    } finally {
      keepAlive.cancel();
      stop.abort();
      // The aborted followers end their pending reads; errors were turned
      // into values, so none goes unhandled.
      for (const shard of shards) shard.return?.().catch(() => undefined);
    }
  }
}

// A shard's batch, undefined when its follower ended (the watch was stopped).
async function shardBatch(next: Promise<ShardNext>): Promise<LogBatch | undefined> {
  const settled = await next;
  if ("error" in settled) throw settled.error;
  return settled.result.done ? undefined : settled.result.value;
}

// A promise that resolves keepAliveMs after the last reset.
class KeepAlive {
  due!: Promise<"keep-alive">;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.reset();
  }

  reset(): void {
    this.cancel();
    this.due = new Promise((resolve) => {
      this.timer = setTimeout(() => resolve("keep-alive"), this.ms);
    });
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}

function positionError(error: unknown, scope: "room" | "account"): unknown {
  if (!(error instanceof LogPositionError)) return error;
  const resync =
    scope === "room"
      ? "resync with ParticipantService.List and watch from the watch_cursor it returns"
      : "resync with RoomService.List and ParticipantService.List, then watch again from the cursor of a new watch opened before listing";
  if (error.reason === "expired") {
    return new RollcallError("cursor_expired", `names a position whose events are no longer retained: ${resync}`, "after");
  }
  return invalid(
    "invalid_parameter",
    "after",
    `is not a position of this ${scope}'s log (or the log lost it in a Redis failover): ${resync}`,
  );
}
