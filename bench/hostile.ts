import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ParticipantService } from "../gen/rollcall/v1/participant_pb.js";
import { grpcJs } from "../test/support/clients.js";
import { preface, requestHeaders, rstStream, settings, settingsAck } from "../test/support/raw-http2.js";
import { freePort, startRedis } from "../test/support/redis-server.js";

// npm run bench:hostile: normal clients (Connect over HTTP/2, grpc-js, REST
// over HTTP/1.1, from 127.0.0.1) call Get for a third of HOSTILE_SECONDS (30)
// alone, then for HOSTILE_SECONDS while a process of attackers (from
// 127.0.0.2) runs every connection attack of docs/RELIABILITY.md's "Hostile
// clients" at once; prints the normal calls' latency and errors in both
// phases, and the server's peak fds and memory.

const seconds = Number(process.env.HOSTILE_SECONDS ?? 30);
const account = { sid: "AC" + "c".repeat(32), token: "hostile-token" };
const authorization = "Basic " + Buffer.from(`${account.sid}:${account.token}`).toString("base64");
const attackerAddress = "127.0.0.2";
const getPath = "/rollcall.v1.ParticipantService/Get";

function connectFrom(port: number): net.Socket {
  const socket = net.connect({ port, host: "127.0.0.1", localAddress: attackerAddress });
  socket.on("error", () => {});
  socket.on("data", () => {});
  return socket;
}

