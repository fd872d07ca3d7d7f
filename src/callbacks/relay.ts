import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import type { ChangeEvent } from "../domain/records.js";
import { logShards, type CallbackBatch, type CallbackFailure, type Store } from "../store/store.js";
import { callbackTarget } from "./callback-target.js";
import type { Delivery, DeliveryOutcome } from "./delivery.js";
import { callbackParameters, callbackRequest } from "./twilio-form.js";
import type { Logger } from "../observability/logger.js";
import { callbackLag, callbacksDelivered, callbacksFailed } from "../observability/metrics.js";

// The status callback relay: a background worker beside the transports. Each
// instance takes the leases of the shards of every account it knows; for a
// shard it holds, it follows the shard's log for a prompt signal, reads the
// shard's due rooms and delivers each room's events in order, one room at a
// time per room and many rooms at once. A room's cursor moves only after a
// 2xx (or when its event is given up), in the same step that settles its due
// mark, so a crash, a lost lease or a restart repeats a callback at worst and
// never skips one.

export interface RelayOptions {
  // Auth tokens by account sid: which accounts to deliver for, and their keys.
  accounts: ReadonlyMap<string, string>;
  retryForMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  maxTimeoutMs: number;
}

export interface RelayStats {
  delivered: number;
  attempts: number;
  // Events given up (each also a dead letter and a log line).
  failed: number;
}

// Events read per room at a time.
const readBatch = 20;

interface ShardWork {
  accountSid: string;
  shard: number;
  stop: AbortController;
  // The local time until which the lease is surely held.
  heldUntil: number;
  scanning: boolean;
  rescan: boolean;
  timers: Set<NodeJS.Timeout>;
}

