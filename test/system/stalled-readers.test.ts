import { create, toBinary } from "@bufbuild/protobuf";
import { expect } from "chai";
import { Redis } from "ioredis";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ParticipantService, ParticipantServiceListRequestSchema } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { grpcJs } from "../support/clients.js";
import { freePort, startRedis, type TestRedis } from "../support/redis-server.js";
import { startRollcallProcess, stopProcess } from "../support/rollcall-process.js";
import { testAccount, testAuthorization } from "../support/rollcall.js";
import { frame } from "../support/wire/envelopes.js";
import { waitFor } from "../support/wait.js";

// Clients that ask for a long streamed listing and then read nothing: an
// HTTP/2 client whose stream window is 0 (on both ports, gRPC and Connect)
// and an HTTP/1.1 client that stops reading its socket. Each stalled stream
// may hold about 1 MB in the server (bounded-writes.ts on GRPC_PORT, Node's
// stream buffers on the main port) and its listing stops reading Redis.

const participants = 20_000;
const pageSize = 1000;
const streams = 50;

type Transport = {
  name: string;
  port: "main" | "grpc";
  // HTTP/1.1: the kernel's socket buffers (autotuned to several MB on
  // loopback) take the whole listing before Node's stream says wait, so the
  // reads stop only once they are full; the process holds none of it.
  kernelBuffered?: boolean;
  open: (port: number, body: Buffer) => () => void;
};

const listRequest = (room: string) =>
  Buffer.from(toBinary(ParticipantServiceListRequestSchema, create(ParticipantServiceListRequestSchema, { room, pageSize })));
const path = "/rollcall.v1.ParticipantService/List";

// One HTTP/2 connection with a zero stream window: the server may send headers, never data.
function zeroWindowHttp2(contentType: string): Transport["open"] {
  return (port, body) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
    session.on("error", () => {});
    for (let i = 0; i < streams; i++) {
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": contentType,
        te: "trailers",
        authorization: testAuthorization,
      });
      stream.on("error", () => {});
      stream.end(frame(0, body));
    }
    return () => session.destroy();
  };
}

// HTTP/1.1 connections that send their request and never read.
function unreadHttp1(contentType: string): Transport["open"] {
  return (port, body) => {
    const sockets = Array.from({ length: streams }, () => {
      const socket = net.connect(port, "127.0.0.1");
      socket.on("error", () => {});
      const enveloped = frame(0, body);
      socket.write(
        `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: ${contentType}\r\nauthorization: ${testAuthorization}\r\ncontent-length: ${enveloped.length}\r\n\r\n`,
      );
      socket.write(enveloped);
      socket.pause();
      return socket;
    });
    return () => sockets.forEach((socket) => socket.destroy());
  };
}

const transports: Transport[] = [
  { name: "gRPC on GRPC_PORT (grpc-js), HTTP/2 window 0", port: "grpc", open: zeroWindowHttp2("application/grpc") },
  { name: "gRPC on the main port, HTTP/2 window 0", port: "main", open: zeroWindowHttp2("application/grpc") },
  { name: "Connect on the main port, HTTP/2 window 0", port: "main", open: zeroWindowHttp2("application/connect+proto") },
  { name: "Connect on the main port, HTTP/1.1 unread", port: "main", kernelBuffered: true, open: unreadHttp1("application/connect+proto") },
  {
    name: "gRPC-Web on the main port, HTTP/1.1 unread",
    port: "main",
    kernelBuffered: true,
    open: unreadHttp1("application/grpc-web+proto"),
  },
];

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb) / 1024;
}

