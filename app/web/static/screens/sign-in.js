// Sign-in. In development the server offers demo buyers and sellers and mints their
// tokens; anywhere else a person pastes a token from the identity provider.
import { useEffect, useState } from "preact/hooks";
import { request } from "../api.js";
import { Problem, Screen } from "../common.js";
import { html } from "../html.js";
import { endedBecause, signIn } from "../session.js";

function useDemoUsers() {
  const [users, setUsers] = useState(null);
  useEffect(() => {
    fetch("/web/demo-users")
      .then((response) => (response.ok ? response.json() : { users: [] }))
      .then((body) => setUsers(body.users), () => setUsers([]));
  }, []);
  return users;
}

async function asDemoUser(handle) {
  const response = await fetch("/web/sign-in", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ handle }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error ?? "That sign-in did not work.");
  signIn(body.token, body.user);
}

async function withToken(token) {
  signIn(token, null);
  // Ask who that is; an invalid token signs out again, with the reason in words.
  const { viewer } = await request("Home", { tab: "TO_PAY", first: 1 });
  signIn(token, { handle: viewer.handle, displayName: viewer.displayName, role: null });
}

function DemoUsers({ users, onError }) {
  const roles = [["buyer", "Buyers"], ["seller", "Sellers"]];
  const pick = (handle) => asDemoUser(handle).catch(onError);
  return roles.map(
    ([role, title]) => html`<h2>${title}</h2>
      <ul class="plain people">
        ${users.filter((u) => u.role === role).map(
          (u) => html`<li key=${u.handle}><button onClick=${() => pick(u.handle)}>
            Sign in as ${u.displayName} <span class="muted">@${u.handle}</span></button></li>`,
        )}
      </ul>`,
  );
}

export function SignIn() {
  const users = useDemoUsers();
  const [token, setToken] = useState("");
  const [error, setError] = useState(endedBecause ? new Error(endedBecause) : null);
  const submit = (event) => {
    event.preventDefault();
    withToken(token.trim()).catch(setError);
  };
  return html`<main id="main" class="sign-in">
    <${Screen} title="Sign in to Order Center">
      <${Problem} error=${error} />
      ${users?.length > 0 &&
      html`<p>Development server: pick a demo account.</p><${DemoUsers} users=${users} onError=${setError} />`}
      <h2>With a token</h2>
      <form class="action" onSubmit=${submit}>
        <label for="token">Bearer token</label>
        <input id="token" autocomplete="off" required value=${token} onInput=${(e) => setToken(e.target.value)} />
        <button type="submit" class="primary">Sign in</button>
      </form>
    <//>
  </main>`;
}
