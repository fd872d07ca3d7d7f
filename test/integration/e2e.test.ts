import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, type Client } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import {
  ParticipantService,
  ParticipantStatus,
  ParticipantServiceGetRequestSchema,
  type Participant,
} from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus, type Room } from "../../gen/rollcall/v1/room_pb.js";
import { eachBackend } from "../support/backends.js";
import { collect, connectBinaryHttp2, connectJsonHttp1, grpcJs, type GrpcJsClient, grpcWebHttp1, rejection } from "../support/clients.js";
import { startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";

const run = promisify(execFile);

eachBackend((backend) => {
  describe(`end to end over real sockets (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;

    before(async () => {
      server = await startRollcall({ ...backend.settings, maxParticipants: 200 });
      participants = connectJsonHttp1(ParticipantService, server.url);
      rooms = connectJsonHttp1(RoomService, server.url);
    });
    after(async () => server.close());

    let roomCount = 0;
    const freshRoomName = () => `room-${++roomCount}-${Date.now()}`;

    describe("Connect JSON over HTTP/1.1", () => {
      it("joins an ad-hoc room, then gets the participant by identity and by sid", async () => {
        const room = freshRoomName();
        const joined = await participants.join({ room, identity: "alice" });
        const p = joined.participant!;
        expect(p.sid).to.match(/^PA[0-9a-f]{32}$/);
        expect(p.roomSid).to.match(/^RM[0-9a-f]{32}$/);
        expect(p.accountSid).to.equal(testAccount.sid);
        expect(p.status).to.equal(ParticipantStatus.CONNECTED);
        expect(p.startTime).to.deep.equal(p.dateCreated);
        expect(p.endTime).to.equal(undefined);
        expect(p.duration).to.equal(undefined);
        expect(joined.displaced).to.equal(undefined);

        const byIdentity = await participants.get({ room, participant: "alice" });
        expect(byIdentity.participant).to.deep.equal(p);
        const bySid = await participants.get({ room: p.roomSid, participant: p.sid });
        expect(bySid.participant).to.deep.equal(p);
        const created = await rooms.get({ room });
        expect(created.room!.uniqueName).to.equal(room);
        expect(created.room!.status).to.equal(RoomStatus.IN_PROGRESS);
        expect(created.room!.maxParticipants).to.equal(50);
      });

      it("a second join with the same identity disconnects the first and reports it", async () => {
        const room = freshRoomName();
        const first = (await participants.join({ room, identity: "bob" })).participant!;
        const second = await participants.join({ room, identity: "bob" });
        expect(second.displaced!.sid).to.equal(first.sid);
        expect(second.displaced!.status).to.equal(ParticipantStatus.DISCONNECTED);
        expect(second.displaced!.duration).to.be.a("number");
        const now = await participants.get({ room, participant: "bob" });
        expect(now.participant!.sid).to.equal(second.participant!.sid);
        const old = await participants.get({ room, participant: first.sid });
        expect(old.participant!.status).to.equal(ParticipantStatus.DISCONNECTED);
      });

      it("update to disconnected kicks; a second update returns it unchanged; identity lookup no longer finds it", async () => {
        const room = freshRoomName();
        const joined = (await participants.join({ room, identity: "carol" })).participant!;
        const kicked = (await participants.update({ room, participant: "carol", status: ParticipantStatus.DISCONNECTED })).participant!;
        expect(kicked.sid).to.equal(joined.sid);
        expect(kicked.status).to.equal(ParticipantStatus.DISCONNECTED);
        expect(kicked.endTime).to.not.equal(undefined);
        expect(kicked.dateUpdated).to.deep.equal(kicked.endTime);
        expect(kicked.duration).to.equal(0);
        // The ad-hoc room ended with its last participant: its sid still names it.
        const again = (await participants.update({ room: joined.roomSid, participant: joined.sid, status: ParticipantStatus.DISCONNECTED }))
          .participant!;
        expect(again).to.deep.equal(kicked);
        const err = await rejection(participants.get({ room: joined.roomSid, participant: "carol" }));
        expect(err.code).to.equal(Code.NotFound);
        expect(err.rawMessage).to.contain("participant");
      });

      it("update to any status but disconnected is an invalid argument naming status", async () => {
        const room = freshRoomName();
        await participants.join({ room, identity: "dave" });
        for (const status of [ParticipantStatus.CONNECTED, ParticipantStatus.UNSPECIFIED, ParticipantStatus.RECONNECTING]) {
          const err = await rejection(participants.update({ room, participant: "dave", status }));
          expect(err.code).to.equal(Code.InvalidArgument);
          expect(err.rawMessage).to.match(/^status /);
        }
      });

      it("maps domain errors to codes: not found, already exists, failed precondition, resource exhausted", async () => {
        expect((await rejection(participants.get({ room: "no-such-room", participant: "x" }))).code).to.equal(Code.NotFound);
        expect((await rejection(participants.get({ room: "RM" + "0".repeat(32), participant: "x" }))).code).to.equal(Code.NotFound);
        const name = freshRoomName();
        const small = (await rooms.create({ uniqueName: name, maxParticipants: 1 })).room!;
        expect(small.maxParticipants).to.equal(1);
        expect((await rejection(rooms.create({ uniqueName: name }))).code).to.equal(Code.AlreadyExists);
        await participants.join({ room: small.sid, identity: "one" });
        const full = await rejection(participants.join({ room: name, identity: "two" }));
        expect(full.code).to.equal(Code.ResourceExhausted);
        await rooms.update({ room: small.sid, status: RoomStatus.COMPLETED });
        const completed = await rejection(participants.join({ room: small.sid, identity: "three" }));
        expect(completed.code).to.equal(Code.FailedPrecondition);
      });

      it("creates rooms with Twilio's defaults and refuses out-of-range settings naming the field", async () => {
        const room = (await rooms.create({})).room!;
        expect(room.uniqueName).to.equal(room.sid);
        expect(room).to.include({
          type: "group",
          maxParticipants: 50,
          emptyRoomTimeout: 5,
          unusedRoomTimeout: 5,
          statusCallbackMethod: "POST",
        });
        const cases: [object, RegExp][] = [
          [{ maxParticipants: 0 }, /^max_participants must be between 1 and 200/],
          [{ maxParticipants: 201 }, /^max_participants /],
          [{ emptyRoomTimeout: 61 }, /^empty_room_timeout /],
          [{ unusedRoomTimeout: 0 }, /^unused_room_timeout /],
          [{ type: "huge" }, /^type /],
          [{ statusCallback: "ftp://x" }, /^status_callback /],
          [{ statusCallbackMethod: "PUT" }, /^status_callback_method /],
          [{ uniqueName: "RM" + "a".repeat(32) }, /^unique_name must not have the form of a room sid/],
          [{ uniqueName: "x".repeat(129) }, /^unique_name must be at most 128 characters/],
        ];
        for (const [request, message] of cases) {
          const err = await rejection(rooms.create(request));
          expect(err.code, JSON.stringify(request)).to.equal(Code.InvalidArgument);
          expect(err.rawMessage).to.match(message);
        }
      });

      it("completing a room disconnects everyone, frees its name and keeps it reachable by sid", async () => {
        const name = freshRoomName();
        const a = (await participants.join({ room: name, identity: "a" })).participant!;
        await participants.join({ room: name, identity: "b" });
        const completed = (await rooms.update({ room: name, status: RoomStatus.COMPLETED })).room!;
        expect(completed.status).to.equal(RoomStatus.COMPLETED);
        expect(completed.duration).to.be.a("number");
        expect((await rejection(rooms.get({ room: name }))).code).to.equal(Code.NotFound);
        expect((await rooms.get({ room: a.roomSid })).room!.status).to.equal(RoomStatus.COMPLETED);
        const left = await collect(participants.list({ room: a.roomSid }));
        expect(left.flatMap((page) => page.participants.map((p) => p.status))).to.deep.equal([
          ParticipantStatus.DISCONNECTED,
          ParticipantStatus.DISCONNECTED,
        ]);
        const reborn = (await participants.join({ room: name, identity: "a" })).participant!;
        expect(reborn.roomSid).to.not.equal(a.roomSid);
        const again = (await rooms.update({ room: a.roomSid, status: RoomStatus.COMPLETED })).room!;
        expect(again).to.deep.equal(completed);
      });

      it("lists rooms by status, name and creation time, a page at a time", async () => {
        const prefix = freshRoomName();
        const made: Room[] = [];
        for (let i = 0; i < 5; i++) made.push((await rooms.create({ uniqueName: `${prefix}-${i}` })).room!);
        const after = made[0]!.dateCreated;
        const seen: string[] = [];
        let pageToken = "";
        do {
          const page = await rooms.list({ dateCreatedAfter: after, pageSize: 2, pageToken });
          expect(page.rooms.length).to.be.at.most(2);
          seen.push(...page.rooms.map((r) => r.sid));
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        expect(seen.filter((sid) => made.some((r) => r.sid === sid))).to.deep.equal(made.map((r) => r.sid));
        const named = await rooms.list({ uniqueName: `${prefix}-3` });
        expect(named.rooms.map((r) => r.sid)).to.deep.equal([made[3]!.sid]);
        await rooms.update({ room: made[3]!.sid, status: RoomStatus.COMPLETED });
        expect((await rooms.list({ uniqueName: `${prefix}-3` })).rooms).to.deep.equal([]);
        const completed = await rooms.list({ uniqueName: `${prefix}-3`, status: RoomStatus.COMPLETED });
        expect(completed.rooms.map((r) => r.sid)).to.deep.equal([made[3]!.sid]);
      });

      it("streams List pages in start order, with filters, and resumes from any page token", async () => {
        const room = freshRoomName();
        const joined: Participant[] = [];
        for (let i = 0; i < 7; i++) joined.push((await participants.join({ room, identity: `p${i}` })).participant!);
        await participants.join({ room, identity: "p0" });
        const pages = await collect(participants.list({ room, pageSize: 3 }));
        expect(pages.map((p) => p.participants.length)).to.deep.equal([3, 3, 1]);
        expect(pages.map((p) => p.nextPageToken !== "")).to.deep.equal([true, true, false]);
        const sids = pages.flatMap((p) => p.participants.map((x) => x.sid));
        expect(sids).to.deep.equal([...joined.slice(1).map((p) => p.sid), sids.at(-1)]);
        const resumed = await collect(participants.list({ room, pageSize: 3, pageToken: pages[0]!.nextPageToken }));
        expect(resumed.flatMap((p) => p.participants.map((x) => x.sid))).to.deep.equal(sids.slice(3));
        const disconnected = await collect(participants.list({ room, status: ParticipantStatus.DISCONNECTED }));
        expect(disconnected.flatMap((p) => p.participants.map((x) => x.sid))).to.deep.equal([joined[0]!.sid]);
        const byIdentity = await collect(participants.list({ room, identity: "p0", status: ParticipantStatus.DISCONNECTED }));
        expect(byIdentity.flatMap((p) => p.participants.map((x) => x.identity))).to.deep.equal(["p0"]);
        const window = await collect(
          participants.list({
            room,
            dateCreatedAfter: joined[2]!.startTime,
            dateCreatedBefore: timestampFromMs(Number(joined[5]!.startTime!.seconds) * 1000 + joined[5]!.startTime!.nanos / 1e6),
          }),
        );
        const inWindow = window.flatMap((p) => p.participants.map((x) => x.identity));
        // Joins may share a millisecond: the window holds exactly those that started in it.
        const ms = (p: Participant) => Number(p.startTime!.seconds) * 1000 + p.startTime!.nanos / 1e6;
        const expected = joined.slice(1).filter((p) => ms(p) >= ms(joined[2]!) && ms(p) < ms(joined[5]!));
        expect(inWindow).to.deep.equal(expected.map((p) => p.identity));
        expect(inWindow).to.include("p2");
      });

      it("refuses a page size out of range, a forged page token and another room's token, naming the field", async () => {
        const room = freshRoomName();
        await participants.join({ room, identity: "x" });
        for (const pageSize of [-1, 1001]) {
          const err = await rejection(collect(participants.list({ room, pageSize })));
          expect(err.code).to.equal(Code.InvalidArgument);
          expect(err.rawMessage).to.match(/^page_size must be between 1 and 1000/);
        }
        const err = await rejection(collect(participants.list({ room, pageToken: "bm9wZQ" })));
        expect(err.code).to.equal(Code.InvalidArgument);
        expect(err.rawMessage).to.match(/^page_token /);
        await participants.join({ room, identity: "y" });
        const [first] = await collect(participants.list({ room, pageSize: 1 }));
        const elsewhere = freshRoomName();
        await participants.join({ room: elsewhere, identity: "z" });
        const foreign = await rejection(collect(participants.list({ room: elsewhere, pageToken: first!.nextPageToken })));
        expect(foreign.rawMessage).to.equal("page_token was issued for another room");
      });
    });

    describe("Connect binary over HTTP/2", () => {
      it("joins, gets, and streams List", async () => {
        const client = connectBinaryHttp2(ParticipantService, server.url);
        const room = freshRoomName();
        const joined = (await client.join({ room, identity: "h2" })).participant!;
        expect((await client.get({ room, participant: "h2" })).participant).to.deep.equal(joined);
        const pages = await collect(client.list({ room }));
        expect(pages[0]!.participants.map((p) => p.sid)).to.deep.equal([joined.sid]);
        const err = await rejection(client.get({ room, participant: "nobody" }));
        expect(err.code).to.equal(Code.NotFound);
      });
    });

    describe("gRPC-Web over HTTP/1.1", () => {
      it("joins and streams List", async () => {
        const client = grpcWebHttp1(ParticipantService, server.url);
        const room = freshRoomName();
        const joined = (await client.join({ room, identity: "web" })).participant!;
        const pages = await collect(client.list({ room }));
        expect(pages[0]!.participants.map((p) => p.sid)).to.deep.equal([joined.sid]);
      });
    });

    describe("gRPC over HTTP/2 with @grpc/grpc-js", () => {
      let client: GrpcJsClient<typeof ParticipantService>;
      before(() => {
        client = grpcJs(ParticipantService, `127.0.0.1:${server.port}`);
      });
      after(() => client.close());

      it("joins, gets by identity, kicks and streams List pages", async () => {
        const room = freshRoomName();
        const joined = (await client.join({ room, identity: "grpc" })).participant!;
        expect((await client.get(create(ParticipantServiceGetRequestSchema, { room, participant: "grpc" }))).participant!.sid).to.equal(
          joined.sid,
        );
        for (let i = 0; i < 4; i++) await client.join({ room, identity: `g${i}` });
        const pages = await client.list({ room, pageSize: 2 });
        expect(pages.map((p) => p.participants.length)).to.deep.equal([2, 2, 1]);
        const kicked = (await client.update({ room, participant: joined.sid, status: ParticipantStatus.DISCONNECTED })).participant!;
        expect(kicked.status).to.equal(ParticipantStatus.DISCONNECTED);
      });

      it("returns gRPC status codes: NOT_FOUND and INVALID_ARGUMENT with the field", async () => {
        const missing = await client.get({ room: "nowhere", participant: "x" }).then(
          () => expect.fail("expected the call to fail"),
          (e: grpc.ServiceError) => e,
        );
        expect(missing.code).to.equal(grpc.status.NOT_FOUND);
        const invalid = await client.join({ room: freshRoomName(), identity: "" }).then(
          () => expect.fail("expected the call to fail"),
          (e: grpc.ServiceError) => e,
        );
        expect(invalid.code).to.equal(grpc.status.INVALID_ARGUMENT);
        expect(invalid.details).to.match(/^identity must not be empty/);
      });
    });

    describe("plain fetch and buf curl", () => {
      it("a plain JSON POST reaches a unary method", async () => {
        const room = freshRoomName();
        const res = await fetch(`${server.url}/rollcall.v1.ParticipantService/Join`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: testAuthorization },
          body: JSON.stringify({ room, identity: "fetch" }),
        });
        expect(res.status).to.equal(200);
        const body = (await res.json()) as { participant: Record<string, unknown> };
        expect(body.participant).to.include({ identity: "fetch", status: "PARTICIPANT_STATUS_CONNECTED" });
        expect(body.participant.startTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
        const missing = await fetch(`${server.url}/rollcall.v1.ParticipantService/Get`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: testAuthorization },
          body: JSON.stringify({ room, participant: "nobody" }),
        });
        expect(missing.status).to.equal(404);
        expect(await missing.json()).to.include({ code: "not_found" });
      });

      it("buf curl --schema proto calls Get and a streamed List over gRPC", async () => {
        const room = freshRoomName();
        const joined = (await participants.join({ room, identity: "buf" })).participant!;
        const common = [
          "curl",
          "--schema",
          "proto",
          "--protocol",
          "grpc",
          "--http2-prior-knowledge",
          "-H",
          `Authorization: ${testAuthorization}`,
        ];
        const get = await run("node_modules/.bin/buf", [
          ...common,
          "-d",
          JSON.stringify({ room, participant: "buf" }),
          `${server.url}/rollcall.v1.ParticipantService/Get`,
        ]);
        expect((JSON.parse(get.stdout) as { participant: { sid: string } }).participant.sid).to.equal(joined.sid);
        const list = await run("node_modules/.bin/buf", [
          ...common,
          "-d",
          JSON.stringify({ room }),
          `${server.url}/rollcall.v1.ParticipantService/List`,
        ]);
        expect(list.stdout).to.contain(joined.sid);
      });
    });
  });
});
