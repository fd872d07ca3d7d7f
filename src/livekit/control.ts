import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { RoomServiceClient } from "livekit-server-sdk";
import type { ChangeEvent } from "../domain/records.js";
import { LogPositionError, logShards, type Store } from "../store/store.js";
import { liveKitStateTtlMs } from "./webhook-mapping.js";
import type { Logger } from "../observability/logger.js";
import { liveKitFailures } from "../observability/metrics.js";

// Control back to LiveKit: a kick through rollcall's API of a participant of
// a LiveKit room becomes RoomServiceClient.removeParticipant, completing the
// room through the API becomes deleteRoom. Driven from the change log like
// the callback relay: the bridge takes the lease of each shard of its
// account's log, follows it from its own cursor (kept in the store) and
// moves the cursor past an event only once LiveKit accepted its action (or
// answered that there is nothing to act on). While LiveKit is unreachable the
// action is retried with backoff and the shard waits, so nothing is skipped:
// at least once, never in the API call's way.

export interface ControlOptions {
  leaseMs: number;
  pollMs: number;
  backoffMs: number;
  backoffMaxMs: number;
}

export interface ControlStats {
  removed: number;
  deleted: number;
  failedAttempts: number;
}

interface ShardWork {
  shard: number;
  stop: AbortController;
  heldUntil: number;
}

