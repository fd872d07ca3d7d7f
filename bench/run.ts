import { create, toBinary } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { ParticipantServiceGetRequestSchema } from "../gen/rollcall/v1/participant_pb.js";
import { encodePageToken } from "../src/operations/page-token.js";
import { newSid } from "../src/operations/sids.js";
import { roomKeys } from "../src/store/redis/keys.js";
import { RedisStore } from "../src/store/redis/redis-store.js";
import type { Cursor, NewRoom } from "../src/store/store.js";
import { freePort, startRedis } from "../test/support/redis-server.js";
import { ensureTools, h2load, wrk, type LoadResult } from "./tools.js";

// npm run bench: starts its own Redis, rollcall and baseline servers, seeds
// rooms, drives each with a load generator in a separate process, and prints
// (and writes into docs/BENCHMARKS.md) every figure beside the baseline
// measured in the same run. BENCH_SECONDS sets the length of each load.

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
// BENCH_ONLY: a regular expression; only the comparisons whose names match
// run, nothing else, and docs/BENCHMARKS.md is left as it is (for iterating).
const only = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY, "i") : undefined;
const account = { sid: "AC" + "b".repeat(32), token: "bench-token" };
const authorization = "Basic " + Buffer.from(`${account.sid}:${account.token}`).toString("base64");
const listSizes = [1_000, 10_000, 100_000];
const children: ChildProcess[] = [];

interface Row {
  name: string;
  rollcall: LoadResult;
  baseline?: LoadResult | undefined;
  ratio?: number | undefined;
  goal: string;
  met?: boolean | undefined;
}

