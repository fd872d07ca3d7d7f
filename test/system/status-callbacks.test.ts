import type { Client } from "@connectrpc/connect";
import { expect } from "chai";
import type { LookupAddress } from "node:dns";
import { CallbackService } from "../../gen/rollcall/v1/callback_pb.js";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import type { Resolve } from "../../src/callbacks/delivery.js";
import { configFromEnv, type Config } from "../../src/config.js";
import { parseCredentials } from "../../src/credentials.js";
import { openStore, startServer, type RunningServer } from "../../src/server.js";
import { eachBackend } from "../support/backends.js";
import { CallbackReceiver } from "../support/callback-receiver.js";
import { connectJsonHttp1 } from "../support/clients.js";
import { basic, otherAccount, testAccount, testAuthorization } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";
import { LogCapture } from "../support/log-capture.js";

// Status callbacks end to end: rollcall instances on every store, receivers
// on node:http that check each request with twilio.validateRequest.

type Instance = RunningServer & { logs: string[] };

// Short retries and leases, so faults play out in seconds.
const fast: Partial<Config> = {
  callbackBackoffMs: 50,
  callbackBackoffMaxMs: 400,
  callbackLeaseMs: 1500,
  callbackPollMs: 100,
};

async function startInstance(settings: Partial<Config>, accountCallback?: string, resolve?: Resolve): Promise<Instance> {
  const config: Config = { ...configFromEnv({}), port: 0, grpcPort: undefined, shutdownGraceMs: 1000, ...fast, ...settings };
  const credentials = parseCredentials(
    {
      accounts: [
        { sid: testAccount.sid, auth_token: testAccount.token, ...(accountCallback ? { status_callback: accountCallback } : {}) },
        { sid: otherAccount.sid, auth_token: otherAccount.token },
      ],
    },
    "callback test credentials",
  );
  const capture = new LogCapture();
  const store = await openStore(config, capture.logger);
  const server = await startServer(config, store, credentials, capture.logger, { callbackResolve: resolve });
  return {
    ...server,
    get logs() {
      return capture.messages();
    },
  };
}

