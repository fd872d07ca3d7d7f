import { Code } from "@connectrpc/connect";
import { useEffect, useState } from "preact/hooks";
import type { Room } from "../../gen/rollcall/v1/room_pb.js";
import type { Clients } from "./clients.js";
import { clampPage, LinkBanner, Pager, pageSize } from "./components.js";
import { durationBetween, formatDateTime, isoOf, millisOf } from "./format.js";
import { useLiveModel, useNow } from "./hooks.js";
import { RoomsModel } from "./models.js";

function matches(room: Room, filter: string): boolean {
  return filter === "" || room.uniqueName.toLowerCase().includes(filter);
}

function RoomLink({ room }: { room: Room }) {
  return <a href={`#/rooms/${room.sid}`}>{room.uniqueName}</a>;
}

export function RoomsPage({ clients, onUnauthenticated }: { clients: Clients; onUnauthenticated: () => void }) {
  const model = useLiveModel((changed) => new RoomsModel(clients, changed), [clients]);
  const now = useNow();
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(0);
  const [completedPage, setCompletedPage] = useState(0);
  const failure = model.failure;
  useEffect(() => {
    if (failure?.code === Code.Unauthenticated) onUnauthenticated();
  }, [failure, onUnauthenticated]);

  const wanted = filter.trim().toLowerCase();
  const inProgress = [...model.inProgress.values()]
    .filter((room) => matches(room, wanted))
    .sort((a, b) => (millisOf(b.dateCreated) ?? 0) - (millisOf(a.dateCreated) ?? 0));
  const completed = model.recentlyCompleted(now).filter((room) => matches(room, wanted));
  const shownPage = clampPage(page, inProgress.length);
  const shownCompletedPage = clampPage(completedPage, completed.length);

  return (
    <>
      <h1 id="page-title" tabIndex={-1}>
        Rooms
      </h1>
      <LinkBanner link={model.link} />
      {failure === undefined || failure.code === Code.Unauthenticated ? null : (
        <p class="form-error" role="alert">
          Could not load the rooms: {failure.rawMessage}
        </p>
      )}
      <div class="filter">
        <label for="room-filter">Filter by name</label>
        <input
          id="room-filter"
          type="search"
          autocomplete="off"
          value={filter}
          onInput={(event) => {
            setFilter(event.currentTarget.value);
            setPage(0);
            setCompletedPage(0);
          }}
        />
      </div>
      <section aria-labelledby="in-progress-title">
        <h2 id="in-progress-title">In progress ({model.loaded ? inProgress.length : "loading"})</h2>
        {!model.loaded ? (
          <p>Loading rooms…</p>
        ) : inProgress.length === 0 ? (
          <p>{wanted === "" ? "No room is in progress." : "No room in progress has a matching name."}</p>
        ) : (
          <>
            <div class="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Participants</th>
                    <th scope="col">Started</th>
                    <th scope="col">Duration</th>
                    <th scope="col" class="wide-only">
                      Sid
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {inProgress.slice(shownPage * pageSize, (shownPage + 1) * pageSize).map((room) => (
                    <tr key={room.sid}>
                      <th scope="row">
                        <RoomLink room={room} />
                      </th>
                      <td class="number">{model.presentCount(room.sid)}</td>
                      <td>
                        <time dateTime={isoOf(room.dateCreated)}>{formatDateTime(room.dateCreated)}</time>
                      </td>
                      <td>{durationBetween(room.dateCreated, undefined, now)}</td>
                      <td class="wide-only">
                        <code>{room.sid}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager label="Rooms in progress" page={shownPage} total={inProgress.length} onPage={setPage} />
          </>
        )}
      </section>
      <section aria-labelledby="completed-title">
        <h2 id="completed-title">Completed in the last day ({model.loaded ? completed.length : "loading"})</h2>
        {!model.loaded ? null : completed.length === 0 ? (
          <p>{wanted === "" ? "No room completed in the last day." : "No room completed in the last day has a matching name."}</p>
        ) : (
          <>
            <div class="table-scroll">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Started</th>
                    <th scope="col">Ended</th>
                    <th scope="col">Duration</th>
                    <th scope="col" class="wide-only">
                      Sid
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {completed.slice(shownCompletedPage * pageSize, (shownCompletedPage + 1) * pageSize).map((room) => (
                    <tr key={room.sid}>
                      <th scope="row">
                        <RoomLink room={room} />
                      </th>
                      <td>
                        <time dateTime={isoOf(room.dateCreated)}>{formatDateTime(room.dateCreated)}</time>
                      </td>
                      <td>
                        <time dateTime={isoOf(room.endTime)}>{formatDateTime(room.endTime)}</time>
                      </td>
                      <td>{durationBetween(room.dateCreated, room.endTime, now)}</td>
                      <td class="wide-only">
                        <code>{room.sid}</code>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager label="Completed rooms" page={shownCompletedPage} total={completed.length} onPage={setCompletedPage} />
          </>
        )}
      </section>
    </>
  );
}