export class LiveKitControl {
  readonly stats: ControlStats = { removed: 0, deleted: 0, failedAttempts: 0 };
  private readonly owner = randomBytes(8).toString("hex");
  private readonly shards = new Map<number, ShardWork>();
  private readonly stopping = new AbortController();
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseRound: Promise<void> = Promise.resolve();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly store: Store,
    private readonly client: RoomServiceClient,
    private readonly accountSid: string,
    private readonly options: ControlOptions,
    private readonly log: Logger,
  ) {
    setMaxListeners(0, this.stopping.signal);
  }

  start(): void {
    const round = () => {
      this.leaseRound = this.holdLeases().finally(() => {
        if (!this.stopping.signal.aborted) this.leaseTimer = setTimeout(round, Math.max(10, Math.floor(this.options.leaseMs / 3)));
      });
    };
    round();
  }

  async close(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.leaseTimer);
    await this.leaseRound;
    for (const work of this.shards.values()) work.stop.abort();
    await Promise.all(this.running);
    await Promise.all(
      [...this.shards.keys()].map((shard) => this.store.releaseLiveKitLease(this.accountSid, shard, this.owner).catch(() => undefined)),
    );
    this.shards.clear();
  }

  private async holdLeases(): Promise<void> {
    await Promise.all(Array.from({ length: logShards }, (_, shard) => this.holdLease(shard)));
  }

  private async holdLease(shard: number): Promise<void> {
    const asked = Date.now();
    let held: boolean;
    try {
      held = await this.store.holdLiveKitLease(this.accountSid, shard, this.owner, this.options.leaseMs);
    } catch {
      return;
    }
    if (this.stopping.signal.aborted) return;
    const work = this.shards.get(shard);
    if (!held) {
      if (work !== undefined) {
        work.stop.abort();
        this.shards.delete(shard);
      }
      return;
    }
    const heldUntil = asked + this.options.leaseMs * 0.8;
    if (work !== undefined) {
      work.heldUntil = heldUntil;
      return;
    }
    const started: ShardWork = { shard, stop: new AbortController(), heldUntil };
    setMaxListeners(0, started.stop.signal);
    this.shards.set(shard, started);
    const task = this.followShard(started).finally(() => this.running.delete(task));
    this.running.add(task);
  }

  private holds(work: ShardWork): boolean {
    return !work.stop.signal.aborted && Date.now() < work.heldUntil;
  }

  private async followShard(work: ShardWork): Promise<void> {
    const { signal } = work.stop;
    const ref = { accountSid: this.accountSid, shard: work.shard };
    while (!signal.aborted) {
      try {
        let cursor = await this.store.liveKitCursor(this.accountSid, work.shard);
        for await (const batch of this.store.followLog(ref, cursor, { signal, keepAliveMs: this.options.pollMs })) {
          if (signal.aborted || !this.holds(work)) break;
          for (const { id, event } of batch.events) {
            if (!(await this.act(work, event))) break;
            await this.store.setLiveKitCursor(this.accountSid, work.shard, id);
            cursor = id;
          }
          if (signal.aborted || !this.holds(work)) break;
          if (cursor === undefined) {
            // The first follow of this shard starts from the log's end.
            await this.store.setLiveKitCursor(this.accountSid, work.shard, batch.lastId);
            cursor = batch.lastId;
          }
        }
      } catch (error) {
        if (error instanceof LogPositionError) {
          // Events passed their retention before the bridge acted on them: go on from the end.
          this.log.warn(`shard ${work.shard}'s log no longer holds the bridge's position (${error.reason}); continuing from its end`);
          const ended = new AbortController();
          for await (const batch of this.store.followLog(ref, undefined, { signal: ended.signal, keepAliveMs: this.options.pollMs })) {
            await this.store.setLiveKitCursor(this.accountSid, work.shard, batch.lastId).catch(() => undefined);
            break;
          }
          ended.abort();
        }
        // Else the store is unavailable: follow again shortly.
      }
      if (!signal.aborted) await delay(this.options.pollMs, signal);
    }
  }

  // Carries out an event's action on LiveKit, retrying while LiveKit fails;
  // false when the shard was given up meanwhile (the event is left for the
  // next holder).
  private async act(work: ShardWork, event: ChangeEvent): Promise<boolean> {
    const action = await this.actionOf(event);
    if (action === undefined) return true;
    for (let attempt = 0; ; attempt++) {
      if (!this.holds(work)) return false;
      try {
        await action.run();
        await action.done();
        return true;
      } catch (error) {
        if (isNotFound(error)) {
          // Gone from LiveKit already: nothing left to do.
          await action.done();
          return true;
        }
        this.stats.failedAttempts++;
        const wait = Math.min(this.options.backoffMaxMs, this.options.backoffMs * 2 ** Math.min(attempt, 20));
        liveKitFailures.labels("control").inc();
        if (attempt === 0 || attempt % 10 === 0) {
          this.log.warn(
            `${action.what} failed (${error instanceof Error ? error.message : String(error)}); retrying every ${wait} ms at most`,
          );
        }
        await delay(Math.round(wait * (0.5 + Math.random() * 0.5)), work.stop.signal);
      }
    }
  }

  private async actionOf(event: ChangeEvent): Promise<{ what: string; run: () => Promise<void>; done: () => Promise<void> } | undefined> {
    const kicked = event.type === "participant-disconnected" && event.reason === "kicked";
    const completed = event.type === "room-ended" && event.reason === "completed";
    if (!kicked && !completed) return undefined;
    const liveKitRoomSid = await this.store.liveKitRoomOf(this.accountSid, event.roomSid);
    if (liveKitRoomSid === undefined) return undefined;
    const roomName = event.room.uniqueName;
    if (kicked) {
      const identity = event.participant!.identity;
      return {
        what: `removing ${JSON.stringify(identity)} from LiveKit room ${JSON.stringify(roomName)}`,
        run: () => this.client.removeParticipant(roomName, identity),
        done: () => {
          this.stats.removed++;
          this.log.info(`removed ${JSON.stringify(identity)} from LiveKit room ${JSON.stringify(roomName)} (kicked through rollcall)`);
          return Promise.resolve();
        },
      };
    }
    return {
      what: `deleting LiveKit room ${JSON.stringify(roomName)}`,
      run: async () => {
        await this.client.deleteRoom(roomName);
      },
      done: async () => {
        this.stats.deleted++;
        this.log.info(`deleted LiveKit room ${JSON.stringify(roomName)} (completed through rollcall)`);
        // Finished: a late room_started for it brings nothing back.
        await this.store.updateLiveKitRoom(this.accountSid, liveKitRoomSid, { finished: true }, liveKitStateTtlMs);
      },
    };
  }
}

// LiveKit's Twirp answer for a room or participant that does not exist.
function isNotFound(error: unknown): boolean {
  const e = error as { status?: number; code?: string };
  return e?.status === 404 || e?.code === "not_found";
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
