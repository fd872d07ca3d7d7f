import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService } from "../../gen/rollcall/v1/room_pb.js";
import { newSid } from "../../src/operations/sids.js";
import { eachBackend } from "../support/backends.js";
import { grpcJs } from "../support/clients.js";
import { basic, otherAuthorization, startRollcall, testAccount, testApiKey } from "../support/rollcall.js";

const run = promisify(execFile);

// GRPC_PORT: gRPC through @grpc/grpc-js, with the handlers, authentication,
// error codes, reflection and health of the main port.
eachBackend((backend) => {
  describe(`the @grpc/grpc-js port (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let address: string;
    const clients: { close(): void }[] = [];
    const client = <S extends DescService>(service: S, authorization?: string) => {
      const made = grpcJs(service, address, authorization);
      clients.push(made);
      return made;
    };
    const failure = (call: Promise<unknown>) =>
      call.then(
        () => expect.fail("expected the call to fail"),
        (error: grpc.ServiceError) => error,
      );

    before(async () => {
      server = await startRollcall(backend.settings);
      address = `127.0.0.1:${server.grpcPort}`;
    });
    after(async () => {
      for (const made of clients) made.close();
      await server.close();
    });

    it("joins, gets, kicks and streams List pages", async () => {
      const participants = client(ParticipantService);
      const room = `grpc-port-${Date.now()}`;
      const alice = (await participants.join({ room, identity: "alice" })).participant!;
      for (let i = 0; i < 4; i++) await participants.join({ room, identity: `p${i}` });
      expect((await participants.get({ room, participant: "alice" })).participant!.sid).to.equal(alice.sid);
      const pages = await participants.list({ room, pageSize: 2 });
      expect(pages.map((page) => page.participants.length)).to.deep.equal([2, 2, 1]);
      const kicked = (await participants.update({ room, participant: alice.sid, status: ParticipantStatus.DISCONNECTED })).participant!;
      expect(kicked.status).to.equal(ParticipantStatus.DISCONNECTED);
      const rooms = client(RoomService);
      expect((await rooms.get({ room })).room!.sid).to.equal(alice.roomSid);
    });

    it("answers with the same status codes as the main port", async () => {
      const participants = client(ParticipantService);
      const missing = await failure(participants.get({ room: "nowhere", participant: "x" }));
      expect(missing.code).to.equal(grpc.status.NOT_FOUND);
      const invalid = await failure(participants.join({ room: "r", identity: "x".repeat(200) }));
      expect(invalid.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(invalid.details).to.equal("identity must be at most 128 characters, got 200");
      const badStatus = await failure(participants.update({ room: "r", participant: "x", status: 99 as ParticipantStatus }));
      expect(badStatus.code).to.equal(grpc.status.INVALID_ARGUMENT);
    });

    it("authenticates every call: none, wrong and malformed credentials are UNAUTHENTICATED; an API key works", async () => {
      for (const authorization of ["", basic(testAccount.sid, "wrong"), "Basic !!!", basic(newSid("AC"), "x")]) {
        const err = await failure(client(ParticipantService, authorization).get({ room: "r", participant: "x" }));
        expect(err.code, authorization).to.equal(grpc.status.UNAUTHENTICATED);
      }
      const room = `keyed-${Date.now()}`;
      const joined = (await client(ParticipantService, basic(testApiKey.sid, testApiKey.secret)).join({ room, identity: "k" }))
        .participant!;
      expect(joined.accountSid).to.equal(testAccount.sid);
      const foreign = await failure(client(ParticipantService, otherAuthorization).get({ room: joined.roomSid, participant: joined.sid }));
      expect(foreign.code).to.equal(grpc.status.NOT_FOUND);
    });

    it("serves health without credentials", async () => {
      const health = client(Health, "");
      expect((await health.check({ service: "" })).status).to.equal(1);
      expect((await failure(health.check({ service: "nope" }))).code).to.equal(grpc.status.NOT_FOUND);
    });

    it("serves reflection: buf curl lists and calls services with no --schema", async () => {
      const url = `http://${address}`;
      const listed = await run("node_modules/.bin/buf", ["curl", "--protocol", "grpc", "--list-services", url]);
      expect(listed.stdout.split("\n")).to.include.members([
        "rollcall.v1.ParticipantService",
        "rollcall.v1.RoomService",
        "grpc.health.v1.Health",
      ]);
      const room = `buf-grpc-port-${Date.now()}`;
      const joined = (await client(ParticipantService).join({ room, identity: "buf" })).participant!;
      const got = await run("node_modules/.bin/buf", [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-u",
        `${testAccount.sid}:${testAccount.token}`,
        "-d",
        JSON.stringify({ room, participant: "buf" }),
        `${url}/rollcall.v1.ParticipantService/Get`,
      ]);
      expect((JSON.parse(got.stdout) as { participant: { sid: string } }).participant.sid).to.equal(joined.sid);
    });
  });
});

describe("grpc-js at shutdown", () => {
  for (const port of ["GRPC_PORT", "the main port"] as const) {
    it(`ends a List stream on ${port} after its current page with UNAVAILABLE, and closes`, async () => {
      // 10 pages of about 170 kB: more than the 1 MB a call may have unsent (bounded-writes.ts).
      const server = await startRollcall({ maxParticipants: 10_000 });
      const address = `127.0.0.1:${port === "GRPC_PORT" ? server.grpcPort : server.port}`;
      const rooms = grpcJs(RoomService, address);
      const room = (await rooms.create({ maxParticipants: 10_000 })).room!;
      for (let i = 0; i < 10_000; i++) await server.store.join(testAccount.sid, room.sid, newSid("PA"), `p${i}`);
      const participants = grpcJs(ParticipantService, address);
      try {
        const pages: { participants: unknown[]; nextPageToken: string }[] = [];
        let closing: Promise<void> | undefined;
        const status = await new Promise<grpc.ServiceError | undefined>((resolve) => {
          const stream = participants.raw.list({ room: room.sid, pageSize: 1000 }, participants.metadata());
          stream.on("data", (page: { participants: unknown[]; nextPageToken: string }) => {
            pages.push(page);
            closing ??= server.close();
            stream.pause();
            setTimeout(() => stream.resume(), 20);
          });
          stream.on("error", resolve);
          stream.on("end", () => resolve(undefined));
        });
        await closing;
        expect(status?.code).to.equal(grpc.status.UNAVAILABLE);
        expect(pages.length).to.be.within(1, 9);
        expect(pages.at(-1)!.nextPageToken).to.not.equal("");
      } finally {
        rooms.close();
        participants.close();
      }
    });
  }
});
