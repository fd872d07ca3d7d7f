import { ParticipantInfo_State, type RoomServiceClient } from "livekit-server-sdk";
import type { ParticipantOperations } from "../operations/participants.js";
import type { Store } from "../store/store.js";
import type { LiveKitMirror } from "./webhook-mapping.js";
import { liveKitStateTtlMs } from "./webhook-mapping.js";
import type { Logger } from "../observability/logger.js";
import { liveKitFailures } from "../observability/metrics.js";

// Reconciliation: at start and every ROLLCALL_LIVEKIT_RECONCILE_SECONDS the
// bridge lists LiveKit's rooms and participants (RoomServiceClient) and
// repairs what missed webhooks left wrong, in the rooms LiveKit reported:
// a LiveKit room without its rollcall room gets one; a participant present
// in LiveKit but not in rollcall joins; one present in rollcall but gone
// from LiveKit is disconnected (left); a followed room LiveKit no longer has
// is completed. Rooms LiveKit never reported (created through rollcall's
// API and never used in LiveKit) are left alone. Every repair is logged and
// counted.

export interface ReconcileStats {
  runs: number;
  failedRuns: number;
  roomsStarted: number;
  roomsFinished: number;
  joined: number;
  disconnected: number;
}

export class LiveKitReconciler {
  readonly stats: ReconcileStats = { runs: 0, failedRuns: 0, roomsStarted: 0, roomsFinished: 0, joined: 0, disconnected: 0 };
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly store: Store,
    private readonly client: RoomServiceClient,
    private readonly mirror: LiveKitMirror,
    private readonly participants: ParticipantOperations,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    const round = () => {
      this.current = this.reconcile()
        .catch((error: unknown) => {
          this.stats.failedRuns++;
          liveKitFailures.labels("reconcile").inc();
          this.log.warn(
            `reconciliation failed, trying again in ${this.intervalMs} ms: ${error instanceof Error ? error.message : String(error)}`,
          );
        })
        .finally(() => {
          this.current = undefined;
          if (!this.stopped) this.timer = setTimeout(round, this.intervalMs);
        });
    };
    round();
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.current;
  }

  // One pass over LiveKit's rooms and the rooms the bridge follows.
  async reconcile(): Promise<void> {
    const accountSid = this.mirror.accountSid;
    const followed = await this.store.liveKitRooms(accountSid);
    const live = await this.client.listRooms();
    const liveSids = new Set(live.map((room) => room.sid));
    for (const room of live) {
      if (this.stopped) return;
      if (room.sid === "" || room.name === "") continue;
      await this.mirror.serialized(room.sid, () => this.reconcileRoom({ sid: room.sid, name: room.name }, followed.has(room.sid)));
    }
    for (const liveKitRoomSid of followed.keys()) {
      if (this.stopped || liveSids.has(liveKitRoomSid)) continue;
      const name = (await this.store.getRoom(accountSid, followed.get(liveKitRoomSid)!))?.uniqueName ?? "";
      const outcome = await this.mirror.serialized(liveKitRoomSid, () => this.mirror.roomFinished({ sid: liveKitRoomSid, name }));
      if (outcome === "applied")
        this.repaired("roomsFinished", `completed room ${followed.get(liveKitRoomSid)} (LiveKit room ${liveKitRoomSid} is gone)`);
      else await this.store.updateLiveKitRoom(accountSid, liveKitRoomSid, { finished: true }, liveKitStateTtlMs);
    }
    this.stats.runs++;
  }

  private async reconcileRoom(room: { sid: string; name: string }, wasFollowed: boolean): Promise<void> {
    const accountSid = this.mirror.accountSid;
    const before = await this.mirror.state(room.sid);
    if (before?.finished) return;
    // rollcall's side first: whoever joins after this snapshot is in
    // LiveKit's listing too, so it is never taken for gone.
    const roomSid = await this.mirror.roomStarted(room);
    if (roomSid === undefined) return;
    if (!wasFollowed) this.repaired("roomsStarted", `mirrored LiveKit room ${room.sid} (${JSON.stringify(room.name)}) as room ${roomSid}`);
    const present = [];
    for await (const page of this.participants.pages(accountSid, { room: roomSid, status: "connected", pageSize: 1000 }))
      present.push(...page.participants);
    const inLiveKit = (await this.client.listParticipants(room.name)).filter(
      (p) => p.sid !== "" && p.identity !== "" && p.state !== ParticipantInfo_State.DISCONNECTED,
    );
    const state = await this.mirror.state(room.sid);
    const known = state?.participants ?? new Map<string, string>();
    // rollcall participant sid -> the LiveKit participant sid it mirrors
    const liveKitSidOf = new Map([...known].filter(([, sid]) => sid !== "").map(([liveKitSid, sid]) => [sid, liveKitSid]));
    const liveIdentities = new Set(inLiveKit.map((p) => p.identity));
    // Joins first: a room left empty in between would end (ad-hoc rooms end with their last participant).
    for (const participant of inLiveKit) {
      const mapped = known.get(participant.sid);
      const current = present.find((p) => p.identity === participant.identity);
      if (current !== undefined && mapped === current.sid) continue;
      if (current !== undefined && mapped === undefined && !liveKitSidOf.has(current.sid)) {
        // Present, and no other LiveKit connection is known for it: adopt it.
        await this.store.updateLiveKitRoom(accountSid, room.sid, { participants: { [participant.sid]: current.sid } }, liveKitStateTtlMs);
        continue;
      }
      // LiveKit lists it, newer than any webhook the bridge saw: join it.
      const outcome = await this.mirror
        .participantJoined(room, { sid: participant.sid, identity: participant.identity }, true)
        .catch((error: unknown) => {
          this.log.warn(
            `reconciliation could not join ${JSON.stringify(participant.identity)}: ${error instanceof Error ? error.message : String(error)}`,
          );
          return "ignored" as const;
        });
      if (outcome === "applied")
        this.repaired(
          "joined",
          `joined ${JSON.stringify(participant.identity)} (LiveKit ${participant.sid}) to room ${roomSid}: present in LiveKit`,
        );
    }
    for (const participant of present) {
      if (liveIdentities.has(participant.identity)) continue;
      if (await this.mirror.disconnectGone(room, roomSid, participant.sid, liveKitSidOf.get(participant.sid))) {
        this.repaired(
          "disconnected",
          `disconnected ${JSON.stringify(participant.identity)} (${participant.sid}) of room ${roomSid}: gone from LiveKit`,
        );
      }
    }
  }

  private repaired(kind: Exclude<keyof ReconcileStats, "runs" | "failedRuns">, what: string): void {
    this.stats[kind]++;
    this.log.info(`reconciliation ${what}`);
  }
}
