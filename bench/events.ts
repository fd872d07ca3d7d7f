import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { EventType } from "../gen/rollcall/v1/event_pb.js";
import { ParticipantService, type ParticipantServiceJoinResponse } from "../gen/rollcall/v1/participant_pb.js";
import { newSid } from "../src/operations/sids.js";
import { connectServer } from "../src/store/redis/connection.js";
import { roomKeys, shardKeys } from "../src/store/redis/keys.js";
import { RedisStore, type RedisStoreOptions } from "../src/store/redis/redis-store.js";
import { logShards, type NewRoom } from "../src/store/store.js";
import { freePort, startRedis } from "../test/support/redis-server.js";
import { BaselineJoin } from "./baseline-join.js";
import type { WatcherCommand, WatcherReply, WatcherResult } from "./event-watchers.js";

// npm run bench:events (and the end of npm run bench): what the change log
// costs and how fast its events reach watchers, in one run on one Redis of
// its own:
//  1. store-level join throughput, the join script of today (which appends
//     every event to the room's log and its account shard's log) against the
//     join script from before the change log (bench/baseline-join.ts);
//  2. change-to-watcher latency of 1 000 Watch streams on one room while
//     ParticipantService Join/Leave make ~500 changes/s;
//  3. the same for a few account-wide watchers while the changes are spread
//     over 1 000 rooms;
//  4. Redis memory per retained event.
// Every figure is printed and written into docs/BENCHMARKS.md between this
// benchmark's own markers.

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const settings = {
  // Joins per measured pass of the throughput comparison (4 passes).
  joins: env("BENCH_EVENTS_JOINS", 20_000),
  inFlight: env("BENCH_EVENTS_IN_FLIGHT", 64),
  joinRooms: 4,
  roomWatchers: env("BENCH_EVENTS_ROOM_WATCHERS", 1000),
  watcherProcesses: env("BENCH_EVENTS_WATCHER_PROCESSES", 2),
  accountWatchers: env("BENCH_EVENTS_ACCOUNT_WATCHERS", 10),
  accountRooms: 1000,
  rate: env("BENCH_EVENTS_RATE", 500),
  seconds: env("BENCH_EVENTS_SECONDS", 10),
  // Streams per HTTP/2 connection of a watcher process.
  perConnection: 100,
  // How long watchers may take after the last change to receive every event.
  drainMs: 20_000,
};
const retention = { retentionMs: 86_400_000, retentionPerRoom: 10_000, maxRoomMs: 86_400_000 };
const storeOptions: RedisStoreOptions = { commandTimeoutMs: 30_000, ...retention };

// An account for each part, so each part's shard logs hold its events alone.
const accounts = {
  joins: "AC" + "e".repeat(32),
  room: { sid: "AC" + "c".repeat(32), token: "bench-events-room" },
  wide: { sid: "AC" + "d".repeat(32), token: "bench-events-account" },
};
const basic = (account: { sid: string; token: string }) => "Basic " + Buffer.from(`${account.sid}:${account.token}`).toString("base64");

const children: ChildProcess[] = [];
let stopRedis = async () => {};

