// The Order Center web app: a shell (header, navigation, who is signed in) and a screen per
// URL (#/orders/TO_SHIP, #/order/<id>, #/wallet, ...). Everything it shows comes from the
// public GraphQL API, through the documents in examples/ (see api.js).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { TABS } from "./format.js";
import { html } from "./html.js";
import { OrderDetail } from "./screens/order.js";
import { Orders } from "./screens/orders.js";
import { BuyAgain, Payments, RecentlyViewed, Recommendations, Tagged } from "./screens/lists.js";
import { SignIn } from "./screens/sign-in.js";
import { Wallet } from "./screens/wallet.js";
import { onSessionChange, session, signOut } from "./session.js";

const NAV = [
  ["orders", "Orders"],
  ["for-you", "For you"],
  ["buy-again", "Buy again"],
  ["tagged", "Tagged"],
  ["viewed", "Viewed"],
  ["wallet", "Wallet"],
  ["payments", "Payments"],
];

function route() {
  const [path, query = ""] = location.hash.replace(/^#/, "").split("?");
  const [screen = "orders", id] = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { screen, id, params: new URLSearchParams(query) };
}

function screenFor({ screen, id, params }) {
  switch (screen) {
    case "order":
      return html`<${OrderDetail} id=${id} key=${id} />`;
    case "for-you":
      return html`<${Recommendations} />`;
    case "buy-again":
      return html`<${BuyAgain} />`;
    case "tagged":
      return html`<${Tagged} />`;
    case "viewed":
      return html`<${RecentlyViewed} />`;
    case "wallet":
      return html`<${Wallet} />`;
    case "payments":
      return html`<${Payments} />`;
    default: {
      const [search, after, before] = ["q", "after", "before"].map((name) => params.get(name) ?? undefined);
      const tab = TABS.includes(id) ? id : "TO_PAY";
      return html`<${Orders} tab=${tab} search=${search} after=${after} before=${before} />`;
    }
  }
}

function Shell({ who, current, children }) {
  const leave = () => {
    signOut();
    location.hash = "#/orders";
  };
  return html`<header class="top">
      <a class="brand" href="#/orders">Order Center</a>
      <nav aria-label="Main">
        ${NAV.map(([screen, words]) => html`<a href=${`#/${screen}`} aria-current=${screen === current ? "page" : null}>${words}</a>`)}
      </nav>
      <p class="who">${who.user?.displayName ?? "Signed in"}
        <button class="link" onClick=${leave}>Sign out</button></p>
    </header>
    <main id="main">${children}</main>`;
}

function App() {
  const [where, setWhere] = useState(route());
  const [who, setWho] = useState(session());
  useEffect(() => {
    const follow = () => setWhere(route());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  useEffect(() => onSessionChange(setWho), []);
  if (!who) return html`<${SignIn} />`;
  const current = where.screen === "order" ? "orders" : where.screen;
  // Keyed by token: another user's screens start afresh, subscriptions included.
  return html`<${Shell} key=${who.token} who=${who} current=${current}>${screenFor(where)}<//>`;
}

const root = document.getElementById("app");
root.textContent = ""; // the "Loading" line the page arrives with
render(html`<${App} />`, root);