let names = 0;
const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${++names}`;

function clients(url: string) {
  return {
    rooms: connectJsonHttp1(RoomService, url),
    participants: connectJsonHttp1(ParticipantService, url),
    callbacks: connectJsonHttp1(CallbackService, url),
  };
}

// Created, alice and bob connect, alice is kicked, bob is replaced by a new
// bob, the room ends (disconnecting the new bob): 8 events.
async function playRoom(
  rooms: Client<typeof RoomService>,
  participants: Client<typeof ParticipantService>,
  statusCallback: string,
  statusCallbackMethod = "POST",
): Promise<string> {
  const { room } = await rooms.create({ uniqueName: uniqueName("cb"), statusCallback, statusCallbackMethod });
  const sid = room!.sid;
  await participants.join({ room: sid, identity: "alice" });
  await participants.join({ room: sid, identity: "bob" });
  await participants.update({ room: sid, participant: "alice", status: ParticipantStatus.DISCONNECTED });
  await participants.join({ room: sid, identity: "bob" });
  await rooms.update({ room: sid, status: RoomStatus.COMPLETED });
  return sid;
}

const sequence = [1, 2, 3, 4, 5, 6, 7, 8];

// Every request valid; attempts never go back (n+1 only after n's 2xx); each
// event answered 2xx exactly once unless `duplicatesAllowed`.
function expectInOrder(receiver: CallbackReceiver, roomSid: string, duplicatesAllowed = false): void {
  const all = receiver.of(roomSid);
  expect(
    all.every((callback) => callback.valid),
    "every request passes twilio.validateRequest",
  ).to.equal(true);
  const attempts = all.map((callback) => Number(callback.params.SequenceNumber));
  for (let i = 1; i < attempts.length; i++) expect(attempts[i], `attempt ${i} of ${attempts.join(",")}`).to.be.at.least(attempts[i - 1]!);
  const delivered = receiver.delivered(roomSid);
  if (duplicatesAllowed) expect([...new Set(delivered)]).to.deep.equal(sequence);
  else expect(delivered).to.deep.equal(sequence);
}

eachBackend((backend) => {
  describe(`status callbacks (${backend.name})`, () => {
    let server: Instance;
    let receiver: CallbackReceiver;
    let api: ReturnType<typeof clients>;

    beforeEach(async () => {
      receiver = await CallbackReceiver.start(testAccount.token);
      server = await startInstance({ ...backend.settings, callbackTimeoutMs: 1000 }, receiver.url("/adhoc"));
      api = clients(server.url);
    });
    afterEach(async () => {
      await server.close();
      await receiver.stop();
    });

    it("POSTs a room's whole sequence in order, signed, with Twilio's parameters", async () => {
      const roomSid = await playRoom(api.rooms, api.participants, receiver.url("/callbacks"));
      await waitFor(() => receiver.delivered(roomSid).length >= 8, { what: "8 callbacks" });
      expectInOrder(receiver, roomSid);
      const got = receiver.of(roomSid);
      expect(got.map((c) => c.params.StatusCallbackEvent)).to.deep.equal([
        "room-created",
        "participant-connected",
        "participant-connected",
        "participant-disconnected",
        "participant-disconnected",
        "participant-connected",
        "participant-disconnected",
        "room-ended",
      ]);
      expect(got.every((c) => c.method === "POST" && c.headers["content-type"] === "application/x-www-form-urlencoded")).to.equal(true);
      const base = ["AccountSid", "RoomName", "RoomSid", "RoomStatus", "RoomType", "SequenceNumber", "StatusCallbackEvent", "Timestamp"];
      const participant = [...base, "ParticipantIdentity", "ParticipantSid", "ParticipantStatus"];
      expect(Object.keys(got[0]!.params).sort()).to.deep.equal(base.sort());
      expect(Object.keys(got[1]!.params).sort()).to.deep.equal(participant.sort());
      expect(Object.keys(got[3]!.params).sort()).to.deep.equal([...participant, "ParticipantDuration"].sort());
      expect(Object.keys(got[7]!.params).sort()).to.deep.equal([...base, "RoomDuration"].sort());
      expect(got[0]!.params).to.include({
        AccountSid: testAccount.sid,
        RoomSid: roomSid,
        RoomStatus: "in-progress",
        RoomType: "group",
        SequenceNumber: "1",
      });
      expect(got[0]!.params.Timestamp).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(got[3]!.params).to.include({ ParticipantIdentity: "alice", ParticipantStatus: "disconnected" });
      expect(got[4]!.params).to.include({ ParticipantIdentity: "bob", ParticipantStatus: "disconnected" });
      expect(got[5]!.params).to.include({ ParticipantIdentity: "bob", ParticipantStatus: "connected" });
      expect(got[7]!.params).to.include({ RoomStatus: "completed", RoomDuration: "0" });
      expect(got[0]!.headers["i-twilio-idempotency-token"]).to.equal(`${roomSid}-1`);
      expect(server.logs.join("\n")).not.to.include(testAccount.token);
    });

    it("GETs with the parameters in the query, keeping the URL's own query and port", async () => {
      const roomSid = await playRoom(api.rooms, api.participants, receiver.url("/hook?tenant=a%20b&x=1"), "GET");
      await waitFor(() => receiver.delivered(roomSid).length >= 8, { what: "8 callbacks" });
      expectInOrder(receiver, roomSid);
      const first = receiver.of(roomSid)[0]!;
      expect(first.method).to.equal("GET");
      expect(first.url).to.match(new RegExp(`^http://127\\.0\\.0\\.1:${receiver.port}/hook\\?tenant=a%20b&x=1&AccountSid=`));
      expect(first.params).to.include({ tenant: "a b", x: "1", StatusCallbackEvent: "room-created" });
    });

    it("gives ad-hoc rooms their account's callback", async () => {
      const joined = await api.participants.join({ room: uniqueName("adhoc"), identity: "carol" });
      const roomSid = joined.participant!.roomSid;
      await waitFor(() => receiver.delivered(roomSid).length >= 2, { what: "2 callbacks of the ad-hoc room" });
      expect(receiver.of(roomSid).map((c) => [c.url.split("?")[0], c.params.StatusCallbackEvent])).to.deep.equal([
        [receiver.url("/adhoc"), "room-created"],
        [receiver.url("/adhoc"), "participant-connected"],
      ]);
    });

    it("retries 500s until a 2xx, keeping the order", async () => {
      receiver.answer = (_, index) => (index % 3 === 2 ? 200 : 500);
      const roomSid = await playRoom(api.rooms, api.participants, receiver.url());
      await waitFor(() => receiver.delivered(roomSid).length >= 8, { what: "8 callbacks through 500s", timeoutMs: 20_000 });
      expectInOrder(receiver, roomSid);
      expect(receiver.of(roomSid).length).to.equal(24);
    });

    it("delivers everything once a receiver that was down comes back", async () => {
      await receiver.stop();
      const roomSid = await playRoom(api.rooms, api.participants, receiver.url());
      await waitFor(() => server.callbacks.stats.attempts >= 4, { what: "attempts while the receiver is down" });
      await receiver.listen();
      await waitFor(() => receiver.delivered(roomSid).length >= 8, { what: "8 callbacks after the receiver returned", timeoutMs: 20_000 });
      expectInOrder(receiver, roomSid);
    });

    it("times out a receiver that hangs (#tt=) and sends again", async () => {
      receiver.answer = (_, index) => (index === 1 ? "hang" : 200);
      const roomSid = await playRoom(api.rooms, api.participants, receiver.url("/slow#tt=300"));
      await waitFor(() => receiver.delivered(roomSid).length >= 8, { what: "8 callbacks after a hang", timeoutMs: 20_000 });
      expectInOrder(receiver, roomSid);
      expect(
        receiver
          .of(roomSid)
          .map((c) => c.params.SequenceNumber)
          .slice(0, 3),
      ).to.deep.equal(["1", "2", "2"]);
      expect(receiver.of(roomSid).every((c) => !c.url.includes("#") && !c.url.includes("tt="))).to.equal(true);
    });

    it("gives up on a final 4xx and after ROLLCALL_CALLBACK_RETRY_FOR, listing the failures for the account only", async () => {
      await server.close();
      server = await startInstance({ ...backend.settings, callbackRetryForMs: 300 });
      api = clients(server.url);
      receiver.answer = (callback) => (callback.params.SequenceNumber === "1" ? 404 : 503);
      const { room } = await api.rooms.create({ uniqueName: uniqueName("fail"), statusCallback: receiver.url() });
      await api.participants.join({ room: room!.sid, identity: "dave" });
      await waitFor(async () => (await api.callbacks.listFailures({})).failures.length >= 2, { what: "2 failures", timeoutMs: 10_000 });
      const { failures, total } = await api.callbacks.listFailures({});
      expect(Number(total)).to.equal(2);
      expect(failures.map((f) => [Number(f.sequence), f.eventType, f.status])).to.deep.equal([
        [2, "participant-connected", 503],
        [1, "room-created", 404],
      ]);
      expect(failures[0]!.attempts).to.be.greaterThan(1);
      expect(server.logs.filter((line) => line.includes("gave up"))).to.have.length(2);
      expect(server.logs.join("\n")).to.include(`to 127.0.0.1:${receiver.port}`);
      const other = connectJsonHttp1(CallbackService, server.url, basic(otherAccount.sid, otherAccount.token));
      expect(Number((await other.listFailures({})).total)).to.equal(0);
    });

    it("refuses callback URLs that are relative, not http, carry credentials, name a link-local address or are too long (53111)", async () => {
      const refused = [
        "/relative",
        "ftp://example.com/cb",
        "https://user:pass@example.com/cb",
        "http://169.254.169.254/latest",
        "http://[fe80::1]/cb",
        "https://example.com/" + "a".repeat(2048),
      ];
      for (const url of refused) {
        const response = await fetch(`${server.url}/v1/Rooms`, {
          method: "POST",
          headers: { authorization: testAuthorization, "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ StatusCallback: url }).toString(),
        });
        expect(response.status, url).to.equal(400);
        expect(((await response.json()) as { code: number }).code, url).to.equal(53111);
      }
    });
  });
});

