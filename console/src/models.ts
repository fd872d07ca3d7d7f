import { ConnectError, Code } from "@connectrpc/connect";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { EventType, type Event, type EventServiceWatchResponse } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantStatus, type Participant } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomStatus, type Room } from "../../gen/rollcall/v1/room_pb.js";
import type { Clients } from "./clients.js";
import { follow, type LinkState } from "./follow.js";
import { millisOf } from "./format.js";

// The state the pages show, kept up to date by Watch. A model calls
// `changed` after every change; the page decides when to render.

export interface Link {
  state: LinkState;
  detail: string;
}

const day = 24 * 3_600_000;

async function retrying<T>(signal: AbortSignal, attempt: () => Promise<T>, onFailure: (error: ConnectError) => void): Promise<T> {
  for (let failures = 0; ; failures++) {
    try {
      return await attempt();
    } catch (error) {
      if (signal.aborted) throw error;
      const failure = ConnectError.from(error);
      if (failure.code === Code.Unauthenticated) throw failure;
      onFailure(failure);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 200 * 2 ** failures)));
    }
  }
}

// Every room of the account: in-progress rooms with who is present in each,
// and the rooms completed in the last day.
export class RoomsModel {
  readonly inProgress = new Map<string, Room>();
  readonly completed = new Map<string, Room>();
  // Room sid -> sids of its present participants. Sets, not counts: an event
  // replayed over a listing that already saw it changes nothing.
  readonly present = new Map<string, Set<string>>();
  loaded = false;
  link: Link = { state: "live", detail: "" };
  failure: ConnectError | undefined;
  // Events received while the listing runs, applied once it is done.
  private pending: Event[] | undefined;
  private listingNeeded = false;

  constructor(
    private readonly clients: Clients,
    private readonly changed: () => void,
  ) {}

  // The account's Watch starts from now; its first message starts the
  // listing, and the events that arrive meanwhile wait for it.
  run(signal: AbortSignal): Promise<void> {
    return follow(
      this.clients,
      { room: "" },
      {
        load: () => {
          this.listingNeeded = true;
          return Promise.resolve("");
        },
        message: (response, first) => this.receive(response, first, signal),
        state: (state, detail) => {
          this.link = { state, detail };
          this.changed();
        },
        ended: () => undefined,
        fatal: (error) => {
          this.failure = error;
          this.changed();
        },
      },
      signal,
    );
  }

  presentCount(roomSid: string): number {
    return this.present.get(roomSid)?.size ?? 0;
  }

  private receive(response: EventServiceWatchResponse, first: boolean, signal: AbortSignal): void {
    if (first && this.listingNeeded) {
      this.listingNeeded = false;
      this.pending = [];
      this.list(signal).then(
        () => {
          const pending = this.pending ?? [];
          this.pending = undefined;
          for (const event of pending) this.apply(event);
          this.loaded = true;
          this.changed();
        },
        (error: unknown) => {
          if (signal.aborted) return;
          this.failure = ConnectError.from(error);
          this.changed();
        },
      );
    }
    if (this.pending !== undefined) {
      this.pending.push(...response.events);
      return;
    }
    for (const event of response.events) this.apply(event);
    if (response.events.length > 0) this.changed();
  }

