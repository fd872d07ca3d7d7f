import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Link } from "./models.js";

// The state of the live updates, announced politely: a banner while the
// Watch stream is down or being resynchronised, and for a few seconds after
// it is back.
export function LinkBanner({ link }: { link: Link }) {
  const [recovered, setRecovered] = useState(false);
  const previous = useRef(link.state);
  useEffect(() => {
    const was = previous.current;
    previous.current = link.state;
    if (link.state === "live" && was !== "live") {
      setRecovered(true);
      const timer = setTimeout(() => setRecovered(false), 5000);
      return () => clearTimeout(timer);
    }
    if (link.state !== "live") setRecovered(false);
    return undefined;
  }, [link.state]);
  let banner: ComponentChildren = null;
  if (link.state === "reconnecting") {
    banner = (
      <p class="banner banner-warning">
        Live updates interrupted: reconnecting to rollcall…
        {link.detail === "" ? null : <span class="banner-detail"> ({link.detail})</span>}
      </p>
    );
  } else if (link.state === "resyncing") {
    banner = <p class="banner banner-warning">Live updates fell too far behind: reloading the list and watching again…</p>;
  } else if (recovered) {
    banner = <p class="banner banner-ok">Reconnected: live updates resumed.</p>;
  }
  return (
    <div class="banner-slot" role="status" aria-live="polite">
      {banner}
    </div>
  );
}

export interface ConfirmProps {
  title: string;
  message: ComponentChildren;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
}

// A modal confirmation: the native <dialog> keeps focus inside, Escape
// cancels, and focus goes back where it was when the dialog closes.
export function ConfirmDialog({ title, message, confirmLabel, onConfirm, onCancel }: ConfirmProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
    dialog.current?.showModal();
    return () => {
      if (opener?.isConnected) opener.focus();
      else document.getElementById("main")?.focus();
    };
  }, []);
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-message" onClose={onCancel}>
      <h2 id="confirm-title">{title}</h2>
      <p id="confirm-message">{message}</p>
      <div class="actions">
        <button type="button" autofocus onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}

export const pageSize = 100;

// Paging for long tables: only one page of rows is in the document.
export function Pager({ label, page, total, onPage }: { label: string; page: number; total: number; onPage: (page: number) => void }) {
  const pages = Math.max(1, Math.ceil(total / pageSize));
  if (pages <= 1) return null;
  const from = page * pageSize + 1;
  const to = Math.min(total, (page + 1) * pageSize);
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>
        Previous page
      </button>
      <span aria-live="polite">
        {from}–{to} of {total} (page {page + 1} of {pages})
      </span>
      <button type="button" disabled={page >= pages - 1} onClick={() => onPage(page + 1)}>
        Next page
      </button>
    </nav>
  );
}

// The page within range once the list shrank.
export function clampPage(page: number, total: number): number {
  return Math.min(page, Math.max(0, Math.ceil(total / pageSize) - 1));
}
