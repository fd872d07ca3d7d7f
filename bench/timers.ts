import { Redis } from "ioredis";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { cpus } from "node:os";
import { newSid } from "../src/operations/sids.js";
import { RedisStore } from "../src/store/redis/redis-store.js";
import { logShards } from "../src/store/store.js";
import { shardKeys } from "../src/store/redis/keys.js";
import { TimerSweeper } from "../src/timers/sweeper.js";
import { startRedis } from "../test/support/redis-server.js";
import { createLogger } from "../src/observability/logger.js";

const silent = createLogger({ level: "silent", format: "json" });

// npm run bench:timers (and the end of npm run bench): what the timer sweeper
// costs and how late timers fire, against its own redis-server.
//  1. Sweeper cost with 100 000 vs 1 000 pending timers that are not due:
//     sweeps per second for a few seconds each, the sweeper's CPU time and
//     Redis' commands per sweep; goal: 100 000 costs <= 1.5 x 1 000.
//  2. Firing lag with 10 000 rooms whose unused timeout (1 minute, the
//     shortest) falls due within the same minute, on the real clock, with the
//     sweeper as rollcall runs it (every 250 ms): the room-ended event's time
//     minus the deadline.

const account = "AC" + "c".repeat(32);
const limits = { commandTimeoutMs: 30_000, retentionMs: 86_400_000, retentionPerRoom: 10_000, maxRoomMs: 86_400_000 };
const sweepSeconds = Number(process.env.BENCH_SECONDS ?? 4);
const dueRooms = Number(process.env.BENCH_TIMER_ROOMS ?? 10_000);

interface SweepCost {
  pending: number;
  sweepsPerSecond: number;
  cpuMsPerSweep: number;
  redisCommandsPerSweep: number;
}

