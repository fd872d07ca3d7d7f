import type { Client } from "@connectrpc/connect";
import { expect } from "chai";
import twilio from "twilio";
import { ParticipantService } from "../../gen/rollcall/v1/participant_pb.js";
import { eachBackend } from "../support/backends.js";
import { connectJsonHttp1 } from "../support/clients.js";
import { startRollcall, testAccount, testApiKey } from "../support/rollcall.js";
import { waitFor } from "../support/wait.js";

type TwilioClient = ReturnType<typeof twilio>;

// The official twilio package, pointed at rollcall, as a Twilio customer's
// backend would use it once baseUrl is set.
eachBackend((backend) => {
  describe(`the twilio SDK against rollcall (${backend.name})`, () => {
    let server: Awaited<ReturnType<typeof startRollcall>>;
    let client: TwilioClient;
    let mediaPlane: Client<typeof ParticipantService>;

    before(async () => {
      server = await startRollcall(backend.settings);
      client = twilio(testAccount.sid, testAccount.token);
      client.video.baseUrl = server.url;
      mediaPlane = connectJsonHttp1(ParticipantService, server.url);
    });
    after(async () => server.close());

    const uniqueName = (base: string) => `${base}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;

    async function restError(call: Promise<unknown>): Promise<{ status: number; code: number; message: string }> {
      try {
        await call;
      } catch (error) {
        expect((error as Error).constructor.name).to.equal("RestException");
        return error as { status: number; code: number; message: string };
      }
      throw new Error("expected a RestException");
    }

    it("runs a script written for Twilio unchanged: fetch by identity, list disconnected, kick", async () => {
      const room = uniqueName("DailyStandup");
      await mediaPlane.join({ room, identity: "Alice" });
      await mediaPlane.join({ room, identity: "Bob" });
      const alice = await client.video.v1.rooms(room).participants("Alice").fetch();
      expect(alice.identity).to.equal("Alice");
      expect(alice.status).to.equal("connected");
      expect(alice.sid).to.match(/^PA[0-9a-f]{32}$/);
      expect(alice.startTime).to.be.instanceOf(Date);
      expect(alice.endTime).to.equal(null);
      expect(alice.duration).to.equal(null);
      const kicked = await client.video.v1.rooms(room).participants("Alice").update({ status: "disconnected" });
      expect(kicked.status).to.equal("disconnected");
      expect(kicked.endTime).to.be.instanceOf(Date);
      expect(kicked.duration).to.be.a("number");
      const gone = await client.video.v1.rooms(room).participants.list({ status: "disconnected" });
      expect(gone.map((p) => p.sid)).to.deep.equal([alice.sid]);
      const present = await client.video.v1.rooms(room).participants.list();
      expect(present.map((p) => p.identity)).to.deep.equal(["Bob"]);
    });

    it("creates, fetches, lists and completes rooms", async () => {
      const name = uniqueName("Retro");
      const created = await client.video.v1.rooms.create({ uniqueName: name, maxParticipants: 10, emptyRoomTimeout: 3 });
      expect(created).to.include({
        uniqueName: name,
        status: "in-progress",
        maxParticipants: 10,
        emptyRoomTimeout: 3,
        type: "group",
        accountSid: testAccount.sid,
      });
      expect(created.dateCreated).to.be.instanceOf(Date);
      expect((await client.video.v1.rooms(name).fetch()).sid).to.equal(created.sid);
      expect((await client.video.v1.rooms(created.sid).fetch()).uniqueName).to.equal(name);
      const listed = await client.video.v1.rooms.list({ uniqueName: name });
      expect(listed.map((r) => r.sid)).to.deep.equal([created.sid]);
      const completed = await client.video.v1.rooms(created.sid).update({ status: "completed" });
      expect(completed.status).to.equal("completed");
      expect(completed.endTime).to.be.instanceOf(Date);
      const missing = await restError(client.video.v1.rooms(name).fetch());
      expect(missing).to.include({ status: 404, code: 20404 });
      const completedList = await client.video.v1.rooms.list({ status: "completed", uniqueName: name });
      expect(completedList.map((r) => r.sid)).to.deep.equal([created.sid]);
    });

    it("fetches a participant by sid and by identity", async () => {
      const room = uniqueName("Fetch");
      const joined = (await mediaPlane.join({ room, identity: "carol" })).participant!;
      const bySid = await client.video.v1.rooms(joined.roomSid).participants(joined.sid).fetch();
      const byIdentity = await client.video.v1.rooms(room).participants("carol").fetch();
      expect(bySid.toJSON()).to.deep.equal(byIdentity.toJSON());
      expect(bySid.roomSid).to.equal(joined.roomSid);
      expect(bySid.accountSid).to.equal(testAccount.sid);
      expect(bySid.url).to.equal(`${server.url}/v1/Rooms/${joined.roomSid}/Participants/${joined.sid}`);
    });

    it("lists with every filter, and walks pages through next_page_url with list and each", async () => {
      const room = uniqueName("Paging");
      const joined = [];
      for (let i = 0; i < 5; i++) {
        joined.push((await mediaPlane.join({ room, identity: `p${i}` })).participant!);
        // The rest join in a later whole second, so that a date filter, which
        // has second precision, can tell the first two from them.
        if (i === 1) {
          const second = Number(joined[1]!.startTime!.seconds);
          await waitFor(() => Date.now() >= (second + 1) * 1000, { what: `the clock to pass the second ${second}` });
        }
      }
      const sids = joined.map((p) => p.sid);
      const participants = client.video.v1.rooms(room).participants;
      expect((await participants.list({ pageSize: 2 })).map((p) => p.sid)).to.deep.equal(sids);
      const walked: string[] = [];
      // each() is declared to return void (its run-time promise is undocumented):
      // the done option is what tells that the walk is over.
      await new Promise<void>((resolve, reject) => {
        participants.each({ pageSize: 2, done: (error?: Error) => (error ? reject(error) : resolve()) }, (p) => {
          walked.push(p.sid);
        });
      });
      expect(walked).to.deep.equal(sids);
      const firstPage = await participants.page({ pageSize: 2 });
      expect(firstPage.instances).to.have.length(2);
      expect(firstPage.nextPageUrl).to.match(new RegExp(`^${server.url}/v1/Rooms/`));
      expect((await participants.list({ identity: "p3" })).map((p) => p.sid)).to.deep.equal([sids[3]]);
      const boundary = new Date(Number(joined[2]!.startTime!.seconds) * 1000);
      expect((await participants.list({ dateCreatedAfter: boundary })).map((p) => p.sid)).to.deep.equal(sids.slice(2));
      expect((await participants.list({ dateCreatedBefore: boundary })).map((p) => p.sid)).to.deep.equal(sids.slice(0, 2));
      await participants("p4").update({ status: "disconnected" });
      const gone = await participants.list({ status: "disconnected", identity: "p4", dateCreatedAfter: new Date(0) });
      expect(gone.map((p) => p.sid)).to.deep.equal([sids[4]]);
    });

    it("anonymizes a participant: its identity becomes its sid", async () => {
      const room = uniqueName("Anon");
      const joined = (await mediaPlane.join({ room, identity: "dave@example.com" })).participant!;
      const anonymized = await client.video.v1.rooms(room).participants(joined.sid).anonymize().update();
      expect(anonymized.identity).to.equal(joined.sid);
      expect(anonymized.sid).to.equal(joined.sid);
      expect((await client.video.v1.rooms(room).participants(joined.sid).fetch()).identity).to.equal(joined.sid);
      const err = await restError(client.video.v1.rooms(room).participants("dave@example.com").fetch());
      expect(err).to.include({ status: 404, code: 20404 });
    });

    it("accepts API key credentials for the key's account", async () => {
      const keyed = twilio(testApiKey.sid, testApiKey.secret, { accountSid: testAccount.sid });
      keyed.video.baseUrl = server.url;
      const room = uniqueName("Keyed");
      await mediaPlane.join({ room, identity: "erin" });
      expect((await keyed.video.v1.rooms(room).participants("erin").fetch()).identity).to.equal("erin");
      const created = await keyed.video.v1.rooms.create({ uniqueName: uniqueName("KeyRoom") });
      expect(created.accountSid).to.equal(testAccount.sid);
    });

    it("raises RestException with Twilio's status and code", async () => {
      const room = uniqueName("Errors");
      await mediaPlane.join({ room, identity: "frank" });
      expect(await restError(client.video.v1.rooms(room).participants("nobody").fetch())).to.include({ status: 404, code: 20404 });
      expect(await restError(client.video.v1.rooms(room).participants("frank").update({ status: "connected" }))).to.include({
        status: 400,
        code: 53112,
      });
      expect(await restError(client.video.v1.rooms.create({ uniqueName: room }))).to.include({ status: 400, code: 53113 });
      expect(await restError(client.video.v1.rooms.create({ maxParticipants: 0 }))).to.include({ status: 400, code: 53107 });
      expect(await restError(client.video.v1.rooms.create({ emptyRoomTimeout: 99 }))).to.include({ status: 400, code: 53109 });
      expect(await restError(client.video.v1.rooms(room).participants.page({ pageSize: 1001 }))).to.include({ status: 400, code: 20007 });
      const stranger = twilio(testAccount.sid, "wrong-token");
      stranger.video.baseUrl = server.url;
      expect(await restError(stranger.video.v1.rooms(room).fetch())).to.include({ status: 401, code: 20003 });
    });
  });
});