// The attacker process: each attack on a timer until the time is up.
function attack(port: number, grpcPort: number, untilMs: number): void {
  let opened = 0;
  const every = (ms: number, run: () => void) => {
    const timer = setInterval(() => (Date.now() > untilMs ? clearInterval(timer) : run()), ms);
  };
  const open = (p: number, bytes?: Buffer | string, end = false) => {
    opened++;
    const socket = connectFrom(p);
    if (bytes !== undefined) socket.write(bytes);
    if (end) socket.end();
    return socket;
  };
  // Slowloris: HTTP/1.1 headers that never end.
  every(100, () => {
    for (let i = 0; i < 10; i++) open(port, "GET /v1/Rooms HTTP/1.1\r\nhost: x\r\nx-slow: ");
  });
  // HTTP/2 preface and nothing else, on both ports; TCP that sends nothing.
  every(100, () => {
    for (let i = 0; i < 5; i++) {
      open(port, Buffer.concat([preface, settings()]));
      open(grpcPort, Buffer.concat([preface, settings()]));
      open(port);
      open(grpcPort);
    }
  });
  // Rapid reset: 1 100 HEADERS+RST_STREAM, then leave.
  const reset = Buffer.concat([
    preface,
    settings(),
    settingsAck(),
    ...Array.from({ length: 1100 }, (_, i) => [requestHeaders(1 + 2 * i, getPath, "application/grpc"), rstStream(1 + 2 * i)]).flat(),
  ]);
  every(250, () => {
    const socket = open(port, reset);
    setTimeout(() => socket.end(), 500);
  });
  // Streams that never send a body.
  const idle = Buffer.concat([
    preface,
    settings(),
    settingsAck(),
    ...Array.from({ length: 2500 }, (_, i) => requestHeaders(1 + 2 * i, getPath, "application/proto")),
  ]);
  every(1000, () => open(port, idle));
  setTimeout(() => process.send?.({ opened }, () => process.exit(0)), untilMs - Date.now() + 200);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const redis = await startRedis();
  const scratch = mkdtempSync(join(tmpdir(), "rollcall-hostile-"));
  const children: ChildProcess[] = [];
  try {
    const credentials = join(scratch, "credentials.json");
    writeFileSync(credentials, JSON.stringify({ accounts: [{ sid: account.sid, auth_token: account.token }] }));
    const port = await freePort();
    const grpcPort = await freePort();
    const server = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: {
        ...process.env,
        PORT: String(port),
        GRPC_PORT: String(grpcPort),
        REDIS_URL: redis.url,
        ROLLCALL_CREDENTIALS_FILE: credentials,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(server);
    await new Promise<void>((resolve, reject) => {
      let output = "";
      server.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("serving")) resolve();
      });
      server.on("exit", () => reject(new Error(`rollcall exited:\n${output}`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const connect = createClient(ParticipantService, createConnectTransport({ baseUrl: url, httpVersion: "2", useBinaryFormat: true }));
    const headers = { authorization };
    const room = `hostile-${Date.now()}`;
    const sid = (await connect.join({ room, identity: "alice" }, { headers })).participant!.sid;
    const grpc = Array.from({ length: 2 }, () => grpcJs(ParticipantService, `127.0.0.1:${port}`, authorization));

    let latencies: number[] = [];
    let errors = 0;
    const errorKinds = new Map<string, number>();
    let untilMs = 0;
    const loop = async (call: () => Promise<string>) => {
      while (Date.now() < untilMs) {
        const started = performance.now();
        try {
          if ((await call()) !== sid) throw new Error("wrong participant");
          latencies.push(performance.now() - started);
        } catch (error) {
          errors++;
          const kind = error instanceof Error ? error.message.slice(0, 80) : String(error);
          errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
        }
      }
    };
    const calls = () => [
      ...Array.from({ length: 2 }, () =>
        loop(async () => (await connect.get({ room, participant: "alice" }, { headers })).participant!.sid),
      ),
      ...grpc.map((client) => loop(async () => (await client.get({ room, participant: "alice" })).participant!.sid)),
      ...Array.from({ length: 2 }, () =>
        loop(async () => {
          const response = await fetch(`${url}/v1/Rooms/${room}/Participants/alice`, { headers });
          return ((await response.json()) as { sid: string }).sid;
        }),
      ),
    ];
    const line = (label: string, value: string) => console.log(`${label.padEnd(40)} ${value}`);
    const report = (phase: string) => {
      latencies.sort((a, b) => a - b);
      line(`${phase}: normal calls`, String(latencies.length));
      line(`${phase}: normal p50 ms`, percentile(latencies, 50).toFixed(2));
      line(`${phase}: normal p99 ms`, percentile(latencies, 99).toFixed(2));
      line(`${phase}: normal errors`, String(errors));
      for (const [kind, count] of errorKinds) line(`  ${count} x`, kind);
    };
    untilMs = Date.now() + (seconds * 1000) / 3;
    await Promise.all(calls());
    report(`alone, ${seconds / 3} s`);
    const quietP99 = percentile(latencies, 99);
    latencies = [];
    errors = 0;
    errorKinds.clear();
    untilMs = Date.now() + seconds * 1000;
    const attacker = fork(new URL(import.meta.url).pathname, ["attack", String(port), String(grpcPort), String(untilMs)], {
      execArgv: ["--import", "tsx"],
    });
    children.push(attacker);
    const attacked = new Promise<number>((resolve) => attacker.on("message", (m: { opened: number }) => resolve(m.opened)));
    let peakFds = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakFds = Math.max(peakFds, readdirSync(`/proc/${server.pid}/fd`).length);
      peakRss = Math.max(peakRss, Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${server.pid}/status`, "utf8"))![1]) * 1024);
    }, 200);
    await Promise.all(calls());
    clearInterval(sampler);
    const opened = await attacked;
    for (const client of grpc) client.close();
    report(`under attack, ${seconds} s`);
    line("p99 under attack / alone", (percentile(latencies, 99) / quietP99).toFixed(2));
    line("attacker connections opened", String(opened));
    line("server peak fds", String(peakFds));
    line("server peak RSS MB", (peakRss / 1024 / 1024).toFixed(0));
    line("goal", `p99 <= 50 ms and 0 errors: ${percentile(latencies, 99) <= 50 && errors === 0 ? "met" : "not met"}`);
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await redis.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[2] === "attack") attack(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
else await main();
