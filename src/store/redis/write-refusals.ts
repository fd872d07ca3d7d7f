import type { StoreRefusal } from "../../domain/errors.js";
import type { Logger } from "../../observability/logger.js";

// Redis answering but refusing writes, told apart by the reply's error code
// (Redis 7 keeps the code of a command refused inside a script).

const refusalOfCode: Record<string, StoreRefusal> = {
  OOM: "out_of_memory",
  READONLY: "read_only",
  MISCONF: "cannot_persist",
  NOREPLICAS: "too_few_replicas",
  NOSCRIPT: "scripts_lost",
};

// The cause as callers and the log read it.
export const refusalText: Record<StoreRefusal, string> = {
  out_of_memory: "Redis is out of memory (maxmemory reached with noeviction); writes are refused",
  read_only: "Redis is a read-only replica (REDIS_URL must name the primary, or a failover is under way); writes are refused",
  cannot_persist: "Redis cannot persist to disk (MISCONF, its last RDB snapshot or AOF write failed); writes are refused",
  too_few_replicas: "Redis has fewer good replicas than min-replicas-to-write; writes are refused",
  scripts_lost: "Redis keeps losing rollcall's Lua scripts (NOSCRIPT); try again",
};

export function refusalOf(error: unknown): StoreRefusal | undefined {
  if (!(error instanceof Error) || error.name !== "ReplyError") return undefined;
  return refusalOfCode[/^[A-Z]+/.exec(error.message)?.[0] ?? ""];
}

// A script that declares it may write (a shebang without no-writes) and
// writes nothing: Redis refuses it exactly when it refuses writes (OOM,
// READONLY, MISCONF, NOREPLICAS), so it probes whether writes can succeed at
// the cost of a PING.
export const writeProbe = "#!lua\nreturn 1";

// Whether the store refuses writes, logged once per change of state rather
// than once per call. Entered when a call or a probe meets a refusal. Left
// when a probe finds writes accepted; while refusing, the tracker probes every
// probeIntervalMs itself, so leaving is logged even when nobody asks for
// readiness. Lost scripts are invisible to a probe (it sends its script
// whole): that state is left once no call has met NOSCRIPT for quietMs.
export class WriteRefusals {
  private current: { refusal: StoreRefusal; since: number; lastMet: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    // Undefined: the changes are not logged.
    private readonly log: Logger | undefined,
    // Resolves when writes are accepted; rejects otherwise, having reported
    // what it met through refused().
    private readonly probe: () => Promise<void>,
    private readonly probeIntervalMs = 1000,
    private readonly quietMs = 10_000,
  ) {}

  get refusal(): StoreRefusal | undefined {
    return this.current?.refusal;
  }

  refused(refusal: StoreRefusal, reply: string): void {
    const now = Date.now();
    if (this.current?.refusal === refusal) {
      this.current.lastMet = now;
      return;
    }
    this.log?.warn({ refusal, reply }, `refusing writes: ${refusalText[refusal]}; calls that write answer unavailable meanwhile`);
    this.current = { refusal, since: now, lastMet: now };
    this.tickLater();
  }

  // A probe found writes accepted.
  accepted(): void {
    if (this.current !== undefined && this.current.refusal !== "scripts_lost") this.leave();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private leave(): void {
    const { refusal, since } = this.current!;
    this.log?.info({ refusal }, `accepting writes again after ${((Date.now() - since) / 1000).toFixed(1)} s of refusal`);
    this.current = undefined;
  }

  private tickLater(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const tick =
        this.current?.refusal === "scripts_lost"
          ? Promise.resolve(Date.now() - this.current.lastMet >= this.quietMs && this.leave())
          : this.probe().catch(() => undefined);
      void tick.finally(() => {
        if (this.current !== undefined) this.tickLater();
      });
    }, this.probeIntervalMs);
    this.timer.unref();
  }
}
