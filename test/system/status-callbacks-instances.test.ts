import { expect } from "chai";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import { configFromEnv, type Config } from "../../src/config.js";
import { openStore, startServer, type RunningServer } from "../../src/server.js";
import { eachBackend, type Backend } from "../support/backends.js";
import { CallbackReceiver } from "../support/callback-receiver.js";
import { connectJsonHttp1 } from "../support/clients.js";
import { testAccount, testCredentials } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";
import { LogCapture } from "../support/log-capture.js";

// Status callbacks shared by several instances, and rooms isolated from each
// other's receivers.

const fast: Partial<Config> = { callbackBackoffMs: 50, callbackBackoffMaxMs: 400, callbackLeaseMs: 1500, callbackPollMs: 100 };

async function startInstance(settings: Partial<Config>): Promise<RunningServer> {
  const config: Config = { ...configFromEnv({}), port: 0, grpcPort: undefined, shutdownGraceMs: 1000, ...fast, ...settings };
  return startServer(config, await openStore(config), testCredentials, new LogCapture().logger);
}

let names = 0;
const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${++names}`;

// Plays `rooms` rooms, spreading the calls over the instances' URLs: each
// room is created, gets two participants, one kicked, and ends (6 events).
async function playRooms(
  urls: () => string[],
  rooms: number,
  statusCallback: string,
  between?: (round: number) => Promise<void>,
): Promise<string[]> {
  const sids: string[] = [];
  const pick = (i: number) => {
    const list = urls();
    const url = list[i % list.length]!;
    return { rooms: connectJsonHttp1(RoomService, url), participants: connectJsonHttp1(ParticipantService, url) };
  };
  for (let i = 0; i < rooms; i++) sids.push((await pick(i).rooms.create({ uniqueName: uniqueName("multi"), statusCallback })).room!.sid);
  const steps = [
    (sid: string, i: number) => pick(i).participants.join({ room: sid, identity: "a" }),
    (sid: string, i: number) => pick(i + 1).participants.join({ room: sid, identity: "b" }),
    (sid: string, i: number) => pick(i + 2).participants.update({ room: sid, participant: "a", status: ParticipantStatus.DISCONNECTED }),
    (sid: string, i: number) => pick(i).rooms.update({ room: sid, status: RoomStatus.COMPLETED }),
  ];
  for (const [round, step] of steps.entries()) {
    await Promise.all(sids.map((sid, i) => step(sid, i)));
    await between?.(round);
  }
  return sids;
}

const sixEvents = [1, 2, 3, 4, 5, 6];

function redisBackends(suite: (backend: Backend) => void): void {
  eachBackend((backend) => {
    if (backend.name !== "memory store") suite(backend);
  });
}

redisBackends((backend) => {
  describe(`status callbacks shared by 3 instances (${backend.name})`, () => {
    let instances: RunningServer[] = [];
    let receiver: CallbackReceiver;

    beforeEach(async () => {
      receiver = await CallbackReceiver.start(testAccount.token);
      instances = [];
      for (let i = 0; i < 3; i++) instances.push(await startInstance(backend.settings));
    });
    afterEach(async () => {
      await Promise.all(instances.map((instance) => instance.close()));
      await receiver.stop();
    });

    it("sends each event once when nothing fails", async () => {
      const sids = await playRooms(() => instances.map((i) => i.url), 20, receiver.url());
      await waitFor(() => sids.every((sid) => receiver.delivered(sid).length >= 6), { what: "6 callbacks of 20 rooms", timeoutMs: 20_000 });
      for (const sid of sids) {
        expect(receiver.delivered(sid), sid).to.deep.equal(sixEvents);
        expect(receiver.of(sid), sid).to.have.length(6);
      }
      expect(receiver.received.every((c) => c.valid)).to.equal(true);
    });

    it("loses nothing when the delivering instance is closed mid-way", async () => {
      let closed: RunningServer | undefined;
      const sids = await playRooms(
        () => instances.map((i) => i.url),
        20,
        receiver.url(),
        async (round) => {
          if (round !== 1) return;
          await waitFor(() => instances.some((i) => i.callbacks.stats.attempts > 0), { what: "an instance delivering" });
          closed = instances.reduce((a, b) => (a.callbacks.stats.attempts >= b.callbacks.stats.attempts ? a : b));
          instances = instances.filter((i) => i !== closed);
          await closed.close();
        },
      );
      expect(closed).not.to.equal(undefined);
      // Distinct ones: a repeated callback must not stand in for a missing one.
      await waitFor(() => sids.every((sid) => new Set(receiver.delivered(sid)).size >= 6), {
        what: "6 callbacks of 20 rooms after the close",
        timeoutMs: 30_000,
      });
      let duplicates = 0;
      for (const sid of sids) {
        const delivered = receiver.delivered(sid);
        expect([...new Set(delivered)], sid).to.deep.equal(sixEvents);
        for (let i = 1; i < delivered.length; i++) expect(delivered[i]!, sid).to.be.at.least(delivered[i - 1]!);
        duplicates += delivered.length - 6;
      }
      // A duplicate only where a delivery was cut after the receiver's 2xx:
      // at most one per room in flight at the close.
      expect(duplicates).to.be.at.most(20);
      expect(instances.some((i) => i.callbacks.stats.delivered > 0)).to.equal(true);
    });
  });
});

describe("status callbacks: one dead receiver does not slow other rooms", () => {
  let server: RunningServer;
  let healthy: CallbackReceiver;
  let hanging: CallbackReceiver;
  before(async () => {
    healthy = await CallbackReceiver.start(testAccount.token);
    hanging = await CallbackReceiver.start(testAccount.token);
    hanging.answer = () => "hang";
    server = await startInstance({ callbackConcurrency: 8, callbackTimeoutMs: 5000 });
  });
  after(async () => {
    await server.close();
    await healthy.stop();
    await hanging.stop();
  });

  it("delivers to healthy receivers promptly while 30 rooms' receiver hangs", async () => {
    const rooms = connectJsonHttp1(RoomService, server.url);
    for (let i = 0; i < 30; i++) await rooms.create({ uniqueName: uniqueName("dead"), statusCallback: hanging.url() });
    await waitFor(() => hanging.received.length >= 2, { what: "the hanging receiver to hold requests" });
    const started = Date.now();
    const sids: string[] = [];
    for (let i = 0; i < 10; i++)
      sids.push((await rooms.create({ uniqueName: uniqueName("alive"), statusCallback: healthy.url() })).room!.sid);
    await waitFor(() => sids.every((sid) => healthy.delivered(sid).length === 1), {
      what: "the healthy rooms' callbacks",
      timeoutMs: 4000,
    });
    expect(Date.now() - started).to.be.below(2000);
  });
});
