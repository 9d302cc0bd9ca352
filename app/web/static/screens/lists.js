// The viewer's other lists: tagged from videos, recently viewed, payments, and picks.
import { useState } from "preact/hooks";
import { Empty, Hidden, More, Notice, Problem, Screen, pending } from "../common.js";
import { card, date, dateTime, money } from "../format.js";
import { useAction, useQuery } from "../hooks.js";
import { html } from "../html.js";

// A connection of the viewer's, read with a growing page, with an action that reloads it.
function useList(name, field) {
  const [first, setFirst] = useState(20);
  const query = useQuery(name, { first });
  const action = useAction(query.reload);
  return { query, action, connection: query.data?.viewer[field], more: { first, setFirst } };
}

function Product({ product }) {
  return html`<strong>${product.title}</strong>
    <span>${product.shop.name} · ${money(product.price)}</span>`;
}

function List({ list, empty, children }) {
  const { query, action, connection, more } = list;
  return html`${pending(query, "Loading")}
    <${Problem} error=${action.error || (connection && query.error)} />
    <${Notice} text=${action.notice} />
    ${connection &&
    (connection.edges.length
      ? html`<ul class="list">${connection.edges.map(({ node }) => children(node))}</ul>
          <${More} connection=${connection} ...${more} />`
      : html`<${Empty}>${empty}<//>`)}`;
}

export function Tagged() {
  const list = useList("Tagged", "taggedItems");
  const untag = (item) =>
    list.action.run("UntagProduct", { productId: item.product.id }, `Removed “${item.product.title}”.`);
  return html`<${Screen} title="Tagged from videos">
    <${List} list=${list} empty="Products you tag in videos show up here.">
      ${(item) => html`<li key=${item.id} class="card">
        <${Product} product=${item.product} />
        <span class="muted">${item.sourceVideoId ? `From video ${item.sourceVideoId} · ` : ""}tagged ${date(item.taggedAt)}</span>
        <button disabled=${list.action.busy} onClick=${() => untag(item)}>Remove<${Hidden}> ${item.product.title}<//></button>
      </li>`}
    <//>
  <//>`;
}

export function RecentlyViewed() {
  const list = useList("RecentlyViewed", "recentlyViewed");
  const clear = () =>
    list.action.run("ClearRecentlyViewed", {}, ({ clearedCount }) =>
      `Cleared ${clearedCount} ${clearedCount === 1 ? "product" : "products"} from your history.`);
  const hasAny = list.connection?.edges.length > 0;
  const actions = hasAny && html`<button disabled=${list.action.busy} onClick=${clear}>Clear recently viewed</button>`;
  return html`<${Screen} title="Recently viewed" actions=${actions}>
    <${List} list=${list} empty="Nothing here: products you look at show up here.">
      ${(view) => html`<li key=${view.product.id} class="card">
        <${Product} product=${view.product} />
        <span class="muted">Viewed ${dateTime(view.viewedAt)}</span>
      </li>`}
    <//>
  <//>`;
}

export function Payments() {
  const list = useList("Payments", "payments");
  return html`<${Screen} title="Payments">
    <${List} list=${list} empty="You haven't paid for anything yet.">
      ${(payment) => html`<li key=${payment.id} class="card">
        <strong>${money(payment.amount)} · ${payment.status.toLowerCase()}</strong>
        <span>${payment.method ? card(payment.method) : "Card removed"} · ${dateTime(payment.createdAt)}</span>
        <a href=${`#/order/${payment.order.id}`}>Order ${payment.order.number}</a>
      </li>`}
    <//>
  <//>`;
}

export function BuyAgain() {
  const list = useList("BuyAgain", "buyAgain");
  return html`<${Screen} title="Buy again">
    <${List} list=${list} empty="Products you have bought and can order again show up here.">
      ${(item) => html`<li key=${item.product.id} class="card">
        <${Product} product=${item.product} />
        <span class="muted">${item.timesOrdered === 1 ? "Ordered once" : `Ordered ${item.timesOrdered} times`} · last on ${date(item.lastOrderedAt)}</span>
      </li>`}
    <//>
  <//>`;
}

function why(pick) {
  if (pick.reason === "BOUGHT_TOGETHER" && pick.basedOn) return `Because you bought ${pick.basedOn.title}`;
  if (pick.reason === "SIMILAR_TO_TAGGED") return `Similar to ${pick.basedOn?.title ?? "something"} you tagged`;
  if (pick.reason === "SIMILAR_TO_VIEWED") return `Similar to ${pick.basedOn?.title ?? "something"} you viewed`;
  return "Trending now";
}

export function Recommendations() {
  const list = useList("Recommendations", "recommendations");
  const dismiss = (pick) =>
    list.action.run("DismissRecommendation", { recommendationId: pick.id }, `We won't suggest “${pick.product.title}” again.`);
  return html`<${Screen} title="You may be interested in">
    <${List} list=${list} empty="No suggestions yet: they come from what you buy, tag and view.">
      ${(pick) => html`<li key=${pick.id} class="card">
        <${Product} product=${pick.product} />
        <span class="reason">${why(pick)}</span>
        <button disabled=${list.action.busy} onClick=${() => dismiss(pick)}>Not interested<${Hidden}> in ${pick.product.title}<//></button>
      </li>`}
    <//>
  <//>`;
}
