import { expect } from "chai";
import { type ListParticipantsInput, ParticipantOperations } from "../../../src/operations/participants.js";
import { type CreateRoomInput, type ListRoomsInput, RoomOperations } from "../../../src/operations/rooms.js";
import {
  type ParticipantRecord,
  type ParticipantStatus,
  participantStatuses,
  type RoomRecord,
  type RoomStatus,
  roomStatuses,
} from "../../../src/domain/records.js";
import type { Cursor, Store } from "../../../src/store/store.js";
import { Random } from "../../support/random.js";
import type { TestClock } from "../../support/timed-store.js";
import { byCreated, byStart, canonical, check, comparePositions, expectSame, inWindow, isPresent, show } from "./checks.js";
import { inspectAccount, inspectRoom } from "./inspect.js";
import { disconnectAt, type Listing, Model, type ModelRoom, presentWith, type Walk } from "./model.js";
import { accept, attempt, expectRefused, type Prediction, refuse, succeeded } from "./outcomes.js";
import { Stats } from "./replay.js";
import {
  clockSteps,
  everything,
  fullCheckEvery,
  identities,
  maxParticipantsLimit,
  participantSidForm,
  roomNames,
  roomSidForm,
  sweepEvery,
  t0,
} from "./settings.js";

// The serial part: random steps, each predicted exactly by the model and
// checked against what the store holds afterwards.

export class SerialRun {
  readonly trace: string[] = [];
  readonly stats = new Stats();
  private readonly model = new Model();
  private readonly roomOps: RoomOperations;
  private readonly participantOps: ParticipantOperations;
  private readonly accounts: string[];
  private readonly walks: Walk[] = [];
  private readonly times: number[] = [];
  private readonly touchedRooms = new Set<string>();
  private readonly touchedAccounts = new Set<string>();
  private readonly touchedNames = new Set<string>();
  private readonly touchedIdentities = new Set<string>();
  private time: number;
  private stepIndex = 0;

  // The store reads its wall clock from `clock`, which each step moves on.
  constructor(
    private readonly store: Store,
    private readonly rng: Random,
    private readonly clock: TestClock,
  ) {
    this.time = t0 + rng.int(1000);
    this.clock.now = this.time;
    this.roomOps = new RoomOperations(store, { maxParticipants: maxParticipantsLimit });
    this.participantOps = new ParticipantOperations(store, this.roomOps);
    this.accounts = [rng.sid("AC"), rng.sid("AC"), rng.sid("AC")];
  }

  async step(index: number): Promise<void> {
    this.stepIndex = index;
    this.time += this.rng.pick(clockSteps);
    this.clock.now = this.time;
    this.times.push(this.time);
    this.touchedRooms.clear();
    this.touchedAccounts.clear();
    this.touchedNames.clear();
    this.touchedIdentities.clear();
    const operation = this.rng.weighted<() => Promise<void>>([
      [30, () => this.join()],
      [12, () => this.kick()],
      [4, () => this.anonymize()],
      [6, () => this.createRoom()],
      [5, () => this.completeRoom()],
      [5, () => this.getRoom()],
      [8, () => this.getParticipant()],
      [12, () => this.list(this.participantListing(this.account()))],
      [7, () => this.list(this.roomListing(this.account()))],
      [8, () => this.continueWalk()],
    ]);
    await operation();
    const full = (index + 1) % fullCheckEvery === 0;
    const rooms = [...this.touchedRooms].map((sid) => this.model.get(sid));
    for (const room of rooms) this.touchedNames.add(room.record.uniqueName);
    const touchedIdentities = full ? undefined : [...this.touchedIdentities];
    await Promise.all([
      ...[...this.touchedAccounts].map((account) =>
        full ? this.compareAccount(account) : this.compareNames(account, [...this.touchedNames]),
      ),
      ...rooms.map((room) => this.compareRoom(room, touchedIdentities)),
    ]);
    if ((index + 1) % sweepEvery === 0) await this.sweep();
  }