function startProcess(command: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<ChildProcess> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${output}`)));
  });
}

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

// Stops one child by its pid (SIGTERM, SIGKILL after 5 s) and waits for it.
async function stopChild(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(killer);
}

async function stopChildren(): Promise<void> {
  await Promise.all(children.map(stopChild));
}

function room(accountSid: string, maxParticipants = 1_000_000): NewRoom {
  const sid = newSid("RM");
  return {
    sid,
    accountSid,
    uniqueName: sid,
    type: "group",
    maxParticipants,
    maxParticipantDuration: 14400,
    emptyRoomTimeout: 5,
    unusedRoomTimeout: 5,
    statusCallback: "",
    statusCallbackMethod: "POST",
  };
}

// ---- 1. Join throughput, with the change log and without ----

interface JoinPass {
  joinsPerSecond: number;
  // Redis' own time per join script (INFO commandstats, evalsha).
  redisUsPerJoin: number;
  // Of which in each command the script called, µs per join.
  commands: Map<string, number>;
}

async function commandStats(redis: Redis): Promise<{ calls: number; usec: number; commands: Map<string, number> }> {
  const text = await redis.info("commandstats");
  let calls = 0;
  let usec = 0;
  const commands = new Map<string, number>();
  for (const match of text.matchAll(/^cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/gm)) {
    const [, name, count, time] = match as unknown as [string, string, string, string];
    if (name === "evalsha" || name === "eval") {
      calls += Number(count);
      usec += Number(time);
    } else if (!["config", "info", "script"].includes(name)) {
      commands.set(name, Number(time));
    }
  }
  return { calls, usec, commands };
}

// `total` joins of distinct identities spread over `rooms`, `inFlight` at a time.
async function joinPass(
  admin: Redis,
  rooms: string[],
  total: number,
  join: (roomSid: string, sid: string, identity: string) => Promise<{ kind: string }>,
): Promise<JoinPass> {
  // Sids are made before the clock starts, as both sides need the same.
  const sids = Array.from({ length: total }, () => newSid("PA"));
  await admin.config("RESETSTAT");
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: settings.inFlight }, async () => {
      while (next < total) {
        const i = next++;
        const outcome = await join(rooms[i % rooms.length]!, sids[i]!, `user-${i}`);
        if (outcome.kind !== "joined") failed++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = await commandStats(admin);
  if (failed > 0) throw new Error(`${failed} joins were refused`);
  const commands = new Map([...stats.commands].map(([name, usec]) => [name, usec / stats.calls]));
  return { joinsPerSecond: total / seconds, redisUsPerJoin: stats.usec / stats.calls, commands };
}

async function measureJoins(redisUrl: string, admin: Redis) {
  const store = await RedisStore.connect(redisUrl, storeOptions);
  const baseline = new BaselineJoin(await connectServer(redisUrl, storeOptions));
  try {
    const storeSide = async (total: number) => {
      const rooms = [];
      for (let i = 0; i < settings.joinRooms; i++) {
        const created = await store.createRoom(room(accounts.joins));
        if (created.kind !== "created") throw new Error("a bench room was not created");
        rooms.push(created.room.sid);
      }
      return joinPass(admin, rooms, total, (roomSid, sid, identity) => store.join(accounts.joins, roomSid, sid, identity));
    };
    const baselineSide = async (total: number) => {
      const rooms = [];
      for (let i = 0; i < settings.joinRooms; i++) {
        const sid = newSid("RM");
        await baseline.createRoom(accounts.joins, sid, 1_000_000);
        rooms.push(sid);
      }
      return joinPass(admin, rooms, total, (roomSid, sid, identity) => baseline.join(accounts.joins, roomSid, sid, identity));
    };
    // Warm-up: scripts loaded, code optimized.
    await baselineSide(settings.joins / 4);
    await storeSide(settings.joins / 4);
    // Baseline, new, new, baseline: drift weighs on both sides alike.
    const b1 = await baselineSide(settings.joins);
    const n1 = await storeSide(settings.joins);
    const n2 = await storeSide(settings.joins);
    const b2 = await baselineSide(settings.joins);
    const mean = (a: JoinPass, b: JoinPass): JoinPass => ({
      joinsPerSecond: (a.joinsPerSecond + b.joinsPerSecond) / 2,
      redisUsPerJoin: (a.redisUsPerJoin + b.redisUsPerJoin) / 2,
      commands: new Map([...a.commands].map(([name, us]) => [name, (us + (b.commands.get(name) ?? us)) / 2])),
    });
    return { baseline: mean(b1, b2), changeLog: mean(n1, n2), passes: { baseline: [b1, b2], changeLog: [n1, n2] } };
  } finally {
    await store.close();
  }
}

// ---- 2, 3. Change-to-watcher latency ----

class WatcherProcess {
  private readonly child: ChildProcess;
  private readonly replies: WatcherReply[] = [];
  private waiting: (() => void) | undefined;

  constructor() {
    this.child = fork(join(import.meta.dirname, "event-watchers.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    children.push(this.child);
    this.child.on("message", (reply: WatcherReply) => {
      this.replies.push(reply);
      this.waiting?.();
    });
    this.child.on("exit", () => this.waiting?.());
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }

  async ask<T extends WatcherReply["type"]>(
    command: WatcherCommand,
    type: T,
    timeoutMs: number,
  ): Promise<Extract<WatcherReply, { type: T }>> {
    this.child.send(command);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const reply = this.replies.shift();
      if (reply?.type === "error") throw new Error(`a watcher process failed: ${reply.message}`);
      if (reply?.type === type) return reply as Extract<WatcherReply, { type: T }>;
      if (this.child.exitCode !== null) throw new Error("a watcher process exited");
      if (Date.now() > deadline) throw new Error(`a watcher process did not answer ${command.type} in time`);
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
        setTimeout(resolve, 100);
      });
    }
  }
}

// CPU time used so far (ms) by a process of this machine.
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
}
const clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

// CPU time used so far (ms) by the whole machine, every core.
function machineCpuMs(): number {
  const [, ...ticks] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = ticks;
  return ((user! + nice! + system! + irq! + softirq! + steal!) * 1000) / clockTicks;
}

async function redisCpuMs(admin: Redis): Promise<number> {
  const text = await admin.info("cpu");
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  return (value("used_cpu_user") + value("used_cpu_sys")) * 1000;
}

interface Change {
  // The event it causes: "<EventType>:<identity>", as the watchers name it.
  key: string;
  sentAt: number;
  done: Promise<unknown>;
}

interface LatencyRun {
  name: string;
  watchers: number;
  processes: number;
  openMs: number;
  changes: number;
  changeErrors: number;
  changesPerSecond: number;
  sinceEvent: Percentiles;
  sinceSend: Percentiles;
  received: number;
  lost: number;
  duplicates: number;
  outOfOrder: number;
  unexpected: number;
  resumedStreams: number;
  // From the last change sent to the last event received.
  drainMs: number;
  // CPU used from the first change to the last event received, in % of one core.
  cpu: { server: number; watchers: number; driver: number; redis: number; others: number };
  loadAverage: number;
  // None: for reference.
  goal: { p50?: number; p99?: number };
  met: boolean | undefined;
}

interface Percentiles {
  p50: number;
  p99: number;
  max: number;
}

function percentiles(histogram: Map<number, number>): Percentiles {
  const sorted = [...histogram].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, count]) => sum + count, 0);
  const at = (p: number) => {
    const rank = Math.min(total - 1, Math.floor((p / 100) * total));
    let seen = 0;
    for (const [ms, count] of sorted) {
      seen += count;
      if (seen > rank) return ms;
    }
    return NaN;
  };
  return { p50: at(50), p99: at(99), max: sorted.at(-1)?.[0] ?? NaN };
}

function merge(target: Map<number, number>, pairs: [number, number][]): void {
  for (const [ms, count] of pairs) target.set(ms, (target.get(ms) ?? 0) + count);
}

// Makes changes first..first+count-1 at settings.rate a second.
async function drive(change: (i: number) => Change, first: number, count: number): Promise<Change[]> {
  const interval = 1000 / settings.rate;
  const changes: Change[] = [];
  const started = performance.now();
  for (let i = 0; i < count;) {
    const now = performance.now();
    while (i < count && started + i * interval <= now) {
      const made = change(first + i++);
      // Failures are counted once every change is done.
      made.done.catch(() => undefined);
      changes.push(made);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return changes;
}

// Opens the watchers, makes `rate` changes a second for `seconds` through
// `change(i)`, and gathers what the watchers received.
async function measureLatency(options: {
  name: string;
  baseUrl: string;
  serverPid: number;
  admin: Redis;
  authorization: string;
  watchRoom: string;
  watchers: number;
  processes: number;
  change: (i: number) => Change;
  // Changes made before the watchers open, to warm the server up.
  warmUpChanges: number;
  goal: { p50?: number; p99?: number };
}): Promise<LatencyRun> {
  await Promise.allSettled((await drive(options.change, 0, options.warmUpChanges)).map((c) => c.done));
  const processes = Array.from({ length: options.processes }, () => new WatcherProcess());
  try {
    const shares = processes.map(
      (_, i) => Math.floor(options.watchers / processes.length) + (i < options.watchers % processes.length ? 1 : 0),
    );
    const opened = await Promise.all(
      processes.map((p, i) =>
        p.ask(
          {
            type: "open",
            baseUrl: options.baseUrl,
            authorization: options.authorization,
            room: options.watchRoom,
            count: shares[i]!,
            perConnection: settings.perConnection,
          },
          "opened",
          60_000,
        ),
      ),
    );
    const openMs = Math.max(...opened.map((reply) => reply.ms));
    await new Promise((resolve) => setTimeout(resolve, 500));

    const cpuBefore = await Promise.all(processes.map((p) => p.ask({ type: "cpu" }, "cpu", 10_000)));
    const serverBefore = processCpuMs(options.serverPid);
    const redisBefore = await redisCpuMs(options.admin);
    const driverBefore = process.cpuUsage();
    const machineBefore = machineCpuMs();
    const started = performance.now();
    const changes = await drive(options.change, options.warmUpChanges, Math.round(settings.rate * settings.seconds));
    const sendSeconds = (performance.now() - started) / 1000;
    const lastSent = Date.now();
    const outcomes = await Promise.allSettled(changes.map((c) => c.done));
    const succeeded = changes.filter((_, i) => outcomes[i]!.status === "fulfilled");
    const changeErrors = changes.length - succeeded.length;
    const expected = succeeded.map((c): [string, number] => [c.key, c.sentAt]);
    const results: WatcherResult[] = await Promise.all(
      processes.map((p) =>
        p.ask({ type: "finish", expected, drainMs: settings.drainMs }, "result", settings.drainMs + 60_000).then((reply) => reply.result),
      ),
    );
    const windowMs = Math.max(1, Math.max(...results.map((r) => r.lastArrival)) - (lastSent - sendSeconds * 1000));
    const serverCpu = processCpuMs(options.serverPid) - serverBefore;
    const redisCpu = (await redisCpuMs(options.admin)) - redisBefore;
    const driver = process.cpuUsage(driverBefore);
    const machineCpu = machineCpuMs() - machineBefore;
    const watcherCpu = results.reduce((sum, r, i) => sum + r.cpuMs - cpuBefore[i]!.cpuMs, 0);

    const sinceEvent = new Map<number, number>();
    const sinceSend = new Map<number, number>();
    for (const r of results) {
      merge(sinceEvent, r.sinceEvent);
      merge(sinceSend, r.sinceSend);
    }
    const sum = (field: "received" | "lost" | "duplicates" | "outOfOrder" | "unexpected" | "resumedStreams") =>
      results.reduce((s, r) => s + r[field], 0);
    for (const failure of results.flatMap((r) => r.failures)) console.log(`  a watch failed and was resumed: ${failure}`);
    const run: LatencyRun = {
      name: options.name,
      watchers: options.watchers,
      processes: options.processes,
      openMs,
      changes: changes.length,
      changeErrors,
      changesPerSecond: changes.length / sendSeconds,
      sinceEvent: percentiles(sinceEvent),
      sinceSend: percentiles(sinceSend),
      received: sum("received"),
      lost: sum("lost"),
      duplicates: sum("duplicates"),
      outOfOrder: sum("outOfOrder"),
      unexpected: sum("unexpected"),
      resumedStreams: sum("resumedStreams"),
      drainMs: Math.max(0, Math.max(...results.map((r) => r.lastArrival)) - lastSent),
      cpu: {
        server: (100 * serverCpu) / windowMs,
        watchers: (100 * watcherCpu) / windowMs,
        driver: (100 * (driver.user + driver.system)) / 1000 / windowMs,
        redis: (100 * redisCpu) / windowMs,
        // Whatever else ran on the machine meanwhile.
        others: (100 * (machineCpu - serverCpu - redisCpu - watcherCpu - (driver.user + driver.system) / 1000)) / windowMs,
      },
      loadAverage: loadavg()[0]!,
      goal: options.goal,
      met: false,
    };
    const ok = run.lost === 0 && run.changeErrors === 0 && run.duplicates === 0 && run.outOfOrder === 0;
    const { p50, p99 } = options.goal;
    run.met = p99 === undefined ? undefined : ok && run.sinceEvent.p99 <= p99 && (p50 === undefined || run.sinceEvent.p50 <= p50);
    return run;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
}

// A Connect client (binary, HTTP/2) of ParticipantService.
function participants(baseUrl: string, authorization: string) {
  const authorizing: Interceptor = (next) => (req) => {
    req.header.set("authorization", authorization);
    return next(req);
  };
  return createClient(
    ParticipantService,
    createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true, interceptors: [authorizing] }),
  );
}

const connected = EventType.PARTICIPANT_CONNECTED;
const disconnected = EventType.PARTICIPANT_DISCONNECTED;

// Changes of one room: joins of new identities, and from the 50th on every
// other change the leave of the oldest participant still in.
function roomChanges(client: ReturnType<typeof participants>, roomSid: string, tag: string) {
  const present: { identity: string; joined: Promise<ParticipantServiceJoinResponse> }[] = [];
  let joins = 0;
  return (i: number): Change => {
    if (i % 2 === 1 && present.length >= 50) {
      const { identity, joined } = present.shift()!;
      const sentAt = Date.now();
      return {
        key: `${disconnected}:${identity}`,
        sentAt,
        done: joined.then((j) => client.leave({ room: roomSid, participant: j.participant!.sid })),
      };
    }
    const identity = `${tag}-${joins++}`;
    const sentAt = Date.now();
    const joined = client.join({ room: roomSid, identity });
    present.push({ identity, joined });
    return { key: `${connected}:${identity}`, sentAt, done: joined };
  };
}

// Changes spread over many rooms: round after round over every room, a
// join in each, then the leave of that participant, and so on.
function spreadChanges(client: ReturnType<typeof participants>, roomSids: string[]) {
  const joined = new Map<string, Promise<ParticipantServiceJoinResponse>>();
  return (i: number): Change => {
    const roomSid = roomSids[i % roomSids.length]!;
    const round = Math.floor(i / roomSids.length);
    const sentAt = Date.now();
    if (round % 2 === 1) {
      const identity = `wide-${i % roomSids.length}-${round - 1}`;
      const done = joined.get(identity)!.then((j) => client.leave({ room: roomSid, participant: j.participant!.sid }));
      return { key: `${disconnected}:${identity}`, sentAt, done };
    }
    const identity = `wide-${i % roomSids.length}-${round}`;
    const done = client.join({ room: roomSid, identity });
    joined.set(identity, done);
    return { key: `${connected}:${identity}`, sentAt, done };
  };
}

// ---- 4. Memory per retained event ----

interface MemoryRow {
  name: string;
  events: number;
  roomLogBytes: number;
  shardLogBytes: number;
  payloadBytes: number;
}

async function logMemory(admin: Redis, name: string, accountSid: string, roomSids: string[]): Promise<MemoryRow> {
  const usage = async (keys: string[]) => {
    let bytes = 0;
    let entries = 0;
    for (const key of keys) {
      bytes += Number((await admin.memory("USAGE", key, "SAMPLES", 0)) ?? 0);
      entries += await admin.xlen(key);
    }
    return { bytes, entries };
  };
  const roomLogs = await usage(roomSids.map((sid) => roomKeys(accountSid, sid).log));
  const shardLogs = await usage(Array.from({ length: logShards }, (_, shard) => shardKeys(accountSid, shard).shardLog));
  if (roomLogs.entries !== shardLogs.entries)
    console.log(`  ${name}: ${roomLogs.entries} events in room logs but ${shardLogs.entries} in shard logs`);
  // The payload of a sample of events, as stored (JSON).
  const sample = (await admin.xrevrange(roomKeys(accountSid, roomSids[0]!).log, "+", "-", "COUNT", 100)) as [string, string[]][];
  const payloadBytes = sample.reduce((sum, [, fields]) => sum + Buffer.byteLength(fields[1]!), 0) / Math.max(1, sample.length);
  return {
    name,
    events: roomLogs.entries,
    roomLogBytes: roomLogs.bytes / roomLogs.entries,
    shardLogBytes: shardLogs.bytes / shardLogs.entries,
    payloadBytes,
  };
}

// ---- The report ----

const fixed = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a";
const met = (ok: boolean) => (ok ? "met" : "**not met**");

function breakdown(pass: JoinPass): string {
  const listed = [...pass.commands].filter(([, us]) => us >= 0.05).sort((a, b) => b[1] - a[1]);
  const inCommands = listed.reduce((sum, [, us]) => sum + us, 0);
  return `${listed.map(([name, us]) => `${name} ${us.toFixed(1)}`).join(", ")}; Lua ${(pass.redisUsPerJoin - inCommands).toFixed(1)}`;
}

function report(command: string, joins: Awaited<ReturnType<typeof measureJoins>>, latency: LatencyRun[], memory: MemoryRow[]): string {
  const ratio = joins.changeLog.joinsPerSecond / joins.baseline.joinsPerSecond;
  const redisRatio = joins.changeLog.redisUsPerJoin / joins.baseline.redisUsPerJoin;
  const passes = (list: JoinPass[]) => list.map((p) => fixed(p.joinsPerSecond)).join(", ");
  const lines = [
    `Command: \`${command}\`. Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, Redis ${execFileSync("redis-server", ["--version"], { encoding: "utf8" }).split(" ")[2]?.replace("v=", "")}; Redis, rollcall, the watcher processes and the change driver share the machine.`,
    "",
    `Join throughput at the store level (${fixed(settings.joins)} joins of distinct identities per pass over ${settings.joinRooms} fresh rooms, ${settings.inFlight} in flight, one ioredis client with auto-pipelining; passes in the order baseline, change log, change log, baseline):`,
    "",
    "| join script | joins/s (mean of 2 passes) | passes | Redis µs per script call |",
    "|---|---:|---|---:|",
    `| before the change log (c8ef070, bench/baseline-join.ts) | ${fixed(joins.baseline.joinsPerSecond)} | ${passes(joins.passes.baseline)} | ${fixed(joins.baseline.redisUsPerJoin, 1)} |`,
    `| with the change log (room log + shard log, XADD x2 and trimming) | ${fixed(joins.changeLog.joinsPerSecond)} | ${passes(joins.passes.changeLog)} | ${fixed(joins.changeLog.redisUsPerJoin, 1)} |`,
    `| ratio, change log / before | ${ratio.toFixed(2)} (goal >= 0.85: ${met(ratio >= 0.85)}) | | ${redisRatio.toFixed(2)} |`,
    "",
    "Redis µs per join spent in the commands the script calls (INFO commandstats; the rest of the script's time is Lua itself, cjson included):",
    "",
    `- before: ${breakdown(joins.baseline)}`,
    `- with the change log: ${breakdown(joins.changeLog)}`,
    "",
    "Change-to-watcher latency (Watch over Connect, binary, HTTP/2, 100 streams per connection; changes by ParticipantService Join and Leave over Connect binary HTTP/2). " +
      "\"since event\" = receive time (`Date.now()` in the watcher) minus the event's `time` (Redis' clock, same machine); " +
      '"since send" = receive time minus the time the Join or Leave RPC causing it was sent. Milliseconds, whole ms resolution; ' +
      "lost = events expected minus received, summed over watchers, counting only what arrived within " +
      `${settings.drainMs / 1000} s after the last change:`,
    "",
    "| watch | watchers (processes) | changes (/s) | events received | since event p50 / p99 / max | since send p50 / p99 / max | lost | dup / out of order | streams failed and resumed | last event after last change | goal | met |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ...latency.map((r) => {
      const goal =
        r.goal.p99 === undefined
          ? "for reference"
          : r.goal.p50 === undefined
            ? `p99 <= ${r.goal.p99} ms, 0 lost`
            : `p50 <= ${r.goal.p50} ms, p99 <= ${r.goal.p99} ms, 0 lost`;
      const errors = r.changeErrors > 0 ? ` (${r.changeErrors} failed)` : "";
      return `| ${r.name} | ${fixed(r.watchers)} (${r.processes}) | ${fixed(r.changes)} (${fixed(r.changesPerSecond)})${errors} | ${fixed(r.received)} | ${r.sinceEvent.p50} / ${r.sinceEvent.p99} / ${r.sinceEvent.max} | ${r.sinceSend.p50} / ${r.sinceSend.p99} / ${r.sinceSend.max} | ${fixed(r.lost)} | ${r.duplicates} / ${r.outOfOrder} | ${fixed(r.resumedStreams)} | ${fixed(r.drainMs)} ms | ${goal} | ${r.met === undefined ? "" : met(r.met)} |`;
    }),
    "",
    "Where the CPU went during each latency run (from the first change to the last event received; % of one core, the machine has " +
      cpus().length +
      "):",
    "",
    "| watch | rollcall server | watcher processes | change driver | Redis | other processes of the machine | load average (1 min) at the end | time to open every watch |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...latency.map(
      (r) =>
        `| ${r.name} | ${fixed(r.cpu.server)} % | ${fixed(r.cpu.watchers)} % | ${fixed(r.cpu.driver)} % | ${fixed(r.cpu.redis)} % | ${fixed(r.cpu.others)} % | ${r.loadAverage.toFixed(1)} | ${fixed(r.openMs)} ms |`,
    ),
    "",
    "Redis memory per retained event (`MEMORY USAGE … SAMPLES 0` of the logs divided by their entries; every event is stored twice, in its room's log and in its account shard's log):",
    "",
    "| events of | events | room log bytes/event | shard log bytes/event | both, bytes/event | payload (JSON) bytes |",
    "|---|---:|---:|---:|---:|---:|",
    ...memory.map(
      (m) =>
        `| ${m.name} | ${fixed(m.events)} | ${fixed(m.roomLogBytes)} | ${fixed(m.shardLogBytes)} | ${fixed(m.roomLogBytes + m.shardLogBytes)} | ${fixed(m.payloadBytes)} |`,
    ),
  ];
  return lines.join("\n");
}

