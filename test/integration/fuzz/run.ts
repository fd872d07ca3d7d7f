import type { Client } from "@connectrpc/connect";
import { expect } from "chai";
import { ParticipantService, ParticipantStatus } from "../../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../../gen/rollcall/v1/room_pb.js";
import type { Config } from "../../../src/config.js";
import { collect, connectJsonHttp1 } from "../../support/clients.js";
import { Random } from "../../support/random.js";
import { startRollcall } from "../../support/rollcall.js";
import type { Outcome, WireRequest } from "../../support/wire/exchange.js";
import { http1 } from "../../support/wire/http1.js";
import { http2Request } from "../../support/wire/http2.js";
import type { Case } from "./case.js";
import { classOf, replyOf, verdictOf } from "./replies.js";
import { restCase } from "./rest-cases.js";
import { connectBinaryCase, connectJsonCase, grpcCase } from "./rpc-cases.js";
import { concurrency, maxRequestBytes, randomFor, scale, seed, timeoutMs } from "./settings.js";
import { rpcTargets, type World } from "./world.js";

// The fuzz suite of one store: a server seeded with a room, every transport's
// cases sent concurrently, each reply judged, and the stored data compared
// before and after.

export interface Ports {
  main: number;
  grpc: number;
}

export function send(request: WireRequest, ports: Ports): Promise<Outcome> {
  const port = ports[request.port];
  return request.http === 1 ? http1(port, request, timeoutMs) : http2Request(port, request, timeoutMs);
}

export async function eachConcurrently<T>(items: T[], work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]!, i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

export function describeRequest(request: WireRequest): string {
  const preview = request.body
    .subarray(0, 80)
    .toString("latin1")
    .replace(/[^\x20-\x7e]/g, ".");
  const headers = request.headers
    .map(([name, value]) => `${name}: ${value.length > 40 ? value.slice(0, 40) + "…" : value}`)
    .slice(0, 6)
    .join("; ");
  return `HTTP/${request.http} ${request.port} port: ${request.method} ${request.path.slice(0, 160)}${request.path.length > 160 ? "…" : ""} [${headers}] ${request.body.length} bytes "${preview}"`;
}

// The whole run against one store: the memory store takes two thirds of the
// requests, Redis the rest, so that both see every kind of case.
export function fuzz(store: string, share: number, settings: () => Partial<Config>): void {
  describe(`fuzz on the ${store} (FUZZ_SEED=${seed})`, function () {
    this.timeout(120_000);

    let server: Awaited<ReturnType<typeof startRollcall>>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;
    let world: World;
    let ports: Ports;
    const summary: string[] = [];

    const snapshot = async () => ({
      room: await rooms.get({ room: world.room.sid }),
      connected: await collect(participants.list({ room: world.room.sid })),
      disconnected: await collect(participants.list({ room: world.room.sid, status: ParticipantStatus.DISCONNECTED })),
      rooms: await rooms.list({}),
    });

    before(async () => {
      server = await startRollcall({ ...settings(), maxRequestBytes });
      ports = { main: server.port, grpc: server.grpcPort! };
      participants = connectJsonHttp1(ParticipantService, server.url);
      rooms = connectJsonHttp1(RoomService, server.url);
      const room = (await rooms.create({ uniqueName: "fuzz-kept" })).room!;
      const sids: string[] = [];
      for (const identity of ["ann", "ben", "cy"]) sids.push((await participants.join({ room: room.sid, identity })).participant!.sid);
      await participants.update({ room: room.sid, participant: "ben", status: ParticipantStatus.DISCONNECTED });
      const seeded = { room: { name: room.uniqueName, sid: room.sid }, participants: ["ann", "ben", "cy", ...sids] };
      world = { ...seeded, targets: rpcTargets(seeded) };
    });

    after(async () => {
      console.log(`fuzz on the ${store}, FUZZ_SEED=${seed}:\n  ${summary.join("\n  ")}`);
      await server?.close();
    });

    let stored: unknown;
    beforeEach(async () => {
      stored = await snapshot();
    });
    afterEach(async function () {
      if (this.currentTest?.state === "passed") expect(await snapshot(), `stored data is intact (FUZZ_SEED=${seed})`).to.deep.equal(stored);
    });

    const transports: { name: string; count: number; make: (rng: Random) => Case }[] = [
      { name: "REST over HTTP/1.1", count: 900, make: (rng) => restCase(rng, world, 1) },
      { name: "REST over HTTP/2", count: 300, make: (rng) => restCase(rng, world, 2) },
      { name: "Connect JSON", count: 500, make: (rng) => connectJsonCase(rng, world) },
      { name: "Connect binary", count: 400, make: (rng) => connectBinaryCase(rng, world) },
      { name: "gRPC-Web", count: 250, make: (rng) => grpcCase(rng, world, "main", true) },
      { name: "gRPC on the main port", count: 350, make: (rng) => grpcCase(rng, world, "main", false) },
      { name: "gRPC on the grpc-js port", count: 350, make: (rng) => grpcCase(rng, world, "grpc", false) },
    ];

    for (const transport of transports) {
      it(`${transport.name}: every malformed request gets a client error`, async () => {
        const rng = randomFor(`${store} ${transport.name}`);
        const cases = Array.from({ length: Math.ceil(transport.count * share * scale) }, () => transport.make(rng));
        const classes = new Map<string, number>();
        const deviations = new Map<string, number>();
        const broken: string[] = [];
        const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
        await eachConcurrently(cases, async (fuzzCase, index) => {
          const reply = replyOf(fuzzCase.protocol, await send(fuzzCase.request, ports));
          count(classes, classOf(reply));
          const verdict = verdictOf(reply, fuzzCase);
          if (verdict === "client error") return;
          if ("deviation" in verdict) count(deviations, verdict.deviation);
          else {
            const message = reply.message === undefined ? "" : ` "${reply.message.slice(0, 160)}"`;
            broken.push(`  case ${index} (${fuzzCase.name}): ${verdict.broken}${message}\n    ${describeRequest(fuzzCase.request)}`);
          }
        });
        const tally = (map: Map<string, number>) =>
          [...map]
            .sort((a, b) => b[1] - a[1])
            .map(([key, n]) => `${key} ×${n}`)
            .join(", ");
        summary.push(
          `${transport.name}: ${cases.length} requests: ${tally(classes)}${deviations.size > 0 ? `; tolerated: ${tally(deviations)}` : ""}`,
        );
        const failures = broken.slice(0, 20).join("\n");
        expect(
          broken.length,
          `${transport.name} on the ${store}: ${broken.length} of ${cases.length} replies broke the rule; replay with FUZZ_SEED=${seed}\n${failures}\n`,
        ).to.equal(0);
      });
    }

    it("the server still answers, and logged no internal error", async () => {
      expect((await rooms.get({ room: world.room.name })).room!.sid).to.equal(world.room.sid);
      expect(
        server.logs.filter((line) => line.includes("internal error")),
        `FUZZ_SEED=${seed}`,
      ).to.deep.equal([]);
    });
  });
}