  // Every account and every room against the model.
  async sweep(): Promise<void> {
    await Promise.all([
      ...this.accounts.map((account) => this.compareAccount(account)),
      ...this.model.all().map((room) => this.compareRoom(room)),
    ]);
  }

  private async compareAccount(account: string): Promise<void> {
    const listed = await inspectAccount(this.store, account);
    const rooms = this.model.roomsOf(account).map((r) => r.record);
    for (const status of roomStatuses) {
      expectSame(listed.get(status), rooms.filter((r) => r.status === status).sort(byCreated), () => `${status} rooms of ${account}`);
    }
  }

  // The in-progress room holding each name, in the directory and in the by-name index.
  private async compareNames(account: string, names: string[]): Promise<void> {
    await Promise.all(
      names.map(async (name) => {
        const [found, listed] = await Promise.all([
          this.store.findRoomByName(account, name),
          this.store.listRooms(account, { status: "in-progress", uniqueName: name, limit: everything }),
        ]);
        const holder = this.model.named(account, name)?.record;
        expectSame(found, holder, () => `in-progress room named ${show(name)} of ${account}`);
        expectSame(listed, holder === undefined ? [] : [holder], () => `in-progress rooms named ${show(name)} of ${account}`);
      }),
    );
  }

  // The room and its participants as the store has them, and the room in
  // each index of its account: listed under its status and nowhere else,
  // read through a window of the one millisecond it was created in.
  private async compareRoom(room: ModelRoom, identities?: readonly string[]): Promise<void> {
    const { sid, accountSid, dateCreated, uniqueName } = room.record;
    const window = { after: dateCreated, before: dateCreated + 1, limit: everything };
    const [snapshot, listed] = await Promise.all([
      inspectRoom(this.store, accountSid, sid, identities),
      Promise.all(
        roomStatuses.map((status) =>
          Promise.all([
            this.store.listRooms(accountSid, { status, ...window }),
            this.store.listRooms(accountSid, { status, uniqueName, ...window }),
          ]),
        ),
      ),
    ]);
    expectSame(snapshot.room, room.record, () => `room ${sid}`);
    for (const status of participantStatuses) {
      expectSame(
        snapshot.byStatus[status],
        room.participants.filter((p) => p.status === status).sort(byStart),
        () => `${status} participants of ${sid}`,
      );
    }
    const created = this.model
      .roomsOf(accountSid)
      .map((r) => r.record)
      .filter((r) => r.dateCreated === dateCreated)
      .sort(byCreated);
    roomStatuses.forEach((status, i) => {
      const [all, named] = listed[i]!;
      const expected = created.filter((r) => r.status === status);
      expectSame(all, expected, () => `${status} rooms created at ${dateCreated}`);
      expectSame(
        named,
        expected.filter((r) => r.uniqueName === uniqueName),
        () => `${status} rooms named ${show(uniqueName)} created at ${dateCreated}`,
      );
    });
  }

  private note(line: string): void {
    this.trace.push(`step ${this.stepIndex} at t0+${this.time - t0}: ${line}`);
    if (this.trace.length > 40) this.trace.shift();
  }

  // --- choices ---

  private account(): string {
    const account = this.rng.weighted([
      [8, this.accounts[0]!],
      [2, this.accounts[1]!],
      [1, this.accounts[2]!],
    ]);
    this.touchedAccounts.add(account);
    return account;
  }

  // Mostly among the newest, so that recent rooms see most of the traffic.
  private recent<T>(items: readonly T[]): T {
    return this.rng.chance(0.7) ? this.rng.pick(items.slice(-8)) : this.rng.pick(items);
  }

  // Sids are accepted in either case.
  private sidText(sid: string): string {
    return this.rng.chance(0.1) ? sid.slice(0, 2) + sid.slice(2).toUpperCase() : sid;
  }

  private ownRoomSid(account: string): string {
    const own = this.model.roomsOf(account);
    return own.length > 0 ? this.sidText(this.recent(own).record.sid) : this.rng.pick(roomNames);
  }

  private foreignRoomSid(account: string): string {
    const foreign = this.model.all().filter((r) => r.record.accountSid !== account);
    return foreign.length > 0 ? this.sidText(this.rng.pick(foreign).record.sid) : this.rng.sid("RM");
  }