export class CallbackRelay {
  readonly stats: RelayStats = { delivered: 0, attempts: 0, failed: 0 };
  private readonly owner = randomBytes(8).toString("hex");
  private readonly shards = new Map<string, ShardWork>();
  // Rooms being delivered by this instance, and the tasks doing it.
  private readonly inFlight = new Map<string, Promise<void>>();
  // Requests in flight per receiver (origin), bounded so that one slow or
  // dead receiver cannot take every place; the receiver of each room met.
  private readonly hostInFlight = new Map<string, number>();
  private readonly roomHosts = new Map<string, string>();
  private readonly perHostLimit: number;
  private readonly stopping = new AbortController();
  private leaseTimer: NodeJS.Timeout | undefined;
  private leaseRound: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly delivery: Delivery,
    private readonly options: RelayOptions,
    private readonly log: Logger,
  ) {
    setMaxListeners(0, this.stopping.signal);
    this.perHostLimit = Math.max(1, Math.ceil(options.concurrency / 4));
  }

  start(): void {
    if (this.options.accounts.size === 0) return;
    const round = () => {
      this.leaseRound = this.holdLeases().finally(() => {
        if (!this.stopping.signal.aborted) this.leaseTimer = setTimeout(round, Math.max(10, Math.floor(this.options.leaseMs / 3)));
      });
    };
    round();
  }

  // Stops taking work, ends the deliveries in flight (an interrupted one is
  // sent again by the next holder) and hands the leases back.
  async close(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.leaseTimer);
    await this.leaseRound;
    const held = [...this.shards.values()];
    for (const work of held) this.stopShard(work);
    await Promise.all(this.inFlight.values());
    await Promise.all(held.map((work) => this.store.releaseCallbackLease(work.accountSid, work.shard, this.owner).catch(() => undefined)));
    await this.delivery.close();
  }

  // Takes or renews the lease of every shard of every account.
  private async holdLeases(): Promise<void> {
    const before = this.shards.size;
    const rounds: Promise<void>[] = [];
    for (const accountSid of this.options.accounts.keys()) {
      for (let shard = 0; shard < logShards; shard++) rounds.push(this.holdLease(accountSid, shard));
    }
    await Promise.all(rounds);
    if (this.shards.size !== before && !this.stopping.signal.aborted) {
      this.log.info(`delivering for ${this.shards.size} of ${this.options.accounts.size * logShards} account shards`);
    }
  }

  private async holdLease(accountSid: string, shard: number): Promise<void> {
    const key = `${accountSid}:${shard}`;
    const asked = Date.now();
    let held: boolean;
    try {
      held = await this.store.holdCallbackLease(accountSid, shard, this.owner, this.options.leaseMs);
    } catch {
      // The store is unavailable: keep working until the lease may have lapsed.
      return;
    }
    if (this.stopping.signal.aborted) return;
    const work = this.shards.get(key);
    if (!held) {
      if (work !== undefined) this.stopShard(work);
      return;
    }
    // Renewed at `asked` at the earliest; stop short of its expiry, with a margin for clock drift.
    const heldUntil = asked + this.options.leaseMs * 0.8;
    if (work !== undefined) {
      work.heldUntil = heldUntil;
      return;
    }
    const started: ShardWork = {
      accountSid,
      shard,
      stop: new AbortController(),
      heldUntil,
      scanning: false,
      rescan: false,
      timers: new Set(),
    };
    setMaxListeners(0, started.stop.signal);
    this.shards.set(key, started);
    void this.followShard(started);
  }

  private stopShard(work: ShardWork): void {
    work.stop.abort();
    for (const timer of work.timers) clearTimeout(timer);
    work.timers.clear();
    if (this.shards.get(`${work.accountSid}:${work.shard}`) === work) this.shards.delete(`${work.accountSid}:${work.shard}`);
  }

  private holds(work: ShardWork): boolean {
    return !work.stop.signal.aborted && Date.now() < work.heldUntil;
  }

  // The shard's log wakes the scan when events arrive, and its keep-alive
  // every pollMs, which picks up retries that came due.
  private async followShard(work: ShardWork): Promise<void> {
    const { signal } = work.stop;
    while (!signal.aborted) {
      try {
        this.scan(work);
        for await (const batch of this.store.followLog({ accountSid: work.accountSid, shard: work.shard }, undefined, {
          signal,
          keepAliveMs: this.options.pollMs,
        })) {
          if (signal.aborted) break;
          if (batch.events.length > 0 || !work.scanning) this.scan(work);
        }
      } catch {
        // The store is unavailable or the log moved under the follower: follow again shortly.
      }
      if (!signal.aborted) await delay(this.options.pollMs, signal);
    }
  }

  // Starts delivery for the shard's due rooms, as far as the in-flight bound allows.
  private scan(work: ShardWork): void {
    if (work.scanning) {
      work.rescan = true;
      return;
    }
    work.scanning = true;
    void (async () => {
      try {
        do {
          work.rescan = false;
          if (!this.holds(work)) return;
          const room = await this.store.dueCallbackRooms(work.accountSid, work.shard, Date.now(), this.options.concurrency * 2);
          for (const roomSid of room) {
            if (this.inFlight.has(roomSid) || this.hostBusy(this.roomHosts.get(roomSid))) continue;
            if (this.inFlight.size >= this.options.concurrency || !this.holds(work)) break;
            const task = this.deliverRoom(work, roomSid)
              .catch(() => undefined)
              .finally(() => {
                this.inFlight.delete(roomSid);
                this.wakeAll();
              });
            this.inFlight.set(roomSid, task);
          }
        } while (work.rescan);
      } catch {
        // The store is unavailable: the next signal or poll scans again.
      } finally {
        work.scanning = false;
      }
    })();
  }

  // A finished room frees a place in flight: every held shard may use it.
  private wakeAll(): void {
    if (this.stopping.signal.aborted) return;
    for (const work of this.shards.values()) if (!work.scanning) this.scan(work);
  }

  // Delivers a room's events after its cursor, in order, until it caught up,
  // an event must wait for a retry, or the shard is no longer held.
  private async deliverRoom(work: ShardWork, roomSid: string): Promise<void> {
    const { accountSid } = work;
    const authToken = this.options.accounts.get(accountSid)!;
    for (;;) {
      if (!this.holds(work)) return;
      const batch = await this.store.readCallbacks(accountSid, roomSid, readBatch);
      if (batch === undefined) return;
      let cursor = batch.cursor;
      const first = batch.events[0];
      if (first === undefined || first.sequence > cursor + 1) {
        // Nothing left, or events the log no longer holds: settle them.
        const to = first === undefined ? batch.logSequence : first.sequence - 1;
        const failure = to > cursor ? this.expired(accountSid, roomSid, cursor + 1, to, first ?? undefined) : undefined;
        if (failure !== undefined) this.giveUp(failure);
        if (!(await this.store.advanceCallback(accountSid, roomSid, cursor, to, failure))) return;
        if (first === undefined) {
          this.roomHosts.delete(roomSid);
          return;
        }
        continue;
      }
      for (const event of batch.events) {
        const parameters = callbackParameters(event);
        if (parameters === undefined || event.room.statusCallback === "") {
          if (!(await this.store.advanceCallback(accountSid, roomSid, cursor, event.sequence))) return;
          cursor = event.sequence;
          continue;
        }
        if (!this.holds(work)) return;
        const target = callbackTarget(event.room.statusCallback, this.options.maxTimeoutMs);
        const request = callbackRequest(target.url, event.room.statusCallbackMethod, parameters, authToken);
        // A busy receiver: the room stays due, and scans pass it by until a place frees.
        this.roomHosts.set(roomSid, target.origin);
        if (this.hostBusy(target.origin)) return;
        this.hostInFlight.set(target.origin, (this.hostInFlight.get(target.origin) ?? 0) + 1);
        this.stats.attempts++;
        const outcome = await this.delivery
          .send(
            {
              target,
              method: request.method,
              path: target.path + request.url.slice(target.url.length),
              body: request.body,
              headers: {
                "x-twilio-signature": request.signature,
                "i-twilio-idempotency-token": `${roomSid}-${event.sequence}`,
                "user-agent": "rollcall-callbacks",
                ...(request.body === undefined ? {} : { "content-type": "application/x-www-form-urlencoded" }),
              },
            },
            work.stop.signal,
          )
          .finally(() => {
            const left = this.hostInFlight.get(target.origin)! - 1;
            if (left === 0) this.hostInFlight.delete(target.origin);
            else this.hostInFlight.set(target.origin, left);
          });
        if (work.stop.signal.aborted) return;
        const settled = this.settle(batch, event, outcome, target.url, target.overrides.retries);
        if (settled === "retry") {
          callbacksFailed.labels("retry").inc();
          const due = Date.now() + this.backoff(batch.attempts);
          if (await this.store.postponeCallback(accountSid, roomSid, cursor, due)) this.wakeAt(work, due);
          return;
        }
        if (settled === "delivered") {
          this.stats.delivered++;
          callbacksDelivered.inc();
          callbackLag.observe(Math.max(0, Date.now() - event.time) / 1000);
        }
        if (!(await this.store.advanceCallback(accountSid, roomSid, cursor, event.sequence, settled === "delivered" ? undefined : settled)))
          return;
        cursor = event.sequence;
        // Failed attempts belonged to the event now settled.
        batch.attempts = 0;
        batch.failingSince = undefined;
      }
    }
  }

  private hostBusy(origin: string | undefined): boolean {
    return origin !== undefined && (this.hostInFlight.get(origin) ?? 0) >= this.perHostLimit;
  }

  // What an attempt's outcome means for its event: delivered, another try
  // later, or given up (the dead letter to record).
  private settle(
    batch: CallbackBatch,
    event: ChangeEvent,
    outcome: DeliveryOutcome,
    url: string,
    retries: number | undefined,
  ): "delivered" | "retry" | CallbackFailure {
    if (outcome.kind === "delivered") return "delivered";
    const attempts = batch.attempts + 1;
    const failingFor = Date.now() - (batch.failingSince ?? Date.now());
    const exhausted = failingFor >= this.options.retryForMs || (retries !== undefined && attempts > retries);
    if (outcome.kind === "retry" && !exhausted) return "retry";
    const failure: CallbackFailure = {
      accountSid: event.accountSid,
      roomSid: event.roomSid,
      sequence: event.sequence,
      eventType: event.type,
      url,
      status: outcome.status,
      reason: outcome.kind === "final" ? outcome.reason : `${outcome.reason}; retried for ${Math.round(failingFor / 1000)} s`,
      attempts,
      time: Date.now(),
    };
    this.giveUp(failure);
    return failure;
  }

  private giveUp(failure: CallbackFailure): void {
    this.stats.failed++;
    callbacksFailed.labels("dead_letter").inc();
    this.log.warn(
      `gave up on ${failure.eventType} #${failure.sequence} of room ${failure.roomSid} (account ${failure.accountSid}) to ${hostOf(failure.url)} after ${failure.attempts} attempts, last status ${failure.status || "none"}: ${failure.reason}`,
    );
  }

  private expired(accountSid: string, roomSid: string, from: number, to: number, next: ChangeEvent | undefined): CallbackFailure {
    return {
      accountSid,
      roomSid,
      sequence: from,
      eventType: "expired",
      url: next?.room.statusCallback.split("#")[0] ?? "",
      status: 0,
      reason: `events ${from} to ${to} were no longer retained in the room's log when their turn came`,
      attempts: 0,
      time: Date.now(),
    };
  }

  // Exponential backoff with jitter: half to all of base * 2^attempts, capped.
  private backoff(attempts: number): number {
    const ceiling = Math.min(this.options.backoffMaxMs, this.options.backoffMs * 2 ** Math.min(attempts, 30));
    return Math.round(ceiling * (0.5 + Math.random() * 0.5));
  }

  private wakeAt(work: ShardWork, due: number): void {
    const timer = setTimeout(
      () => {
        work.timers.delete(timer);
        this.scan(work);
      },
      Math.max(0, due - Date.now()) + 5,
    );
    work.timers.add(timer);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "(no URL)";
  }
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