// Resolves once every port accepts connections (for a server that logs nothing).
async function listening(...ports: number[]): Promise<void> {
  for (const port of ports) {
    for (let attempt = 0; ; attempt++) {
      const connected = await new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => {
          socket.destroy();
          resolve(true);
        });
        socket.on("error", () => resolve(false));
      });
      if (connected) break;
      if (attempt > 200) throw new Error(`nothing listens on port ${port}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function startProcess(command: string, args: string[], env: Record<string, string>, ready: RegExp | (() => Promise<void>)): Promise<void> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    if (typeof ready === "function") ready().then(resolve, reject);
    let output = "";
    let started = typeof ready === "function";
    // Read until ready, then drained and dropped, as a log collector would
    // (rollcall logs an access line per request at info).
    child.stdout.on("data", (chunk: Buffer) => {
      if (started) return;
      output += chunk.toString();
      if (typeof ready !== "function" && ready.test(output)) {
        started = true;
        output = "";
        resolve();
      }
    });
    child.on("exit", (code) => reject(new Error(`${command} ${args.join(" ")} exited with ${code}:\n${output}`)));
  });
}

function room(fields: Partial<NewRoom>): NewRoom {
  const sid = newSid("RM");
  return {
    sid,
    accountSid: account.sid,
    uniqueName: sid,
    type: "group",
    maxParticipants: 1_000_000,
    maxParticipantDuration: 14400,
    emptyRoomTimeout: 5,
    unusedRoomTimeout: 5,
    statusCallback: "",
    statusCallbackMethod: "POST",
    ...fields,
  };
}

// A room of `size` participant records: size/2 identities that each joined
// twice, so half are connected and half are history.
async function seedRoom(store: RedisStore, size: number): Promise<NewRoom> {
  const record = room({});
  await store.createRoom(record);
  for (let round = 0; round < 2; round++) {
    for (let batch = 0; batch < size / 2; batch += 1000) {
      const joins = [];
      for (let i = batch; i < Math.min(batch + 1000, size / 2); i++)
        joins.push(store.join(account.sid, record.sid, newSid("PA"), `user-${i}`));
      await Promise.all(joins);
    }
  }
  return record;
}

// A page token pointing at the middle of a room's connected participants.
async function middleToken(store: RedisStore, roomSid: string, connected: number): Promise<string> {
  let cursor: Cursor | undefined;
  for (let seen = 0; seen < connected / 2; seen += 1000) {
    const page = await store.listParticipants(account.sid, roomSid, {
      status: "connected",
      cursor,
      limit: Math.min(1000, connected / 2 - seen),
    });
    const last = page.participants.at(-1)!;
    cursor = { time: last.startTime, sequence: last.sequence, sid: last.sid };
  }
  return encodePageToken({ status: "connected", cursor: cursor!, roomSid });
}

// Every key of the room but its change log, which npm run bench:events measures.
async function memoryPerParticipant(redisUrl: string, roomSid: string, participants: number): Promise<number> {
  const redis = new Redis(redisUrl, { enableAutoPipelining: true });
  const keys = roomKeys(account.sid, roomSid);
  try {
    let bytes = 0;
    for await (const found of redis.scanStream({ match: `${keys.prefix}*`, count: 5000 }) as AsyncIterable<string[]>) {
      const sizes = await Promise.all(found.filter((key) => key !== keys.log).map((key) => redis.memory("USAGE", key, "SAMPLES", 0)));
      bytes += sizes.reduce((sum: number, size) => sum + Number(size ?? 0), 0);
    }
    return bytes / participants;
  } finally {
    redis.disconnect();
  }
}

// Two runs of the same load as one: throughput over both, latency percentiles averaged.
function combine(a: LoadResult, b: LoadResult): LoadResult {
  return {
    rps: (a.rps + b.rps) / 2,
    p50Ms: (a.p50Ms + b.p50Ms) / 2,
    p99Ms: (a.p99Ms + b.p99Ms) / 2,
    requests: a.requests + b.requests,
    failed: a.failed + b.failed,
  };
}

const ms = (value: number) => (Number.isFinite(value) ? value.toFixed(2) : "n/a");
const rate = (value: number) => (Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "n/a");

function table(rows: Row[]): string {
  const lines = [
    "| measurement | rollcall req/s | p50 ms | p99 ms | errors | baseline req/s | p50 ms | p99 ms | ratio | goal | met |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const row of rows) {
    const b = row.baseline;
    lines.push(
      `| ${row.name} | ${rate(row.rollcall.rps)} | ${ms(row.rollcall.p50Ms)} | ${ms(row.rollcall.p99Ms)} | ${row.rollcall.failed} | ${b ? rate(b.rps) : ""} | ${b ? ms(b.p50Ms) : ""} | ${b ? ms(b.p99Ms) : ""} | ${row.ratio === undefined ? "" : row.ratio.toFixed(2)} | ${row.goal} | ${row.met === undefined ? "" : row.met ? "met" : "**not met**"} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  ensureTools();
  execFileSync("npm", ["run", "build"], { stdio: "ignore" });
  const redis = await startRedis();
  const scratch = mkdtempSync(join(tmpdir(), "rollcall-bench-"));
  try {
    console.log("seeding rooms ...");
    const store = await RedisStore.connect(redis.url, {
      commandTimeoutMs: 30_000,
      retentionMs: 86_400_000,
      retentionPerRoom: 10_000,
      maxRoomMs: 86_400_000,
    });
    const getRoom = await seedRoom(store, 2);
    const [target] = (await store.listParticipants(account.sid, getRoom.sid, { status: "connected", limit: 1 })).participants;
    if (target === undefined) throw new Error("the seeded room lists no connected participant");
    const listRooms = [];
    for (const size of listSizes) listRooms.push({ size, room: await seedRoom(store, size) });
    const tokens = await Promise.all(listRooms.map(({ size, room: r }) => middleToken(store, r.sid, size / 2)));
    // Their unused-room timers must not end them before the Join loads,
    // which come after several minutes of other loads.
    const joinRoom = room({ unusedRoomTimeout: 60 });
    const hotRoom = room({ unusedRoomTimeout: 60 });
    await store.createRoom(joinRoom);
    await store.createRoom(hotRoom);
    await store.close();

    const credentials = join(scratch, "credentials.json");
    writeFileSync(credentials, JSON.stringify({ accounts: [{ sid: account.sid, auth_token: account.token }] }));
    const ports = {
      rollcall: await freePort(),
      quiet: await freePort(),
      grpc: await freePort(),
      connect: await freePort(),
      http: await freePort(),
    };
    await startProcess(
      process.execPath,
      ["dist/src/main.js"],
      {
        PORT: String(ports.rollcall),
        REDIS_URL: redis.url,
        ROLLCALL_CREDENTIALS_FILE: credentials,
        ROLLCALL_MAX_PARTICIPANTS: "1000000",
      },
      /serving/,
    );
    // The same build with logs silent and metrics off, for the overhead rows.
    await startProcess(
      process.execPath,
      ["dist/src/main.js"],
      {
        PORT: String(ports.quiet),
        REDIS_URL: redis.url,
        ROLLCALL_CREDENTIALS_FILE: credentials,
        ROLLCALL_MAX_PARTICIPANTS: "1000000",
        ROLLCALL_LOG_LEVEL: "silent",
        ROLLCALL_METRICS: "off",
      },
      () => listening(ports.quiet),
    );
    for (const kind of ["grpc", "connect", "http"] as const) {
      await startProcess(
        process.execPath,
        ["--import", "tsx", "bench/baseline-servers.ts", kind, String(ports[kind]), redis.url, account.sid],
        {},
        /ready/,
      );
    }

    const getRequest = create(ParticipantServiceGetRequestSchema, { room: getRoom.sid, participant: target.sid });
    const binary = Buffer.from(toBinary(ParticipantServiceGetRequestSchema, getRequest));
    const grpcFrame = Buffer.concat([Buffer.from([0, 0, 0, 0, binary.length]), binary]);
    const json = Buffer.from(JSON.stringify({ room: getRoom.sid, participant: target.sid }));
    const getPath = "/rollcall.v1.ParticipantService/Get";
    const h2 = (port: number, body: Buffer, contentType: string, extra: Record<string, string> = {}) =>
      h2load({
        url: `http://127.0.0.1:${port}${getPath}`,
        body,
        headers: { "content-type": contentType, authorization, ...extra },
        seconds,
        warmupSeconds: 1,
        clients: 10,
        streams: 10,
      });

    const rows: Row[] = [];
    // Baseline, rollcall, rollcall, baseline: drift in what else the machine
    // does during the four loads weighs on both sides alike.
    const compare = async (
      name: string,
      goal: number | undefined,
      rollcall: () => Promise<LoadResult>,
      baseline: () => Promise<LoadResult>,
    ) => {
      if (only !== undefined && !only.test(name)) return;
      console.log(`measuring ${name} ...`);
      const b1 = await baseline();
      const r1 = await rollcall();
      const r2 = await rollcall();
      const b2 = await baseline();
      const r = combine(r1, r2);
      const b = combine(b1, b2);
      const ratio = r.rps / b.rps;
      rows.push({
        name,
        rollcall: r,
        baseline: b,
        ratio,
        goal: goal === undefined ? "for reference" : `>= ${goal} of baseline`,
        met: goal === undefined ? undefined : ratio >= goal && r.failed === 0,
      });
    };

    await compare(
      "Get by sid, gRPC on the main port (handed to @grpc/grpc-js; h2load -c 10 -m 10) vs bare @grpc/grpc-js",
      0.8,
      () => h2(ports.rollcall, grpcFrame, "application/grpc", { te: "trailers" }),
      () => h2(ports.grpc, grpcFrame, "application/grpc", { te: "trailers" }),
    );
    await compare(
      "Get by sid, Connect binary (h2load) vs bare connect-node",
      0.8,
      () => h2(ports.rollcall, binary, "application/proto"),
      () => h2(ports.connect, binary, "application/proto"),
    );
    await compare(
      "Get by sid, Connect JSON (h2load) vs bare connect-node",
      0.8,
      () => h2(ports.rollcall, json, "application/json"),
      () => h2(ports.connect, json, "application/json"),
    );
    const restPath = `/v1/Rooms/${getRoom.sid}/Participants/${target.sid}`;
    await compare(
      "REST GET participant, HTTP/1.1 (wrk -c 50) vs bare node:http",
      0.7,
      () => wrk({ url: `http://127.0.0.1:${ports.rollcall}${restPath}`, headers: { authorization }, seconds, connections: 50 }),
      () => wrk({ url: `http://127.0.0.1:${ports.http}${restPath}`, headers: { authorization }, seconds, connections: 50 }),
    );

    // What access logs (info, to stdout) and metrics cost: the same build
    // with logs silent and metrics off is the baseline.
    const overhead = "logs at info and metrics on vs silent and off (same build)";
    await compare(
      `Overhead: Get by sid, gRPC on the main port, ${overhead}`,
      0.9,
      () => h2(ports.rollcall, grpcFrame, "application/grpc", { te: "trailers" }),
      () => h2(ports.quiet, grpcFrame, "application/grpc", { te: "trailers" }),
    );
    await compare(
      `Overhead: Get by sid, Connect binary, ${overhead}`,
      0.9,
      () => h2(ports.rollcall, binary, "application/proto"),
      () => h2(ports.quiet, binary, "application/proto"),
    );
    await compare(
      `Overhead: REST GET participant, ${overhead}`,
      0.9,
      () => wrk({ url: `http://127.0.0.1:${ports.rollcall}${restPath}`, headers: { authorization }, seconds, connections: 50 }),
      () => wrk({ url: `http://127.0.0.1:${ports.quiet}${restPath}`, headers: { authorization }, seconds, connections: 50 }),
    );

    if (only !== undefined) {
      console.log("\n" + table(rows) + "\n");
      return;
    }

    const pages: LoadResult[] = [];
    for (const [i, { size, room: r }] of listRooms.entries()) {
      console.log(`measuring a List page in a room of ${size} ...`);
      const url = `http://127.0.0.1:${ports.rollcall}/v1/Rooms/${r.sid}/Participants?PageSize=50&PageToken=${tokens[i]!}`;
      pages.push(await wrk({ url, headers: { authorization }, seconds, connections: 10 }));
      rows.push({
        name: `List page of 50 from the middle, room of ${size.toLocaleString("en-US")} (REST, wrk -c 10)`,
        rollcall: pages.at(-1)!,
        goal: "",
      });
    }
    const listRatio = pages.at(-1)!.p50Ms / pages[0]!.p50Ms;
    rows.push({
      name: "List page p50: 100 000 vs 1 000 participants",
      rollcall: pages.at(-1)!,
      baseline: pages[0],
      ratio: listRatio,
      goal: "<= 1.5",
      met: listRatio <= 1.5 && pages.every((page) => page.failed === 0),
    });

    console.log("measuring Join ...");
    const joinUrl = `http://127.0.0.1:${ports.rollcall}/rollcall.v1.ParticipantService/Join`;
    const joinHeaders = { authorization, "content-type": "application/json" };
    const distinct = await wrk({
      url: joinUrl,
      method: "POST",
      headers: joinHeaders,
      bodyOf: `'{"room":"${joinRoom.sid}","identity":"u' .. n .. '"}'`,
      seconds,
      connections: 50,
    });
    const hot = await wrk({
      url: joinUrl,
      method: "POST",
      headers: joinHeaders,
      body: JSON.stringify({ room: hotRoom.sid, identity: "hot" }),
      seconds,
      connections: 50,
    });
    rows.push({ name: "Join, distinct identities (Connect JSON, wrk -c 50)", rollcall: distinct, goal: "" });
    rows.push({
      name: "Join, one hot identity vs distinct identities",
      rollcall: hot,
      baseline: distinct,
      ratio: hot.rps / distinct.rps,
      goal: "",
    });

    console.log("measuring memory ...");
    const memory = [];
    for (const { size, room: r } of listRooms) memory.push({ size, bytes: await memoryPerParticipant(redis.url, r.sid, size) });

    const memoryLines = memory.map(
      ({ size, bytes }) =>
        `| ${size.toLocaleString("en-US")} | ${Math.round(bytes)} | <= 1024 | ${bytes <= 1024 ? "met" : "**not met**"} |`,
    );
    const results = [
      `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, ${execFileSync("redis-server", ["--version"], { encoding: "utf8" }).split(" ")[2]}; each load ${seconds} s after 1 s of warm-up (h2load) and run twice per side, in the order baseline, rollcall, rollcall, baseline; load generator on the same machine.`,
      "",
      table(rows),
      "",
      "Redis memory per participant (`MEMORY USAGE … SAMPLES 0` over every key of the room but its change log, divided by its participant records; half connected, half history):",
      "",
      "| room of | bytes per participant | goal | met |",
      "|---:|---:|---|---|",
      ...memoryLines,
    ].join("\n");
    console.log("\n" + results + "\n");
    const doc = "docs/BENCHMARKS.md";
    const text = readFileSync(doc, "utf8");
    const start = "<!-- bench results: written by npm run bench -->";
    const end = "<!-- end of bench results -->";
    writeFileSync(doc, text.slice(0, text.indexOf(start) + start.length) + "\n" + results + "\n" + text.slice(text.indexOf(end)));
    console.log(`written into ${doc}`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  if (only !== undefined) return;

  // The change log's figures (bench/events.ts, also npm run bench:events),
  // once this run's servers are stopped; it writes its own section.
  console.log("running bench/events.ts ...");
  const events = spawn(process.execPath, ["--import", "tsx", "bench/events.ts"], {
    env: { ...process.env, BENCH_EVENTS_NO_BUILD: "1" },
    stdio: "inherit",
  });
  children.push(events);
  const code = await new Promise<number | null>((resolve) => events.on("exit", resolve));
  if (code !== 0) throw new Error(`bench/events.ts exited with ${code}`);

  // The timers' figures (bench/timers.ts, also npm run bench:timers).
  console.log("running bench/timers.ts ...");
  const timers = spawn(process.execPath, ["--import", "tsx", "bench/timers.ts"], { stdio: "inherit" });
  children.push(timers);
  const timersCode = await new Promise<number | null>((resolve) => timers.on("exit", resolve));
  if (timersCode !== 0) throw new Error(`bench/timers.ts exited with ${timersCode}`);

  // The status callbacks' figures (bench/callbacks.ts, also npm run bench:callbacks).
  console.log("running bench/callbacks.ts ...");
  const callbacks = spawn(process.execPath, ["--import", "tsx", "bench/callbacks.ts"], { stdio: "inherit" });
  children.push(callbacks);
  const callbacksCode = await new Promise<number | null>((resolve) => callbacks.on("exit", resolve));
  if (callbacksCode !== 0) throw new Error(`bench/callbacks.ts exited with ${callbacksCode}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  for (const child of children) child.kill("SIGTERM");
  process.exit(1);
});
