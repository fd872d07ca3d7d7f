import { useEffect, useMemo, useState } from "preact/hooks";

interface Runnable {
  run(signal: AbortSignal): Promise<void>;
}

// A model that runs while the component is mounted. Its changes are
// coalesced into at most one render every `frameMs`, so a burst of events
// (a thousand joins) costs a few renders, not a thousand.
export function useLiveModel<M extends Runnable>(create: (changed: () => void) => M, deps: unknown[], frameMs = 50): M {
  const [, setVersion] = useState(0);
  const model = useMemo(() => {
    let scheduled: ReturnType<typeof setTimeout> | undefined;
    return create(() => {
      scheduled ??= setTimeout(() => {
        scheduled = undefined;
        setVersion((version) => version + 1);
      }, frameMs);
    });
  }, deps);
  useEffect(() => {
    const stop = new AbortController();
    void model.run(stop.signal);
    return () => stop.abort();
  }, [model]);
  return model;
}

// The current time, renewed every `intervalMs`: durations tick.
export function useNow(intervalMs = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

// The location hash, as the console's routes use it: "#/rooms/RM...".
export function useHash(): string {
  const [hash, setHash] = useState(() => location.hash);
  useEffect(() => {
    const update = () => setHash(location.hash);
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return hash;
}
