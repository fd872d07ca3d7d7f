import { render } from "preact";
import { useCallback, useEffect, useMemo, useState } from "preact/hooks";
import { clientsFor } from "./clients.js";
import { useHash } from "./hooks.js";
import { RoomPage } from "./room-page.js";
import { RoomsPage } from "./rooms-page.js";
import { clearCredentials, loadCredentials, type Credentials } from "./session.js";
import { SignIn } from "./sign-in.js";

const roomRoute = /^#\/rooms\/(RM[0-9a-f]{32})$/;

function App() {
  const [credentials, setCredentials] = useState<Credentials | undefined>(() => loadCredentials());
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const clients = useMemo(() => (credentials === undefined ? undefined : clientsFor(credentials)), [credentials]);
  const hash = useHash();
  const roomSid = roomRoute.exec(hash)?.[1];

  const signOut = useCallback(() => {
    clearCredentials();
    setCredentials(undefined);
    setNotice("You are signed out.");
  }, []);
  const refused = useCallback(() => {
    clearCredentials();
    setCredentials(undefined);
    setNotice("The credentials were not accepted any more: sign in again.");
  }, []);

  // A new page moves focus to its heading, so screen readers announce it.
  useEffect(() => {
    document.getElementById("page-title")?.focus({ preventScroll: true });
  }, [roomSid, clients]);
  useEffect(() => {
    document.title =
      clients === undefined ? "Sign in · rollcall console" : roomSid === undefined ? "Rooms · rollcall console" : "Room · rollcall console";
  }, [clients, roomSid]);

  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(event) => {
          // Not a route change: only the focus moves.
          event.preventDefault();
          document.getElementById("main")?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          rollcall console
        </a>
        {credentials === undefined ? null : (
          <div class="account">
            <span class="signed-in-as">
              Signed in as <code>{credentials.user}</code>
            </span>
            <button type="button" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        {clients === undefined ? (
          <SignIn
            notice={notice}
            onSignedIn={(signedIn) => {
              setNotice(undefined);
              setCredentials(signedIn);
            }}
          />
        ) : roomSid === undefined ? (
          <RoomsPage clients={clients} onUnauthenticated={refused} />
        ) : (
          <RoomPage key={roomSid} clients={clients} roomSid={roomSid} onUnauthenticated={refused} />
        )}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root !== null) render(<App />, root);