async function redisCommands(redis: Redis): Promise<number> {
  const info = await redis.info("stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0);
}

// Pending timers far in the future, spread over the account's shards as rooms spread them.
async function seedPending(redis: Redis, count: number): Promise<void> {
  await redis.flushall();
  const future = Date.now() + 3_600_000;
  for (let start = 0; start < count; start += 5000) {
    const pipeline = redis.pipeline();
    for (let i = start; i < Math.min(count, start + 5000); i++) {
      const sid = newSid("RM");
      pipeline.zadd(shardKeys(account, parseInt(sid.slice(-1), 16)).timers, future + i, `unused:${sid}`);
    }
    await pipeline.exec();
  }
}

async function sweepCost(store: RedisStore, redis: Redis, pending: number): Promise<SweepCost> {
  await seedPending(redis, pending);
  const sweeper = new TimerSweeper(store, { accounts: [account], intervalMs: 250 }, silent);
  for (let i = 0; i < 20; i++) await sweeper.sweep();
  const commandsBefore = await redisCommands(redis);
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  let sweeps = 0;
  while (Date.now() - started < sweepSeconds * 1000) {
    await sweeper.sweep();
    sweeps++;
  }
  const elapsed = (Date.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const commands = (await redisCommands(redis)) - commandsBefore - 1;
  return {
    pending,
    sweepsPerSecond: sweeps / elapsed,
    cpuMsPerSweep: (cpu.user + cpu.system) / 1000 / sweeps,
    redisCommandsPerSweep: commands / sweeps,
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function firingLag(store: RedisStore): Promise<{ rooms: number; p50: number; p99: number; max: number; ended: number }> {
  const deadlines = new Map<string, number>();
  for (let start = 0; start < dueRooms; start += 500) {
    const created = await Promise.all(
      Array.from({ length: Math.min(500, dueRooms - start) }, (_, i) =>
        store.createRoom({
          sid: newSid("RM"),
          accountSid: account,
          uniqueName: `lag-${start + i}`,
          type: "group",
          maxParticipants: 50,
          maxParticipantDuration: 14400,
          emptyRoomTimeout: 5,
          unusedRoomTimeout: 1,
          statusCallback: "",
          statusCallbackMethod: "POST",
        }),
      ),
    );
    for (const outcome of created) if (outcome.kind === "created") deadlines.set(outcome.room.sid, outcome.room.dateCreated + 60_000);
  }
  const lags: number[] = [];
  const stop = new AbortController();
  // One signal stops the 16 shard followers.
  setMaxListeners(0, stop.signal);
  const sweeper = new TimerSweeper(store, { accounts: [account], intervalMs: 250 }, silent);
  const followers = Array.from({ length: logShards }, async (_, shard) => {
    try {
      for await (const batch of store.followLog({ accountSid: account, shard }, undefined, { signal: stop.signal, keepAliveMs: 1000 })) {
        for (const { event } of batch.events) {
          if (event.type === "room-ended") lags.push(event.time - deadlines.get(event.roomSid)!);
        }
        if (lags.length >= deadlines.size) stop.abort();
      }
    } catch {
      // Stopped.
    }
  });
  sweeper.start();
  const last = Math.max(...deadlines.values());
  while (lags.length < deadlines.size && Date.now() < last + 30_000) await new Promise((resolve) => setTimeout(resolve, 100));
  stop.abort();
  await sweeper.close();
  await Promise.all(followers);
  lags.sort((a, b) => a - b);
  return { rooms: deadlines.size, p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.at(-1) ?? NaN, ended: lags.length };
}

export async function benchTimers(): Promise<string> {
  const redis = await startRedis();
  const admin = new Redis(redis.url);
  try {
    const store = await RedisStore.connect(redis.url, limits);
    console.log("measuring the timer sweeper with 1 000 and 100 000 pending timers ...");
    const small = await sweepCost(store, admin, 1_000);
    const large = await sweepCost(store, admin, 100_000);
    await admin.flushall();
    console.log(`measuring firing lag with ${dueRooms} rooms due within the same minute (about 70 s) ...`);
    const lag = await firingLag(store);
    await store.close();
    const ratio = large.cpuMsPerSweep / small.cpuMsPerSweep;
    const commandRatio = large.redisCommandsPerSweep / small.redisCommandsPerSweep;
    const row = (c: SweepCost) =>
      `| ${c.pending.toLocaleString("en-US")} | ${c.sweepsPerSecond.toFixed(0)} | ${c.cpuMsPerSweep.toFixed(2)} | ${c.redisCommandsPerSweep.toFixed(1)} |`;
    return [
      `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${cpus().length} cores, Node ${process.version}, Redis ${execFileSync("redis-server", ["--version"], { encoding: "utf8" }).split(" ")[2]}; sweeps of one account's 16 shards for ${sweepSeconds} s each.`,
      "",
      "| pending timers (none due) | sweeps/s | sweeper CPU ms per sweep | Redis commands per sweep |",
      "|---:|---:|---:|---:|",
      row(small),
      row(large),
      "",
      `Sweeper CPU per sweep, 100 000 vs 1 000 pending: **${ratio.toFixed(2)}** (goal <= 1.5: ${ratio <= 1.5 ? "met" : "**not met**"}); Redis commands per sweep: ${commandRatio.toFixed(2)}.`,
      "",
      `Firing lag, ${lag.rooms.toLocaleString("en-US")} rooms whose 1-minute unused timeout falls due within the same minute, sweeper every 250 ms on the real clock: p50 ${lag.p50} ms, p99 ${lag.p99} ms, max ${lag.max} ms; ${lag.ended.toLocaleString("en-US")} of ${lag.rooms.toLocaleString("en-US")} ended (goal: within 1 s: ${lag.p99 <= 1000 && lag.ended === lag.rooms ? "met" : "**not met**"}).`,
    ].join("\n");
  } finally {
    admin.disconnect();
    await redis.stop();
  }
}

// Writes the section between its markers in docs/BENCHMARKS.md.
export function writeTimersSection(results: string): void {
  const doc = "docs/BENCHMARKS.md";
  const start = "<!-- timer results: written by npm run bench:timers -->";
  const end = "<!-- end of timer results -->";
  const text = readFileSync(doc, "utf8");
  const section = `${start}\n${results}\n${end}`;
  const next = text.includes(start)
    ? text.slice(0, text.indexOf(start)) + section + text.slice(text.indexOf(end) + end.length)
    : `${text.trimEnd()}\n\n## Timers\n\nCommand: \`npm run bench:timers\` (also the end of \`npm run bench\`).\n\n${section}\n`;
  writeFileSync(doc, next);
}

if (process.argv[1]?.endsWith("timers.ts")) {
  benchTimers().then(
    (results) => {
      console.log("\n" + results + "\n");
      writeTimersSection(results);
      console.log("written into docs/BENCHMARKS.md");
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exit(1);
    },
  );
}
