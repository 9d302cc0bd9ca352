// Pieces every screen uses: loading, errors, notices, empty states, a screen's frame.
import { useEffect, useRef } from "preact/hooks";
import { html } from "./html.js";

export function Screen({ title, actions, children }) {
  const heading = useRef(null);
  useEffect(() => {
    document.title = `${title} · Order Center`;
    // A new screen: screen readers start from its heading, as after a page load.
    if (!document.activeElement?.closest("form")) {
      heading.current?.focus({ preventScroll: true });
    }
  }, [title]);
  return html`<section class="screen" aria-labelledby="screen-title">
    <div class="screen-head">
      <h1 id="screen-title" tabindex="-1" ref=${heading}>${title}</h1>
      ${actions}
    </div>
    ${children}
  </section>`;
}

export function Loading({ what = "Loading" }) {
  return html`<p class="notice" role="status">${what}…</p>`;
}

export function Problem({ error }) {
  return error ? html`<p class="problem" role="alert">${error.message}</p>` : null;
}

export function Notice({ text }) {
  return text ? html`<p class="notice ok" role="status">${text}</p>` : null;
}

// Words for screen readers only: which of many "Remove" buttons this one is.
export function Hidden({ children }) {
  return html`<span class="visually-hidden">${children}</span>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

// What a query's state calls for before there is data to show, or null once there is.
export function pending({ data, error, loading }, what) {
  if (data) return null;
  if (error) return html`<${Problem} error=${error} />`;
  return loading ? html`<${Loading} what=${what} />` : null;
}

// "Show more" for connections read with a growing `first` (at most the API's 100).
export function More({ connection, first, setFirst }) {
  if (!connection.pageInfo.hasNextPage || first >= 100) return null;
  return html`<button class="more" onClick=${() => setFirst(Math.min(first + 20, 100))}>Show more</button>`;
}
