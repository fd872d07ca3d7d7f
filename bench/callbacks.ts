import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Redis } from "ioredis";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { ParticipantService } from "../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../gen/rollcall/v1/room_pb.js";
import { roomKeys } from "../src/store/redis/keys.js";
import { freePort, startRedis } from "../test/support/redis-server.js";

// npm run bench:callbacks (and the end of npm run bench): status callbacks
// from a rollcall process on its own redis-server to a local receiver.
//  1. Throughput: 1 000 rooms with callbacks, a burst of joins spread over
//     them as fast as the driver can make them; callbacks answered per second
//     from the first to the last, and how many were lost.
//  2. Latency with a healthy receiver at a steady 200 changes/s: the time
//     the callback arrived minus its Timestamp (the change's time).

const account = { sid: "AC" + "f".repeat(32), token: "bench-callbacks" };
const rooms = Number(process.env.BENCH_CALLBACK_ROOMS ?? 1000);
const burst = Number(process.env.BENCH_CALLBACK_BURST ?? 20_000);
const steadySeconds = Number(process.env.BENCH_SECONDS ?? 8);
const children: ChildProcess[] = [];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!condition() && Date.now() - started < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 20));
}

export async function benchCallbacks(): Promise<string> {
  const redis = await startRedis();
  const scratch = mkdtempSync(join(tmpdir(), "rollcall-bench-callbacks-"));
  // The receiver: answers 200 at once, and notes when each event came.
  const arrivals: { key: string; at: number; timestamp: number }[] = [];
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const params = new URLSearchParams(Buffer.concat(chunks).toString());
      arrivals.push({
        key: `${params.get("RoomSid")}/${params.get("SequenceNumber")}`,
        at: Date.now(),
        timestamp: Date.parse(params.get("Timestamp") ?? ""),
      });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  const callbackUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/status`;
  try {
    const credentials = join(scratch, "credentials.json");
    writeFileSync(credentials, JSON.stringify({ accounts: [{ sid: account.sid, auth_token: account.token }] }));
    // An instance per role: the driver's, and (for the burst) a deliverer
    // started once the burst is written, so its rate is delivery alone.
    const instance = async (env: Record<string, string>) => {
      const port = await freePort();
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env: {
          ...process.env,
          PORT: String(port),
          GRPC_PORT: "off",
          REDIS_URL: redis.url,
          ROLLCALL_CREDENTIALS_FILE: credentials,
          ROLLCALL_CALLBACK_CONCURRENCY: process.env.BENCH_CALLBACK_CONCURRENCY ?? "256",
          ...env,
        },
        stdio: ["ignore", "pipe", "inherit"],
      });
      children.push(child);
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      await waitUntil(() => output.includes("serving"), 20_000);
      return { port, child };
    };
    const { port, child: driver } = await instance({});
    const transportTo = (to: number) =>
      createConnectTransport({
        baseUrl: `http://127.0.0.1:${to}`,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors: [
          (next) => (req) => (
            req.header.set("authorization", "Basic " + Buffer.from(`${account.sid}:${account.token}`).toString("base64")),
            next(req)
          ),
        ],
      });
    const roomClient = createClient(RoomService, transportTo(port));
    const sids: string[] = [];
    for (let start = 0; start < rooms; start += 100) {
      const made = await Promise.all(
        Array.from({ length: Math.min(100, rooms - start) }, (_, i) =>
          roomClient.create({ uniqueName: `cb-${start + i}`, statusCallback: callbackUrl, maxParticipants: 50 }),
        ),
      );
      sids.push(...made.map((r) => r.room!.sid));
    }
    await waitUntil(() => arrivals.length >= rooms, 60_000);
    arrivals.length = 0;

    console.log(`measuring callbacks for a burst of ${burst} joins over ${rooms} rooms ...`);
    // The driver's instance stops delivering: the burst waits in the due sets.
    driver.kill("SIGTERM");
    await new Promise((resolve) => driver.once("exit", resolve));
    const writer = await instance({ ROLLCALL_CALLBACKS: "off" });
    const writing = createClient(ParticipantService, transportTo(writer.port));
    for (let start = 0; start < burst; start += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, burst - start) }, (_, i) =>
          writing.join({ room: sids[(start + i) % sids.length]!, identity: `u-${Math.floor((start + i) / sids.length) % 40}` }),
        ),
      );
    }
    // Every event after each room's creation: the log's length, less one.
    const admin = new Redis(redis.url);
    let events = 0;
    for (const sid of sids) events += Number(await admin.hget(roomKeys(account.sid, sid).room, "log_sequence")) - 1;
    admin.disconnect();
    const deliverer = await instance({});
    const burstStart = Date.now();
    await waitUntil(() => new Set(arrivals.map((a) => a.key)).size >= events, 120_000);
    const burstEnd = Math.max(...arrivals.map((a) => a.at));
    const delivered = new Set(arrivals.map((a) => a.key)).size;
    const perSecond = delivered / ((burstEnd - burstStart) / 1000);

    console.log(`measuring change-to-callback latency at 200 changes/s for ${steadySeconds} s ...`);
    arrivals.length = 0;
    const participants = createClient(ParticipantService, transportTo(deliverer.port));
    const steadyStart = Date.now();
    let made = 0;
    while (Date.now() - steadyStart < steadySeconds * 1000) {
      const due = Math.floor(((Date.now() - steadyStart) / 1000) * 200);
      const joins = [];
      for (; made < due; made++) joins.push(participants.join({ room: sids[made % sids.length]!, identity: `s-${made}` }));
      await Promise.all(joins);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await waitUntil(() => arrivals.length >= made, 30_000);
    const latencies = arrivals.map((a) => a.at - a.timestamp).sort((a, b) => a - b);
    return [
      `Run ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${cpus().length} cores, Node ${process.version}; rollcall (from source), Redis, the receiver and the driver share the machine.`,
      "",
      `Throughput: ${burst.toLocaleString("en-US")} joins over ${rooms.toLocaleString("en-US")} rooms with callbacks written while no instance delivers, then one instance started to deliver them: **${Math.round(perSecond).toLocaleString("en-US")} callbacks/s** answered, ${delivered.toLocaleString("en-US")} of ${events.toLocaleString("en-US")} events delivered (lost: ${(events - delivered).toLocaleString("en-US")}; goal >= 2 000/s and 0 lost: ${perSecond >= 2000 && delivered === events ? "met" : "**not met**"}).`,
      "",
      `Latency at 200 changes/s over ${rooms.toLocaleString("en-US")} rooms, healthy receiver: p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms, max ${latencies.at(-1)} ms over ${latencies.length.toLocaleString("en-US")} callbacks of ${made.toLocaleString("en-US")} changes (goal p99 <= 100 ms: ${percentile(latencies, 99) <= 100 && latencies.length >= made ? "met" : "**not met**"}).`,
    ].join("\n");
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function writeCallbacksSection(results: string): void {
  const doc = "docs/BENCHMARKS.md";
  const start = "<!-- callback results: written by npm run bench:callbacks -->";
  const end = "<!-- end of callback results -->";
  const text = readFileSync(doc, "utf8");
  const section = `${start}\n${results}\n${end}`;
  const next = text.includes(start)
    ? text.slice(0, text.indexOf(start)) + section + text.slice(text.indexOf(end) + end.length)
    : `${text.trimEnd()}\n\n## Status callbacks\n\nCommand: \`npm run bench:callbacks\` (also the end of \`npm run bench\`).\n\n${section}\n`;
  writeFileSync(doc, next);
}

if (process.argv[1]?.endsWith("callbacks.ts")) {
  benchCallbacks().then(
    (results) => {
      console.log("\n" + results + "\n");
      writeCallbacksSection(results);
      console.log("written into docs/BENCHMARKS.md");
    },
    (error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      for (const child of children) child.kill("SIGTERM");
      process.exit(1);
    },
  );
}
