// Reading and acting: the state every screen shares (loading, data, error, busy, notice).
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { live, mutate, request } from "./api.js";

// The answer to a document; kept on screen while a reload (after an action or a live
// event) is under way, so the page never blanks.
export function useQuery(name, variables) {
  const key = JSON.stringify(variables);
  const [state, setState] = useState({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, loading: true }));
    request(name, variables).then(
      (data) => current && setState({ data, loading: false }),
      (error) => current && setState((previous) => ({ ...previous, error, loading: false })),
    );
    return () => {
      current = false;
    };
  }, [name, key, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  // Show what is already known (a live event's new status) while the reload runs.
  const patch = useCallback((change) => setState((previous) => ({ ...previous, data: change(previous.data) })), []);
  return { ...state, reload, patch };
}

// What a screen passes as useLive's `after` until its first read has answered.
export const NOT_READ = Symbol("not read");

// Reload when an order changes status (one order, or any of the viewer's); with `name`,
// on that subscription's events instead (OrderUpdated: anything that happens to it).
// `after`: the cursor of the last event the screen has read (null: it read none), or NOT_READ
// until it has read. The subscription then starts after that event: one that happens between
// the screen's read and the server's taking the subscription is delivered, not missed (the
// screen would show the order as it was until the next one). Without `after`, it starts from
// when the server takes it.
export function useLive(orderId, reload, name, after) {
  // Read when the subscription starts; a later read's cursor changes nothing: the events
  // keep coming in order on the subscription already open.
  const latest = useRef(after);
  latest.current = after;
  const waiting = after === NOT_READ;
  useEffect(
    () => (waiting ? undefined : live(orderId, reload, name, latest.current ?? null)),
    [orderId, reload, name, waiting],
  );
}

// A mutation behind a button: busy while it runs, then a notice or the error in words.
export function useAction(after) {
  const [state, setState] = useState({ busy: false });
  const run = async (name, variables, done) => {
    setState({ busy: true });
    try {
      const payload = await mutate(name, variables);
      setState({ busy: false, notice: typeof done === "function" ? done(payload) : done });
      after?.();
      return payload;
    } catch (error) {
      setState({ busy: false, error });
      // A refused action changed nothing, save one that half worked (a return received whose
      // refund failed): reading afresh shows where things stand either way.
      if (error.kind === "user") after?.();
      return null;
    }
  };
  return { ...state, run };
}
