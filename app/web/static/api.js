// The app's only way to the server: the documents of examples/ over HTTP, and the live
// subscription over graphql-transport-ws. Every failure becomes an ApiError in words a
// shopper understands; the API's own codes pick the words.
import { session, signOut } from "./session.js";

export class ApiError extends Error {
  constructor(message, kind) {
    super(message);
    this.kind = kind;
  }
}

const SERVER_TROUBLE = "Something went wrong on our side. Please try again in a moment.";
const OFFLINE = "We can't reach Order Center right now. Check your connection and try again.";

const documents = new Map();

// The text of examples/<name>.graphql, fetched once: the exact document the tests check.
export function operation(name) {
  if (!documents.has(name)) {
    const text = fetch(`/web/operations/${name}.graphql`).then((response) => {
      if (!response.ok) throw new ApiError(SERVER_TROUBLE, "server");
      return response.text();
    });
    text.catch(() => documents.delete(name));
    documents.set(name, text);
  }
  return documents.get(name);
}

function authorization() {
  const token = session()?.token;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function inWords(error, response) {
  const code = error.extensions?.code;
  if (code === "UNAUTHENTICATED") {
    const expired = error.extensions.reason === "expired";
    const words = expired ? "Your session has expired. Please sign in again." : "Please sign in to continue.";
    signOut(words);
    return new ApiError(words, "auth");
  }
  if (code === "RATE_LIMITED") {
    const wait = Math.ceil(error.extensions.retryAfter ?? response.headers.get("Retry-After") ?? 60);
    return new ApiError(`You're going a little fast. Please wait ${wait} seconds and try again.`, "rate");
  }
  if (code === "BAD_USER_INPUT") return new ApiError(`That didn't work: ${error.message}`, "input");
  return new ApiError(SERVER_TROUBLE, "server");
}

// A query or mutation by its document's name; resolves to `data`, rejects with ApiError.
export async function request(name, variables = {}) {
  const query = await operation(name);
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authorization() },
      body: JSON.stringify({ query, variables, operationName: name }),
    });
  } catch {
    throw new ApiError(OFFLINE, "network");
  }
  const body = await response.json().catch(() => null);
  if (body?.errors?.length) throw inWords(body.errors[0], response);
  if (!response.ok || !body?.data) throw new ApiError(SERVER_TROUBLE, "server");
  return body.data;
}

const USER_ERRORS = {
  NOT_FOUND: "We couldn't find that any more. It may have been removed.",
  INVALID_TRANSITION: "This order changed in the meantime, so that's no longer possible.",
  OUT_OF_STOCK: "Sorry, that's sold out.",
  PAYMENT_DECLINED: "Your card was declined. Please try another card.",
  CONFLICT: "That was already done with other details. Please reload and try again.",
  FORBIDDEN: "You're not allowed to do that.",
  NOT_RETURNABLE: "That can't be returned any more.",
  REFUND_FAILED: "The refund didn't go through. Please try the refund again.",
};

// A mutation: its payload when it worked; an ApiError naming the first userError if not.
export async function mutate(name, variables) {
  const data = await request(name, variables);
  const payload = Object.values(data)[0];
  const [problem] = payload.userErrors;
  if (problem) throw new ApiError(USER_ERRORS[problem.code] ?? problem.message, "user");
  return payload;
}

let socket = null;

// One socket for all screens, opened with the current token (a new token, a new socket).
function liveClient() {
  const token = session()?.token;
  if (socket && socket.token !== token) {
    socket.client.dispose();
    socket = null;
  }
  if (!socket) {
    const url = new URL("/graphql", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const reconnected = new Set();
    let dropped = false;
    const client = window.graphqlWs.createClient({
      url: url.href,
      // Closed as soon as no screen listens: a later screen subscribes on a fresh socket.
      // (Reusing one socket, a subscribe sent right after another's complete sometimes
      // got no events from this server, and the completed one went on receiving them.)
      lazy: true,
      retryAttempts: Infinity,
      connectionParams: () => authorization(),
      on: {
        // 1000 is the client's own close when idle; anything else may have lost events,
        // so after it the screens read afresh.
        closed: (event) => (dropped = event?.code !== 1000),
        connected: () => dropped && reconnected.forEach((again) => again()),
      },
    });
    socket = { token, client, reconnected };
  }
  return socket;
}

// One key per attempt: a retried payment or refund happens at most once (crypto.randomUUID
// needs a secure context; a plain http:// address on the network is not one).
export function attemptKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Calls onChange(event) for each event of the subscription `name` (examples/<name>.graphql:
// status changes by default; of one order when orderId is given, else of all the viewer's
// orders), and onChange(null) after a reconnect. With `after` (an event's cursor), the events
// since that one come first. Returns a stop function.
export function live(orderId, onChange, name = "OrderStatusChanged", after = null) {
  const { client, reconnected } = liveClient();
  let stop = null;
  let stopped = false;
  reconnected.add(onChange);
  // Kept at the cursor of the last event received: the client subscribes again with these
  // same variables after a reconnect, and so resumes there.
  const variables = { ...(orderId ? { orderId } : {}), ...(after ? { after } : {}) };
  operation(name).then((query) => {
    if (stopped) return;
    stop = client.subscribe(
      { query, variables, operationName: name },
      {
        next: ({ data }) => {
          if (!data) return;
          const event = Object.values(data)[0];
          if (event?.cursor) variables.after = event.cursor;
          onChange(event);
        },
        error: () => {},
        complete: () => {},
      },
    );
  });
  return () => {
    stopped = true;
    reconnected.delete(onChange);
    stop?.();
  };
}