describe("status callbacks: targets", () => {
  const answers: Record<string, string> = { "receiver.test": "127.0.0.1", "metadata.test": "169.254.169.254" };
  const resolve: Resolve = (hostname, _options, callback) => {
    const address = answers[hostname];
    if (address === undefined) return callback(Object.assign(new Error(`no answer for ${hostname}`), { code: "ENOTFOUND" }), []);
    callback(null, [{ address, family: 4 } satisfies LookupAddress]);
  };
  let receiver: CallbackReceiver;
  let server: Instance;
  beforeEach(async () => {
    receiver = await CallbackReceiver.start(testAccount.token);
  });
  afterEach(async () => {
    await server.close();
    await receiver.stop();
  });

  it("never connects to a name that resolves to a link-local address, and connects through the resolver otherwise", async () => {
    server = await startInstance({}, undefined, resolve);
    const api = clients(server.url);
    const { room: bad } = await api.rooms.create({
      uniqueName: uniqueName("meta"),
      statusCallback: `http://metadata.test:${receiver.port}/cb`,
    });
    const { room: good } = await api.rooms.create({
      uniqueName: uniqueName("named"),
      statusCallback: `http://receiver.test:${receiver.port}/cb`,
    });
    await waitFor(() => receiver.delivered(good!.sid).length === 1, { what: "the callback through the resolver" });
    await waitFor(async () => (await api.callbacks.listFailures({})).failures.length === 1, { what: "the refused callback" });
    const [failure] = (await api.callbacks.listFailures({})).failures;
    expect(failure).to.include({ roomSid: bad!.sid, eventType: "room-created", status: 0 });
    expect(failure!.reason).to.include("no address callbacks may go to");
    expect(receiver.of(bad!.sid)).to.have.length(0);
  });

  it("sends only where ROLLCALL_CALLBACK_ALLOW says", async () => {
    server = await startInstance({ callbackAllow: ["10.0.0.0/8"] });
    const api = clients(server.url);
    const { room } = await api.rooms.create({ uniqueName: uniqueName("allow"), statusCallback: receiver.url() });
    await waitFor(async () => (await api.callbacks.listFailures({})).failures.length === 1, { what: "the refused callback" });
    expect(receiver.of(room!.sid)).to.have.length(0);
  });
});
