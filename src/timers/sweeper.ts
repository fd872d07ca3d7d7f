import { logShards, type Store } from "../store/store.js";
import type { Logger } from "../observability/logger.js";
import { timerFailures, timerLag, timersFired } from "../observability/metrics.js";

// The timer sweeper: a background worker beside the transports. Every
// interval it asks each shard of each known account for the timers that are
// due (a range query on the shard's sorted set: its cost follows what is due,
// not how many timers wait) and fires them. Firing re-checks each timer in
// the room's own atomic step, so every instance may sweep every shard: a race
// or a repeat finds the timer gone or stale and changes nothing, and an
// instance killed mid-firing leaves the timer to the next sweep.

export interface SweeperOptions {
  accounts: readonly string[];
  intervalMs: number;
}

export interface SweeperStats {
  fired: number;
  stale: number;
  failed: number;
  // How late the timers fired in the latest sweep that fired any (ms).
  lastLagMs: number;
}

// Timers fired per shard in one sweep, at most; the rest wait for the next.
const sweepBatch = 200;

export class TimerSweeper {
  readonly stats: SweeperStats = { fired: 0, stale: 0, failed: 0, lastLagMs: 0 };
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly options: SweeperOptions,
    private readonly log: Logger,
    // The wall clock the lag is measured with: the store's.
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.options.accounts.length === 0) return;
    const round = () => {
      this.sweeping = this.sweep().finally(() => {
        if (!this.stopped) this.timer = setTimeout(round, this.options.intervalMs);
      });
    };
    round();
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
  }

  // Fires every timer due now, shard by shard.
  async sweep(): Promise<void> {
    const shards = this.options.accounts.flatMap((accountSid) => Array.from({ length: logShards }, (_, shard) => ({ accountSid, shard })));
    await Promise.all(shards.map(({ accountSid, shard }) => this.sweepShard(accountSid, shard)));
  }

  private async sweepShard(accountSid: string, shard: number): Promise<void> {
    let due;
    try {
      due = await this.store.dueTimers(accountSid, shard, sweepBatch);
    } catch {
      // The store is unavailable: the timers wait in it for a later sweep.
      return;
    }
    for (const { timer, due: at } of due) {
      if (this.stopped) return;
      try {
        const outcome = await this.store.fireTimer(accountSid, timer);
        if (outcome === "fired") {
          this.stats.fired++;
          this.stats.lastLagMs = Math.max(0, this.now() - at);
          timersFired.inc();
          timerLag.observe(this.stats.lastLagMs / 1000);
          this.log.info(`${timer} of ${accountSid} fired ${this.stats.lastLagMs} ms after its deadline`);
        } else if (outcome === "stale") {
          this.stats.stale++;
        }
      } catch (error) {
        this.stats.failed++;
        timerFailures.inc();
        this.log.warn({ err: error }, `${timer} of ${accountSid} failed to fire, will retry`);
      }
    }
  }
}