// CPU time the process used, in clock ticks (100 a second).
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function evalshaCalls(redis: Redis): Promise<number> {
  const stats = await redis.info("commandstats");
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

describe("streams whose client reads nothing", function () {
  this.timeout(300_000);
  let redis: TestRedis;
  let client: Redis;
  let scratch: string;
  let credentialsFile: string;
  let roomSid: string;
  const children: ChildProcess[] = [];

  // With a 160 MB heap: 50 calls holding 16 pages each as messages (what
  // grpc-js' message count allowed) would exhaust it.
  const start = async (env: Record<string, string> = { NODE_OPTIONS: "--max-old-space-size=160" }) => {
    const grpcPort = await freePort();
    const rollcall = await startRollcallProcess({
      REDIS_URL: redis.url,
      ROLLCALL_CREDENTIALS_FILE: credentialsFile,
      GRPC_PORT: String(grpcPort),
      ROLLCALL_MAX_PARTICIPANTS: String(participants),
      ROLLCALL_TIMERS: "off",
      ROLLCALL_CALLBACKS: "off",
      ...env,
    });
    children.push(rollcall.child);
    return { ...rollcall, grpcPort, mainPort: Number(new URL(rollcall.url).port) };
  };

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    scratch = mkdtempSync(join(tmpdir(), "rollcall-stalled-"));
    credentialsFile = join(scratch, "credentials.json");
    writeFileSync(credentialsFile, JSON.stringify({ accounts: [{ sid: testAccount.sid, auth_token: testAccount.token }] }));
    const seeder = await start({});
    const rooms = grpcJs(RoomService, `127.0.0.1:${seeder.grpcPort}`);
    const joins = grpcJs(ParticipantService, `127.0.0.1:${seeder.grpcPort}`);
    try {
      roomSid = (await rooms.create({ uniqueName: "crowd", maxParticipants: participants })).room!.sid;
      for (let i = 0; i < participants; i += 200) {
        await Promise.all(
          Array.from({ length: 200 }, (_, j) => joins.join({ room: roomSid, identity: `participant-${String(i + j).padStart(6, "0")}` })),
        );
      }
    } finally {
      rooms.close();
      joins.close();
      await stopProcess(seeder.child);
    }
  });

  after(async () => {
    for (const child of children.splice(0)) await stopProcess(child);
    client?.disconnect();
    await redis?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const transport of transports) {
    it(`${transport.name}: ${streams} stalled listings of ${participants / pageSize} pages hold about 1 MB each and stop reading Redis`, async () => {
      // Over HTTP/1.1 the kernel takes megabytes of each stalled response before
      // Node pushes back, so 50 streams decode pages of 1 000 participants at
      // once: that needs more heap than the 160 MB the grpc-js cases are held to.
      const rollcall = await start(transport.kernelBuffered ? { NODE_OPTIONS: "--max-old-space-size=512" } : undefined);
      try {
        const pid = rollcall.child.pid!;
        // One listing read in full first, so what follows measures the stalled streams alone.
        const reader = grpcJs(ParticipantService, `127.0.0.1:${rollcall.grpcPort}`);
        const full = await reader.list({ room: roomSid, pageSize }).finally(() => reader.close());
        const pageBytes = toBinary(ParticipantService.method.list.output, full[0]!).length;
        const rssBefore = rssMb(pid);
        const readsBefore = await evalshaCalls(client);
        const close = transport.open(transport.port === "grpc" ? rollcall.grpcPort : rollcall.mainPort, listRequest(roomSid));
        try {
          // Settled: no page read from Redis and (nearly) no CPU used for a second.
          let last = { reads: -1, cpu: 0 };
          await waitFor(
            async () => {
              const now = { reads: await evalshaCalls(client), cpu: cpuTicks(pid) };
              const settled = now.reads === last.reads && now.cpu - last.cpu <= 5 && now.reads > readsBefore;
              last = now;
              return settled;
            },
            { timeoutMs: 120_000, what: "the stalled listings to stop reading", intervalMs: 1000 },
          );
          const pagesRead = last.reads - readsBefore;
          const grown = rssMb(pid) - rssBefore;
          const pagesPerMb = Math.ceil((1024 * 1024) / pageBytes);
          console.log(
            `      ${transport.name}: page ${pageBytes} bytes; ${pagesRead} pages read for ${streams} streams; RSS ${rssBefore.toFixed(0)} -> ${(rssBefore + grown).toFixed(0)} MB`,
          );
          if (!transport.kernelBuffered) expect(pagesRead / streams, "pages read per stream").to.be.at.most(pagesPerMb + 2);
          // Over HTTP/1.1 the process may keep the garbage of the pages the kernel
          // took until its larger heap fills; the bound is that heap.
          expect(grown, "RSS growth (MB)").to.be.below(transport.kernelBuffered ? 512 : 200);
          expect(rollcall.child.exitCode, "rollcall still running").to.equal(null);
        } finally {
          close();
        }
      } finally {
        await stopProcess(rollcall.child);
      }
    });
  }
});
