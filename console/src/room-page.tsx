import { Code, ConnectError } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import { DisconnectReason, EventType, type Event } from "../../gen/rollcall/v1/event_pb.js";
import { ParticipantStatus, type Participant } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import type { Clients } from "./clients.js";
import { clampPage, ConfirmDialog, LinkBanner, Pager, pageSize } from "./components.js";
import {
  durationBetween,
  eventTypeLabel,
  formatDateTime,
  formatTime,
  isoOf,
  participantStatusLabel,
  reasonLabel,
  roomStatusLabel,
} from "./format.js";
import { useLiveModel, useNow } from "./hooks.js";
import { RoomModel } from "./models.js";

type Pending = { kind: "kick"; participant: Participant } | { kind: "complete" };

function HistoryItem({ event }: { event: Event }) {
  const reason =
    event.type === EventType.PARTICIPANT_DISCONNECTED && event.reason !== DisconnectReason.UNSPECIFIED ? reasonLabel(event.reason) : "";
  return (
    <li>
      <time dateTime={isoOf(event.time)}>{formatTime(event.time)}</time> <span class="event-type">{eventTypeLabel(event.type)}</span>
      {event.participant === undefined ? null : <span class="identity"> {event.participant.identity}</span>}
      {reason === "" ? null : <span class="reason"> — {reason}</span>}
    </li>
  );
}

