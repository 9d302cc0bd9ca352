// Who is signed in: the bearer token and the user's public card, kept across reloads.
const KEY = "ordercenter.session";

let current = read();
const listeners = new Set();

function read() {
  try {
    return JSON.parse(localStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
}

export function session() {
  return current;
}

export function signIn(token, user) {
  endedBecause = null;
  current = { token, user };
  localStorage.setItem(KEY, JSON.stringify(current));
  listeners.forEach((listener) => listener(current));
}

// Why the last session ended, when it was not the user's choice (shown at sign-in).
export let endedBecause = null;

export function signOut(reason = null) {
  endedBecause = reason;
  current = null;
  localStorage.removeItem(KEY);
  listeners.forEach((listener) => listener(current));
}

export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
