import { Code, ConnectError } from "@connectrpc/connect";
import { useState } from "preact/hooks";
import { clientsFor } from "./clients.js";
import { saveCredentials, type Credentials } from "./session.js";

// Signing in checks the credentials with one small call before keeping them.
// The inputs have no `name`: even a form submitted without this script
// could not put the secret in a URL.
export function SignIn({ notice, onSignedIn }: { notice: string | undefined; onSignedIn: (credentials: Credentials) => void }) {
  const [user, setUser] = useState("");
  const [secret, setSecret] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);

  async function submit(event: Event) {
    event.preventDefault();
    const credentials = { user: user.trim(), secret };
    setBusy(true);
    setError(undefined);
    try {
      await clientsFor(credentials).rooms.list({ pageSize: 1 });
      saveCredentials(credentials);
      onSignedIn(credentials);
    } catch (failure) {
      const connectError = ConnectError.from(failure);
      setError(
        connectError.code === Code.Unauthenticated
          ? "Sign-in failed: the credentials were not accepted. Check the SID and its token or secret."
          : `Sign-in failed: rollcall could not be reached (${connectError.rawMessage}).`,
      );
      setBusy(false);
    }
  }

  return (
    <section class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title" tabIndex={-1}>
        Sign in
      </h1>
      <p>Use an account SID and its auth token, or an API key SID and its secret. They are kept in this tab only, until you sign out.</p>
      {notice === undefined ? null : <p class="notice">{notice}</p>}
      <form method="post" onSubmit={(event) => void submit(event)}>
        <label for="sign-in-user">Account SID or API key SID</label>
        <input
          id="sign-in-user"
          type="text"
          autocomplete="username"
          spellcheck={false}
          autocapitalize="off"
          required
          value={user}
          onInput={(event) => setUser(event.currentTarget.value)}
        />
        <label for="sign-in-secret">Auth token or secret</label>
        <input
          id="sign-in-secret"
          type="password"
          autocomplete="current-password"
          required
          value={secret}
          onInput={(event) => setSecret(event.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <div role="alert" class="form-error">
          {error}
        </div>
      </form>
    </section>
  );
}
