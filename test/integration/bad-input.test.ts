import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { expect } from "chai";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import { eachBackend } from "../support/backends.js";
import { collect, connectBinaryHttp2, connectJsonHttp1 } from "../support/clients.js";
import { startRollcall, testAuthorization } from "../support/rollcall.js";

const unusual = [
  "{",
  "}",
  ":",
  "*",
  "a b",
  "{RM00}:p:*",
  "😀 party 🎉",
  "𝒜𝓁𝒾𝒸ℯ",
  `quote"s\\and'apostrophes`,
  "x".repeat(128),
  "😀".repeat(128),
];

eachBackend((backend) => {
  describe(`bad input (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;
    let room: string;
    let snapshot: () => Promise<unknown>;

    async function post(method: string, body: string, contentType = "application/json") {
      const res = await fetch(`${server.url}/rollcall.v1.${method}`, {
        method: "POST",
        headers: { "content-type": contentType, authorization: testAuthorization },
        body,
      });
      return { status: res.status, body: (await res.json()) as { code: string; message: string } };
    }

    before(async () => {
      server = await startRollcall({ ...backend.settings, maxRequestBytes: 64 * 1024 });
      participants = connectJsonHttp1(ParticipantService, server.url);
      rooms = connectJsonHttp1(RoomService, server.url);
      room = (await rooms.create({ uniqueName: `kept-${Date.now()}` })).room!.sid;
      for (const identity of ["ann", "ben", "cy"]) await participants.join({ room, identity });
      await participants.update({ room, participant: "ben", status: ParticipantStatus.DISCONNECTED });
      snapshot = async () => ({
        room: await rooms.get({ room }),
        connected: await collect(participants.list({ room })),
        disconnected: await collect(participants.list({ room, status: ParticipantStatus.DISCONNECTED })),
      });
    });
    after(async () => server.close());

    let stored: unknown;
    beforeEach(async () => {
      stored = await snapshot();
    });
    afterEach(async function () {
      if (this.currentTest?.state === "passed") expect(await snapshot(), "stored data is intact").to.deep.equal(stored);
    });

    it("malformed JSON is an invalid argument", async () => {
      for (const body of ['{"room":', "not json", "[]", '{"room": "a", "identity": "b"} trailing']) {
        const res = await post("ParticipantService/Join", body);
        expect(res.status, body).to.equal(400);
        expect(res.body.code).to.equal("invalid_argument");
      }
    });

    it("wrong types are invalid arguments", async () => {
      for (const body of [
        '{"room": 5, "identity": "a"}',
        '{"room": "r", "identity": true}',
        '{"room": ["r"], "identity": "a"}',
        '{"room": "r", "page_size": "ten"}',
      ]) {
        const res = await post(body.includes("page_size") ? "RoomService/List" : "ParticipantService/Join", body);
        expect(res.status, body).to.equal(400);
        expect(res.body.code, body).to.equal("invalid_argument");
      }
    });

    it("unknown enum values are invalid arguments, in JSON and in binary", async () => {
      const json = await post("ParticipantService/Update", JSON.stringify({ room, participant: "ann", status: "PARTICIPANT_STATUS_GONE" }));
      expect(json.status).to.equal(400);
      expect(json.body.code).to.equal("invalid_argument");
      const binary = connectBinaryHttp2(ParticipantService, server.url);
      const err = await binary
        .update({ room, participant: "ann", status: 99 as ParticipantStatus })
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).to.be.instanceOf(ConnectError);
      expect((err as ConnectError).code).to.equal(Code.InvalidArgument);
      expect((err as ConnectError).rawMessage).to.equal("status unknown enum value 99");
      const roomErr = await rooms.update({ room, status: 7 as RoomStatus }).catch((e: unknown) => ConnectError.from(e));
      expect((roomErr as ConnectError).code).to.equal(Code.InvalidArgument);
    });

    it("an oversize body is refused before it is parsed", async () => {
      const res = await post("ParticipantService/Join", JSON.stringify({ room, identity: "x".repeat(100 * 1024) }));
      expect(res.body.code).to.equal("resource_exhausted");
      expect(res.body.message).to.match(/larger than configured readMaxBytes 65536/);
    });

    it("an identity of 10 000 characters is refused naming the field and the rule", async () => {
      for (const identity of ["x".repeat(10_000), "😀".repeat(10_000)]) {
        const res = await post("ParticipantService/Join", JSON.stringify({ room, identity }));
        expect(res.status).to.equal(400);
        expect(res.body).to.deep.equal({ code: "invalid_argument", message: "identity must be at most 128 characters, got 10000" });
      }
      const named = await post("ParticipantService/Join", JSON.stringify({ room: "r".repeat(10_000), identity: "a" }));
      expect(named.body.message).to.equal("room must be at most 128 characters, got 10000");
    });

    it("empty identities, control characters and lone surrogates are refused", async () => {
      const cases: [string, string][] = [
        ["", "identity must not be empty"],
        ["tab\there", "identity must not contain control characters"],
        ["nul\u0000", "identity must not contain control characters"],
        ["PA" + "0".repeat(32), "identity must not have the form of a participant sid"],
      ];
      for (const [identity, message] of cases) {
        const res = await post("ParticipantService/Join", JSON.stringify({ room, identity }));
        expect(res.body, JSON.stringify(identity)).to.deep.equal({ code: "invalid_argument", message });
      }
      // The JSON decoder refuses a lone surrogate before the operation sees it.
      const surrogate = await post("ParticipantService/Join", `{"room": "${room}", "identity": "\\ud800"}`);
      expect(surrogate.body.code).to.equal("invalid_argument");
      expect(surrogate.body.message).to.match(/identity.*invalid UTF8/);
    });

    it("identities with braces, colons, stars, spaces and emoji work and come back unchanged", async () => {
      for (const identity of unusual) {
        const scratch = `scratch-${Date.now()}`;
        const joined = (await participants.join({ room: scratch, identity })).participant!;
        expect(joined.identity).to.equal(identity);
        expect((await participants.get({ room: scratch, participant: identity })).participant!.sid).to.equal(joined.sid);
        const listed = await collect(participants.list({ room: scratch, identity }));
        expect(listed.flatMap((p) => p.participants.map((x) => x.sid))).to.deep.equal([joined.sid]);
        await rooms.update({ room: scratch, status: RoomStatus.COMPLETED });
      }
    });

    it("room names with braces, colons, stars, spaces and emoji work and come back unchanged", async () => {
      for (const name of unusual) {
        const joined = (await participants.join({ room: name, identity: "someone" })).participant!;
        const found = (await rooms.get({ room: name })).room!;
        expect(found.uniqueName).to.equal(name);
        expect(found.sid).to.equal(joined.roomSid);
        expect((await rooms.list({ uniqueName: name })).rooms.map((r) => r.sid)).to.deep.equal([found.sid]);
        await rooms.update({ room: name, status: RoomStatus.COMPLETED });
      }
    });

    it("unknown paths and methods get Connect errors, not crashes", async () => {
      const unknown = await fetch(`${server.url}/rollcall.v1.ParticipantService/Nope`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: testAuthorization },
        body: "{}",
      });
      expect(unknown.status).to.equal(404);
      const wrongType = await fetch(`${server.url}/rollcall.v1.ParticipantService/Get`, {
        method: "POST",
        headers: { "content-type": "text/plain", authorization: testAuthorization },
        body: "{}",
      });
      expect(wrongType.status).to.equal(415);
    });
  });
});