  private roomRef(account: string): string {
    return this.rng.weighted<() => string>([
      [45, () => this.ownRoomSid(account)],
      [38, () => this.rng.pick(roomNames)],
      [8, () => this.foreignRoomSid(account)],
      [6, () => this.rng.sid("RM")],
      [3, () => ""],
    ])();
  }

  private participantRef(account: string, roomRef: string): string {
    const sid = canonical(roomRef, roomSidForm);
    const room = sid !== undefined ? this.model.room(account, sid) : this.model.named(account, roomRef);
    const inRoom = room?.participants ?? [];
    const elsewhere = this.model.all().filter((r) => r.participants.length > 0);
    return this.rng.weighted<() => string>([
      [40, () => (inRoom.length > 0 ? this.sidText(this.recent(inRoom).sid) : this.rng.pick(identities))],
      [37, () => this.rng.pick(identities)],
      [10, () => (elsewhere.length > 0 ? this.rng.pick(this.rng.pick(elsewhere).participants).sid : this.rng.sid("PA"))],
      [8, () => this.rng.sid("PA")],
      [5, () => ""],
    ])();
  }

  // A time near the start times of recent steps, on either side of one.
  private timeBound(): number | undefined {
    return this.rng.weighted<() => number | undefined>([
      [70, () => undefined],
      [25, () => this.recent(this.times.slice(-50)) + this.rng.pick([-1, 0, 0, 1])],
      [5, () => this.rng.pick([0, t0, this.time + 1])],
    ])();
  }

  // --- what the operations must do, from the model ---

  // rooms.get: a room by sid (any status), or the in-progress room holding a name.
  private predictRoom(account: string, ref: string): Prediction<ModelRoom> {
    if (ref === "") return refuse("invalid_parameter");
    const sid = canonical(ref, roomSidForm);
    if (sid === undefined) this.touchedNames.add(ref);
    const room = sid !== undefined ? this.model.room(account, sid) : this.model.named(account, ref);
    if (room === undefined) return refuse("room_not_found");
    this.touchedRooms.add(room.record.sid);
    return accept(room);
  }

  // rooms.sidOf: a sid is taken as given, whether or not the room exists.
  private predictRoomSid(account: string, ref: string): Prediction<string> {
    const sid = canonical(ref, roomSidForm);
    if (sid !== undefined) return accept(sid);
    const room = this.predictRoom(account, ref);
    return room.ok ? accept(room.value.record.sid) : room;
  }

  // The participant named by sid (any status) or by the identity of a present one.
  private predictParticipant(account: string, roomRef: string, ref: string): Prediction<ParticipantRecord> {
    const roomSid = this.predictRoomSid(account, roomRef);
    if (!roomSid.ok) return roomSid;
    if (ref === "") return refuse("invalid_parameter");
    const room = this.model.room(account, roomSid.value);
    if (room === undefined) return refuse("participant_not_found");
    this.touchedRooms.add(room.record.sid);
    const sid = canonical(ref, participantSidForm);
    const found = sid !== undefined ? room.participants.find((p) => p.sid === sid) : presentWith(room, ref);
    return found === undefined ? refuse("participant_not_found") : accept(found);
  }

  // The room a join lands in; undefined for a new ad-hoc room.
  private predictJoin(account: string, target: string, identity: string): Prediction<ModelRoom | undefined> {
    let room: ModelRoom | undefined;
    if (canonical(target, roomSidForm) !== undefined) {
      const found = this.predictRoom(account, target);
      if (!found.ok) return found;
      room = found.value;
      if (room.record.status !== "in-progress") return refuse("room_completed");
    } else {
      if (target === "") return refuse("room_name_invalid");
      this.touchedNames.add(target);
      room = this.model.named(account, target);
      if (room !== undefined) this.touchedRooms.add(room.record.sid);
    }
    if (room !== undefined) {
      const present = room.participants.filter(isPresent).length;
      const others = present - (presentWith(room, identity) ? 1 : 0);
      if (others >= room.record.maxParticipants) return refuse("room_full");
    }
    return accept(room);
  }