  private async list(signal: AbortSignal): Promise<void> {
    let failed = false;
    const onFailure = (failure: ConnectError) => {
      failed = true;
      this.link = { state: "reconnecting", detail: failure.rawMessage };
      this.changed();
    };
    const inProgress: Room[] = [];
    const completed: Room[] = [];
    await retrying(
      signal,
      async () => {
        inProgress.length = 0;
        completed.length = 0;
        for (let token = "", more = true; more;) {
          const page = await this.clients.rooms.list({ status: RoomStatus.IN_PROGRESS, pageSize: 1000, pageToken: token }, { signal });
          inProgress.push(...page.rooms);
          token = page.nextPageToken;
          more = token !== "";
        }
        // Rooms that ended in the last day; a room running longer than a
        // day before it ended is not looked for.
        const since = timestampFromDate(new Date(Date.now() - 2 * day));
        for (let token = "", pages = 0, more = true; more && pages < 10; pages++) {
          const page = await this.clients.rooms.list(
            { status: RoomStatus.COMPLETED, dateCreatedAfter: since, pageSize: 1000, pageToken: token },
            { signal },
          );
          completed.push(...page.rooms);
          token = page.nextPageToken;
          more = token !== "";
        }
      },
      onFailure,
    );
    const present = new Map<string, Set<string>>();
    const queue = [...inProgress];
    const worker = async () => {
      for (let room = queue.shift(); room !== undefined; room = queue.shift()) {
        const sid = room.sid;
        present.set(sid, await retrying(signal, () => this.presentIn(sid, signal), onFailure));
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    this.inProgress.clear();
    this.completed.clear();
    this.present.clear();
    for (const room of inProgress) this.inProgress.set(room.sid, room);
    for (const room of completed) this.completed.set(room.sid, room);
    for (const [sid, sids] of present) this.present.set(sid, sids);
    if (failed) this.link = { state: "live", detail: "" };
  }

  private async presentIn(roomSid: string, signal: AbortSignal): Promise<Set<string>> {
    const sids = new Set<string>();
    try {
      for await (const page of this.clients.participants.list(
        { room: roomSid, status: ParticipantStatus.CONNECTED, pageSize: 1000 },
        { signal },
      )) {
        for (const participant of page.participants) sids.add(participant.sid);
      }
    } catch (error) {
      // A room that completed meanwhile: its events say so.
      const code = ConnectError.from(error).code;
      if (code !== Code.NotFound && code !== Code.FailedPrecondition) throw error;
    }
    return sids;
  }

  private apply(event: Event): void {
    const room = event.room;
    if (room !== undefined) {
      if (room.status === RoomStatus.IN_PROGRESS) {
        this.inProgress.set(room.sid, room);
        if (!this.present.has(room.sid)) this.present.set(room.sid, new Set());
      } else {
        this.inProgress.delete(room.sid);
        this.present.delete(room.sid);
        this.completed.set(room.sid, room);
      }
    }
    const participant = event.participant;
    if (participant === undefined || room?.status !== RoomStatus.IN_PROGRESS) return;
    const sids = this.present.get(event.roomSid);
    if (event.type === EventType.PARTICIPANT_CONNECTED) sids?.add(participant.sid);
    if (event.type === EventType.PARTICIPANT_DISCONNECTED) sids?.delete(participant.sid);
  }

  // Completed rooms that ended in the last day, newest first.
  recentlyCompleted(now: number): Room[] {
    return [...this.completed.values()]
      .filter((room) => (millisOf(room.endTime) ?? 0) >= now - day)
      .sort((a, b) => (millisOf(b.endTime) ?? 0) - (millisOf(a.endTime) ?? 0));
  }
}

export const historyLength = 200;

// One room: its participants (present ones while it is in progress, those
// who were there once it is completed) and the events seen since the page
// opened.
export class RoomModel {
  room: Room | undefined;
  // Insertion order is join order: the listing comes by start time and later
  // joins are added at the end.
  participants = new Map<string, Participant>();
  // Newest first.
  history: Event[] = [];
  loaded = false;
  link: Link = { state: "live", detail: "" };
  failure: ConnectError | undefined;

  constructor(
    private readonly clients: Clients,
    readonly roomSid: string,
    private readonly changed: () => void,
  ) {}

  run(signal: AbortSignal): Promise<void> {
    return follow(
      this.clients,
      { room: this.roomSid },
      {
        load: () => this.load(signal),
        message: (response) => {
          for (const event of response.events) this.apply(event);
          if (response.events.length > 0) this.changed();
        },
        state: (state, detail) => {
          this.link = { state, detail };
          this.changed();
        },
        // The room ended: show who was there.
        ended: () => {
          void this.load(signal).catch(() => undefined);
        },
        fatal: (error) => {
          this.failure = error;
          this.changed();
        },
      },
      signal,
    );
  }

  // The room and its participants, and the cursor that continues exactly
  // after what the listing saw.
  private async load(signal: AbortSignal): Promise<string | null> {
    const { room } = await this.clients.rooms.get({ room: this.roomSid }, { signal });
    const participants = new Map<string, Participant>();
    let cursor = "";
    for await (const page of this.clients.participants.list({ room: this.roomSid, pageSize: 1000 }, { signal })) {
      for (const participant of page.participants) participants.set(participant.sid, participant);
      cursor = page.watchCursor;
    }
    this.room = room;
    this.participants = participants;
    this.loaded = true;
    this.changed();
    return room?.status === RoomStatus.IN_PROGRESS ? cursor : null;
  }

  private apply(event: Event): void {
    if (event.room !== undefined) this.room = event.room;
    const participant = event.participant;
    if (participant !== undefined) {
      if (event.type === EventType.PARTICIPANT_CONNECTED) this.participants.set(participant.sid, participant);
      if (event.type === EventType.PARTICIPANT_DISCONNECTED) this.participants.delete(participant.sid);
      if (event.type === EventType.PARTICIPANT_ANONYMIZED && this.participants.has(participant.sid))
        this.participants.set(participant.sid, participant);
    }
    this.history.unshift(event);
    if (this.history.length > historyLength) this.history.length = historyLength;
  }
}