export function RoomPage({ clients, roomSid, onUnauthenticated }: { clients: Clients; roomSid: string; onUnauthenticated: () => void }) {
  const model = useLiveModel((changed) => new RoomModel(clients, roomSid, changed), [clients, roomSid]);
  const now = useNow();
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(0);
  const [pending, setPending] = useState<Pending | undefined>(undefined);
  const [actionError, setActionError] = useState<string | undefined>(undefined);
  const failure = model.failure;
  useEffect(() => {
    if (failure?.code === Code.Unauthenticated) onUnauthenticated();
  }, [failure, onUnauthenticated]);

  const room = model.room;
  if (failure?.code === Code.NotFound) {
    return (
      <>
        <h1 id="page-title" tabIndex={-1}>
          Room not found
        </h1>
        <p>
          This account has no room <code>{roomSid}</code>. <a href="#/">Back to the rooms</a>
        </p>
      </>
    );
  }
  if (!model.loaded || room === undefined) {
    return (
      <>
        <h1 id="page-title" tabIndex={-1}>
          Room
        </h1>
        <LinkBanner link={model.link} />
        <p>Loading the room…</p>
      </>
    );
  }

  const inProgress = room.status === RoomStatus.IN_PROGRESS;
  const wanted = filter.trim().toLowerCase();
  const all = [...model.participants.values()];
  const shown = wanted === "" ? all : all.filter((participant) => participant.identity.toLowerCase().includes(wanted));
  const shownPage = clampPage(page, shown.length);

  async function act(what: Pending) {
    setPending(undefined);
    setActionError(undefined);
    try {
      if (what.kind === "kick") {
        await clients.participants.update({ room: roomSid, participant: what.participant.sid, status: ParticipantStatus.DISCONNECTED });
      } else {
        await clients.rooms.update({ room: roomSid, status: RoomStatus.COMPLETED });
      }
    } catch (error) {
      const failed = ConnectError.from(error);
      if (failed.code === Code.Unauthenticated) return onUnauthenticated();
      setActionError(
        what.kind === "kick"
          ? `Could not kick ${what.participant.identity}: ${failed.rawMessage}`
          : `Could not complete the room: ${failed.rawMessage}`,
      );
    }
  }

  return (
    <>
      <p class="breadcrumb">
        <a href="#/">Rooms</a> /
      </p>
      <h1 id="page-title" tabIndex={-1}>
        <span class="room-name">{room.uniqueName}</span>
      </h1>
      <LinkBanner link={model.link} />
      <dl class="facts">
        <div>
          <dt>Status</dt>
          <dd class={`status status-${roomStatusLabel(room.status).replace(" ", "-")}`}>{roomStatusLabel(room.status)}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>
            <time dateTime={isoOf(room.dateCreated)}>{formatDateTime(room.dateCreated)}</time>
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{durationBetween(room.dateCreated, room.endTime, now)}</dd>
        </div>
        {inProgress ? (
          <div>
            <dt>Participants</dt>
            <dd>
              {model.participants.size} of {room.maxParticipants}
            </dd>
          </div>
        ) : (
          <div>
            <dt>Ended</dt>
            <dd>
              <time dateTime={isoOf(room.endTime)}>{formatDateTime(room.endTime)}</time>
            </dd>
          </div>
        )}
        <div>
          <dt>Type</dt>
          <dd>{room.type}</dd>
        </div>
        <div class="fact-wide">
          <dt>Sid</dt>
          <dd>
            <code>{room.sid}</code>
          </dd>
        </div>
      </dl>
      {inProgress ? (
        <p>
          <button type="button" class="danger" onClick={() => setPending({ kind: "complete" })}>
            Complete room
          </button>
        </p>
      ) : null}
      <div role="alert" class="form-error">
        {actionError}
      </div>

      <section aria-labelledby="participants-title">
        <h2 id="participants-title">
          {inProgress ? "Participants" : "Participants who were there"} ({shown.length})
        </h2>
        <div class="filter">
          <label for="participant-filter">Filter by identity</label>
          <input
            id="participant-filter"
            type="search"
            autocomplete="off"
            value={filter}
            onInput={(event) => {
              setFilter(event.currentTarget.value);
              setPage(0);
            }}
          />
        </div>
        {shown.length === 0 ? (
          <p>
            {wanted !== ""
              ? "No participant has a matching identity."
              : inProgress
                ? "Nobody is in this room."
                : "Nobody was in this room."}
          </p>
        ) : (
          <>
            <div class="table-scroll">
              <table class="participants">
                <thead>
                  <tr>
                    <th scope="col">Identity</th>
                    <th scope="col">Status</th>
                    <th scope="col">Joined</th>
                    <th scope="col">Duration</th>
                    <th scope="col" class="wide-only">
                      Sid
                    </th>
                    {inProgress ? <th scope="col">Action</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {shown.slice(shownPage * pageSize, (shownPage + 1) * pageSize).map((participant) => (
                    <tr key={participant.sid}>
                      <th scope="row" class="identity">
                        {participant.identity}
                      </th>
                      <td>{participantStatusLabel(participant.status)}</td>
                      <td>
                        <time dateTime={isoOf(participant.startTime)}>{formatTime(participant.startTime)}</time>
                      </td>
                      <td>{durationBetween(participant.startTime, participant.endTime, now)}</td>
                      <td class="wide-only">
                        <code>{participant.sid}</code>
                      </td>
                      {inProgress ? (
                        <td>
                          <button
                            type="button"
                            class="danger"
                            aria-label={`Kick ${participant.identity}`}
                            onClick={() => setPending({ kind: "kick", participant })}
                          >
                            Kick
                          </button>
                        </td>
                      ) : null}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager label="Participants" page={shownPage} total={shown.length} onPage={setPage} />
          </>
        )}
      </section>

      <section aria-labelledby="history-title">
        <h2 id="history-title">Recent events</h2>
        {model.history.length === 0 ? (
          <p>No event since this page opened.</p>
        ) : (
          <ol class="history" reversed>
            {model.history.map((event) => (
              <HistoryItem key={event.cursor} event={event} />
            ))}
          </ol>
        )}
      </section>

      {pending === undefined ? null : pending.kind === "kick" ? (
        <ConfirmDialog
          title="Kick participant?"
          message={
            <>
              Disconnect <strong class="identity">{pending.participant.identity}</strong> from <strong>{room.uniqueName}</strong>?
            </>
          }
          confirmLabel="Kick"
          onConfirm={() => void act(pending)}
          onCancel={() => setPending(undefined)}
        />
      ) : (
        <ConfirmDialog
          title="Complete room?"
          message={
            <>
              Complete <strong>{room.uniqueName}</strong>? Everyone in it is disconnected and its name becomes free.
            </>
          }
          confirmLabel="Complete room"
          onConfirm={() => void act(pending)}
          onCancel={() => setPending(undefined)}
        />
      )}
    </>
  );
}