  // A room as created through the API, or (adHoc) by a join: ad-hoc rooms
  // have no timeouts and end when their last participant leaves.
  private roomRecord(sid: string, account: string, input: CreateRoomInput, adHoc = false): RoomRecord {
    return {
      sid,
      accountSid: account,
      uniqueName: input.uniqueName || sid,
      status: "in-progress",
      type: input.type || "group",
      maxParticipants: input.maxParticipants ?? Math.min(50, maxParticipantsLimit),
      maxParticipantDuration: 14400,
      emptyRoomTimeout: adHoc ? 0 : 5,
      unusedRoomTimeout: adHoc ? 0 : 5,
      statusCallback: input.statusCallback ?? "",
      statusCallbackMethod: (input.statusCallbackMethod || "POST").toUpperCase(),
      dateCreated: this.time,
      sequence: this.model.countRoom(account),
      dateUpdated: this.time,
      endTime: undefined,
    };
  }

  private expectNewSid(sid: string, form: RegExp, known: boolean): void {
    expect(sid, "a new sid").to.match(form);
    expect(canonical(sid, form), "sids are issued in lowercase").to.equal(sid);
    expect(known, `new sid ${sid} already in use`).to.equal(false);
  }

  // --- operations ---

  private async join(): Promise<void> {
    const account = this.account();
    const target = this.rng.weighted<() => string>([
      [55, () => this.rng.pick(roomNames)],
      [33, () => this.ownRoomSid(account)],
      [5, () => this.foreignRoomSid(account)],
      [5, () => this.rng.sid("RM")],
      [2, () => ""],
    ])();
    const identity = this.rng.pick(identities);
    const predicted = this.predictJoin(account, target, identity);
    this.note(`join ${show(target)} as ${show(identity)} in ${account}`);
    const outcome = await attempt(() => this.participantOps.join(account, target, identity));
    this.stats.count("join", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const { participant, displaced } = succeeded(outcome);
    let room = predicted.value;
    if (room === undefined) {
      this.expectNewSid(participant.roomSid, roomSidForm, this.model.has(participant.roomSid));
      room = this.model.add(this.roomRecord(participant.roomSid, account, { uniqueName: target }, true));
    }
    const previous = presentWith(room, identity);
    // The room's log gains the displaced participant's disconnect, then this connect.
    if (previous !== undefined) room.events++;
    room.events++;
    this.touchedRooms.add(room.record.sid);
    this.expectNewSid(participant.sid, participantSidForm, this.model.participantSids.has(participant.sid));
    expect(participant).to.deep.equal({
      sid: participant.sid,
      roomSid: room.record.sid,
      accountSid: account,
      identity,
      status: "connected",
      startTime: this.time,
      dateUpdated: this.time,
      endTime: undefined,
      sequence: room.events,
    });
    this.touchedIdentities.add(identity);
    if (previous !== undefined) disconnectAt(previous, this.time);
    expect(displaced, "the participant the join displaced").to.deep.equal(previous && { ...previous });
    room.participants.push({ ...participant });
    this.model.participantSids.add(participant.sid);
  }

  private async kick(): Promise<void> {
    const account = this.account();
    const room = this.roomRef(account);
    const participant = this.participantRef(account, room);
    const status = this.rng.weighted<ParticipantStatus | undefined>([
      [93, "disconnected"],
      [3, "connected"],
      [2, "reconnecting"],
      [2, undefined],
    ]);
    const predicted = status !== "disconnected" ? refuse("status_invalid") : this.predictParticipant(account, room, participant);
    this.note(`update ${show(participant)} in ${show(room)} of ${account} to ${status}`);
    const outcome = await attempt(() => this.participantOps.update(account, room, participant, status));
    this.stats.count("kick", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    this.touchedIdentities.add(predicted.value.identity);
    const kickedFrom = this.model.get(predicted.value.roomSid);
    const wasPresent = isPresent(predicted.value);
    if (wasPresent) kickedFrom.events++;
    disconnectAt(predicted.value, this.time);
    expect(succeeded(outcome)).to.deep.equal(predicted.value);
    const { record } = kickedFrom;
    if (wasPresent && record.emptyRoomTimeout === 0 && record.status === "in-progress" && !kickedFrom.participants.some(isPresent)) {
      // An ad-hoc room ends with its last participant.
      record.status = "completed";
      record.endTime = Math.max(this.time, record.dateCreated);
      record.dateUpdated = record.endTime;
      kickedFrom.events++;
      this.touchedRooms.add(record.sid);
    }
  }

  private async anonymize(): Promise<void> {
    const account = this.account();
    const room = this.roomRef(account);
    const participant = this.participantRef(account, room);
    const predicted = this.predictParticipant(account, room, participant);
    this.note(`anonymize ${show(participant)} in ${show(room)} of ${account}`);
    const outcome = await attempt(() => this.participantOps.anonymize(account, room, participant));
    this.stats.count("anonymize", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const p = predicted.value;
    this.touchedIdentities.add(p.identity).add(p.sid);
    if (p.identity !== p.sid) {
      this.model.get(p.roomSid).events++;
      p.identity = p.sid;
      p.dateUpdated = Math.max(this.time, p.startTime);
    }
    expect(succeeded(outcome)).to.deep.equal(p);
  }

  private async getParticipant(): Promise<void> {
    const account = this.account();
    const room = this.roomRef(account);
    const participant = this.participantRef(account, room);
    const predicted = this.predictParticipant(account, room, participant);
    this.note(`get ${show(participant)} in ${show(room)} of ${account}`);
    const outcome = await attempt(() => this.participantOps.get(account, room, participant));
    this.stats.count("get participant", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    expect(succeeded(outcome)).to.deep.equal(predicted.value);
  }

  private async createRoom(): Promise<void> {
    const account = this.account();
    const input: CreateRoomInput = {
      uniqueName: this.rng.weighted<() => string | undefined>([
        [70, () => this.rng.pick(roomNames)],
        [25, () => undefined],
        [5, () => this.sidText(this.rng.sid("RM"))],
      ])(),
      maxParticipants: this.rng.weighted<() => number | undefined>([
        [30, () => undefined],
        [62, () => this.rng.between(1, maxParticipantsLimit)],
        [8, () => this.rng.pick([0, maxParticipantsLimit + 1])],
      ])(),
      type: this.rng.chance(0.2) ? this.rng.pick(["group-small", "peer-to-peer", "go"]) : undefined,
      ...(this.rng.chance(0.15) ? { statusCallback: "https://example.com/rooms", statusCallbackMethod: "get" } : {}),
    };
    if (input.uniqueName !== undefined) this.touchedNames.add(input.uniqueName);
    const max = input.maxParticipants;
    const predicted =
      input.uniqueName !== undefined && canonical(input.uniqueName, roomSidForm) !== undefined
        ? refuse("room_name_invalid")
        : max !== undefined && (max < 1 || max > maxParticipantsLimit)
          ? refuse("max_participants_out_of_range")
          : input.uniqueName !== undefined && this.model.named(account, input.uniqueName) !== undefined
            ? refuse("room_exists")
            : accept(undefined);
    this.note(`create room ${show(input)} in ${account}`);
    const outcome = await attempt(() => this.roomOps.create(account, input));
    this.stats.count("create room", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const created = succeeded(outcome);
    this.expectNewSid(created.sid, roomSidForm, this.model.has(created.sid));
    const room = this.model.add(this.roomRecord(created.sid, account, input));
    this.touchedRooms.add(created.sid);
    expect(created).to.deep.equal(room.record);
  }

  private async completeRoom(): Promise<void> {
    const account = this.account();
    const ref = this.roomRef(account);
    const status = this.rng.weighted<RoomStatus | undefined>([
      [93, "completed"],
      [3, "in-progress"],
      [2, "failed"],
      [2, undefined],
    ]);
    const predicted = status !== "completed" ? refuse("status_invalid") : this.predictRoom(account, ref);
    this.note(`update room ${show(ref)} of ${account} to ${status}`);
    const outcome = await attempt(() => this.roomOps.update(account, ref, status));
    this.stats.count("complete room", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    const room = predicted.value;
    if (room.record.status === "in-progress") {
      for (const p of room.participants.filter(isPresent)) {
        this.touchedIdentities.add(p.identity);
        disconnectAt(p, this.time);
        room.events++;
      }
      room.events++;
      room.record.status = "completed";
      room.record.endTime = Math.max(this.time, room.record.dateCreated);
      room.record.dateUpdated = room.record.endTime;
    }
    expect(succeeded(outcome)).to.deep.equal(room.record);
  }

  private async getRoom(): Promise<void> {
    const account = this.account();
    const ref = this.roomRef(account);
    const predicted = this.predictRoom(account, ref);
    this.note(`get room ${show(ref)} of ${account}`);
    const outcome = await attempt(() => this.roomOps.get(account, ref));
    this.stats.count("get room", outcome);
    if (!predicted.ok) return expectRefused(outcome, predicted.reason);
    expect(succeeded(outcome)).to.deep.equal(predicted.value.record);
  }

  // --- listings ---

  private participantListing(account: string): Listing<ParticipantRecord, ParticipantStatus> {
    const room = this.roomRef(account);
    const status = this.rng.pick([undefined, undefined, undefined, "connected", "disconnected", "reconnecting"] as const);
    const identity = this.rng.weighted<() => string | undefined>([
      [60, () => undefined],
      [30, () => this.rng.pick(identities)],
      [5, () => this.participantRef(account, room) || undefined],
      [5, () => ""],
    ])();
    const filters = { room, identity, dateCreatedAfter: this.timeBound(), dateCreatedBefore: this.timeBound() };
    let listedRoom: string | undefined;
    return {
      label: `list participants ${show({ ...filters, status })} of ${account}`,
      statuses: participantStatuses,
      status,
      fetch: async (input) => {
        const page = await this.participantOps.list(account, { ...filters, ...input } satisfies ListParticipantsInput);
        return { records: page.participants, token: page.nextPageToken };
      },
      expected: (asked) => {
        const found = this.predictRoom(account, room);
        if (!found.ok) return found;
        // A page token names the room listed: once another room holds the
        // name (the first ended), the listing cannot go on.
        listedRoom ??= found.value.record.sid;
        if (found.value.record.sid !== listedRoom) return refuse("invalid_parameter");
        const settled = asked ?? (found.value.record.status === "in-progress" ? "connected" : "disconnected");
        const records = found.value.participants
          .filter((p) => p.status === settled && (!identity || p.identity === identity) && inWindow(p.startTime, filters))
          .sort(byStart);
        return accept({ status: settled, records });
      },
      timeOf: (p) => p.startTime,
    };
  }

  private roomListing(account: string): Listing<RoomRecord, RoomStatus> {
    const status = this.rng.pick([undefined, undefined, "in-progress", "completed", "failed"] as const);
    const uniqueName = this.rng.weighted<() => string | undefined>([
      [65, () => undefined],
      [30, () => this.rng.pick(roomNames)],
      [5, () => ""],
    ])();
    const filters = { uniqueName, dateCreatedAfter: this.timeBound(), dateCreatedBefore: this.timeBound() };
    return {
      label: `list rooms ${show({ ...filters, status })} of ${account}`,
      statuses: roomStatuses,
      status,
      fetch: async (input) => {
        const page = await this.roomOps.list(account, { ...filters, ...input } satisfies ListRoomsInput);
        return { records: page.rooms, token: page.nextPageToken };
      },
      expected: (asked) => {
        const settled = asked ?? "in-progress";
        const records = this.model
          .roomsOf(account)
          .map((r) => r.record)
          .filter((r) => r.status === settled && (!uniqueName || r.uniqueName === uniqueName) && inWindow(r.dateCreated, filters))
          .sort(byCreated);
        return accept({ status: settled, records });
      },
      timeOf: (r) => r.dateCreated,
    };
  }

  // A listing page by page. Every page must be exactly the records the model
  // names after the previous page's last one, whatever changed in between,
  // with a page token exactly when more follow.
  private walk<R extends { sid: string; sequence: number }, S extends string>(listing: Listing<R, S>): Walk {
    let position: { token: string; status: S; cursor: Cursor } | undefined;
    const walk: Walk = {
      label: listing.label,
      listed: [],
      expected: undefined,
      next: async () => {
        const at = position;
        if (at !== undefined && this.rng.chance(0.1)) {
          // A token is tied to the status it was issued for, and must be one this server issued.
          const wrong = this.rng.chance(0.5)
            ? { status: this.rng.pick(listing.statuses.filter((s) => s !== at.status)), pageToken: at.token }
            : { status: undefined, pageToken: this.rng.pick(["bm90IGEgdG9rZW4", "x", at.token.slice(0, -2)]) };
          this.note(`${listing.label}: page with ${show(wrong)}`);
          const outcome = await attempt(() => listing.fetch({ ...wrong, pageSize: 3 }));
          this.stats.count("list with a bad token", outcome);
          expectRefused(outcome, "invalid_parameter");
        }
        const pageSize =
          at === undefined
            ? this.rng.weighted<() => number | undefined>([
                [90, () => this.rng.between(1, 7)],
                [5, () => undefined],
                [5, () => this.rng.pick([0, 1001])],
              ])()
            : this.rng.between(1, 7);
        // A resumed listing keeps its status from the token when none is asked for.
        const status = at === undefined || this.rng.chance(0.6) ? listing.status : undefined;
        const size = pageSize ?? 50;
        const settled = size < 1 || size > 1000 ? refuse("page_size_out_of_range") : listing.expected(status ?? at?.status);
        this.note(`${listing.label}: page of ${pageSize} as ${status}${at ? ` after ${show(at.cursor)}` : ""}`);
        const outcome = await attempt(() => listing.fetch({ status, pageSize, pageToken: at?.token }));
        this.stats.count(at === undefined ? "list (first page)" : "list (next page)", outcome);
        if (!settled.ok) {
          expectRefused(outcome, settled.reason);
          return "refused";
        }
        const all = settled.value.records;
        const rest =
          at === undefined
            ? all
            : all.filter((r) => comparePositions(listing.timeOf(r), r.sequence, at.cursor.time, at.cursor.sequence) > 0);
        const { records, token } = succeeded(outcome);
        expectSame(records, rest.slice(0, size), () => `page of ${size}`);
        expect(token !== "", `a page token exactly when more than ${size} of ${rest.length} records follow`).to.equal(rest.length > size);
        for (const r of records) check(!walk.listed.includes(r.sid), () => `${r.sid} listed twice`);
        walk.listed.push(...records.map((r) => r.sid));
        if (at === undefined) walk.expected = all.map((r) => r.sid);
        const last = records.at(-1);
        if (token === "" || last === undefined) return "done";
        position = { token, status: settled.value.status, cursor: { time: listing.timeOf(last), sequence: last.sequence, sid: last.sid } };
        return "more";
      },
    };
    return walk;
  }

  // Walks a listing to its end in this step, or sometimes only its first
  // page, to be resumed in a later step after other changes.
  private async list<R extends { sid: string; sequence: number }, S extends string>(listing: Listing<R, S>): Promise<void> {
    const walk = this.walk(listing);
    if (this.rng.chance(0.25)) {
      if ((await walk.next()) === "more") this.walks.push(walk);
      if (this.walks.length > 4) this.walks.shift();
      return;
    }
    let result: Awaited<ReturnType<Walk["next"]>>;
    do result = await walk.next();
    while (result === "more");
    if (result === "done") expectSame(walk.listed, walk.expected, () => `${walk.label}: all pages`);
  }

  private async continueWalk(): Promise<void> {
    if (this.walks.length === 0) return this.list(this.participantListing(this.account()));
    const index = this.rng.int(this.walks.length);
    if ((await this.walks[index]!.next()) !== "more") this.walks.splice(index, 1);
  }
}

// Concurrent batches.