function writeDoc(results: string): void {
  const doc = "docs/BENCHMARKS.md";
  const text = readFileSync(doc, "utf8");
  const start = "<!-- bench events results: written by npm run bench:events -->";
  const end = "<!-- end of bench events results -->";
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${doc} lacks the markers ${start} and ${end}`);
  writeFileSync(doc, text.slice(0, from + start.length) + "\n" + results + "\n" + text.slice(to));
  console.log(`written into ${doc}`);
}

async function main(): Promise<void> {
  const command = process.env.npm_lifecycle_event === "bench" ? "npm run bench" : "npm run bench:events";
  if (process.env.BENCH_EVENTS_NO_BUILD !== "1") execFileSync("npm", ["run", "build"], { stdio: "ignore" });
  const redis = await startRedis();
  stopRedis = () => redis.stop();
  const scratch = mkdtempSync(join(tmpdir(), "rollcall-bench-events-"));
  const admin = new Redis(redis.url);
  try {
    console.log("measuring join throughput, with the change log and without ...");
    const joins = await measureJoins(redis.url, admin);
    console.log(`  baseline ${fixed(joins.baseline.joinsPerSecond)} joins/s, change log ${fixed(joins.changeLog.joinsPerSecond)} joins/s`);

    console.log("starting rollcall ...");
    const store = await RedisStore.connect(redis.url, storeOptions);
    const watchedRoom = await store.createRoom(room(accounts.room.sid));
    const spreadRooms: string[] = [];
    for (let i = 0; i < settings.accountRooms; i += 100) {
      const made = await Promise.all(
        Array.from({ length: Math.min(100, settings.accountRooms - i) }, () => store.createRoom(room(accounts.wide.sid))),
      );
      for (const created of made) if (created.kind === "created") spreadRooms.push(created.room.sid);
    }
    await store.close();
    if (watchedRoom.kind !== "created" || spreadRooms.length !== settings.accountRooms) throw new Error("the bench rooms were not created");

    const credentials = join(scratch, "credentials.json");
    writeFileSync(
      credentials,
      JSON.stringify({ accounts: [accounts.room, accounts.wide].map((a) => ({ sid: a.sid, auth_token: a.token })) }),
    );
    const port = await freePort();
    const server = await startProcess(
      process.execPath,
      // BENCH_EVENTS_SERVER_NODE_OPTIONS: e.g. --cpu-prof, to see where the server's time goes.
      [...(process.env.BENCH_EVENTS_SERVER_NODE_OPTIONS ?? "").split(" ").filter(Boolean), "dist/src/main.js"],
      {
        PORT: String(port),
        GRPC_PORT: "off",
        REDIS_URL: redis.url,
        ROLLCALL_CREDENTIALS_FILE: credentials,
        ROLLCALL_MAX_PARTICIPANTS: "1000000",
        // Thousands of watchers connect from this one address at once, as no single client would.
        ROLLCALL_CONNECTIONS_PER_SECOND: "1000000",
        ROLLCALL_CONNECTION_BURST: "1000000",
        ...retentionEnv(),
      },
      /serving/,
    );
    const baseUrl = `http://127.0.0.1:${port}`;

    const latency: LatencyRun[] = [];
    // A tenth of the watchers first, for reference: how the latency grows with the fan-out.
    const fewer = Math.max(1, Math.round(settings.roomWatchers / 10));
    console.log(`measuring ${fewer} watchers of one room ...`);
    latency.push(
      await measureLatency({
        name: "one room, a tenth of the watchers (reference)",
        baseUrl,
        serverPid: server.pid!,
        admin,
        authorization: basic(accounts.room),
        watchRoom: watchedRoom.room.sid,
        watchers: fewer,
        processes: 1,
        change: roomChanges(participants(baseUrl, basic(accounts.room)), watchedRoom.room.sid, "tenth"),
        warmUpChanges: settings.rate,
        goal: {},
      }),
    );
    console.log(`measuring ${settings.roomWatchers} watchers of one room ...`);
    latency.push(
      await measureLatency({
        name: "one room",
        baseUrl,
        serverPid: server.pid!,
        admin,
        authorization: basic(accounts.room),
        watchRoom: watchedRoom.room.sid,
        watchers: settings.roomWatchers,
        processes: settings.watcherProcesses,
        change: roomChanges(participants(baseUrl, basic(accounts.room)), watchedRoom.room.sid, "one"),
        warmUpChanges: settings.rate,
        goal: { p50: 5, p99: 50 },
      }),
    );
    console.log(`measuring ${settings.accountWatchers} account-wide watchers, changes over ${settings.accountRooms} rooms ...`);
    latency.push(
      await measureLatency({
        name: `account-wide, ${fixed(settings.accountRooms)} rooms changing`,
        baseUrl,
        serverPid: server.pid!,
        admin,
        authorization: basic(accounts.wide),
        watchRoom: "",
        watchers: settings.accountWatchers,
        processes: 1,
        change: spreadChanges(participants(baseUrl, basic(accounts.wide)), spreadRooms),
        warmUpChanges: settings.accountRooms,
        goal: { p99: 100 },
      }),
    );

    console.log("measuring memory ...");
    const joinRooms = await roomsOf(admin, accounts.joins);
    const memory = [
      await logMemory(admin, `joins of part 1 (${joinRooms.length} rooms)`, accounts.joins, joinRooms),
      await logMemory(admin, "the watched room", accounts.room.sid, [watchedRoom.room.sid]),
      await logMemory(admin, `${fixed(settings.accountRooms)} rooms of the account-wide watch`, accounts.wide.sid, spreadRooms),
    ];

    const results = report(command, joins, latency, memory);
    console.log("\n" + results + "\n");
    writeDoc(results);
  } finally {
    await stopChildren();
    admin.disconnect();
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

// The server keeps events as long as the store of part 1 does.
function retentionEnv(): Record<string, string> {
  return {
    ROLLCALL_EVENT_RETENTION_HOURS: String(retention.retentionMs / 3_600_000),
    ROLLCALL_EVENT_RETENTION_PER_ROOM: String(retention.retentionPerRoom),
  };
}

// The rooms of an account with a log (room keys named …:<room sid>:log).
async function roomsOf(admin: Redis, accountSid: string): Promise<string[]> {
  const rooms = new Set<string>();
  for (let shard = 0; shard < logShards; shard++) {
    const tag = shardKeys(accountSid, shard).shardLog.slice(0, -"log".length);
    for await (const keys of admin.scanStream({ match: `${tag}RM*:log`, count: 1000 }) as AsyncIterable<string[]>) {
      for (const key of keys) rooms.add(key.slice(tag.length, tag.length + 34));
    }
  }
  return [...rooms];
}

// On any failure, the processes this started are stopped (by pid) before it exits.
function fail(error: unknown): void {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  void stopChildren()
    .then(() => stopRedis())
    .finally(() => process.exit(1));
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);
main().then(
  // Nothing is left to wait for (the clients' HTTP/2 sessions would keep it alive).
  () => process.exit(0),
  fail,
);
