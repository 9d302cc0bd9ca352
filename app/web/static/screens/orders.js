// Home: the tabs with their counts and the chosen tab's orders, paged both ways, searchable.
import { useState } from "preact/hooks";
import { Empty, Problem, Screen, pending } from "../common.js";
import { STATUS_NAMES, TABS, TAB_NAMES, date, money } from "../format.js";
import { useLive, useQuery } from "../hooks.js";
import { html } from "../html.js";

const PAGE = 10;

function link(tab, params = {}) {
  const query = new URLSearchParams(params).toString();
  return `#/orders/${tab}${query ? `?${query}` : ""}`;
}

function Tabs({ counts, current }) {
  return html`<nav class="tabs" aria-label="Order tabs">
    ${TABS.map(
      (tab) => html`<a href=${link(tab)} aria-current=${tab === current ? "page" : null}>
        ${TAB_NAMES[tab]} <span class="count">${counts[tab] ?? ""}</span>
      </a>`,
    )}
  </nav>`;
}

function Search({ tab, search }) {
  const [text, setText] = useState(search);
  const submit = (event) => {
    event.preventDefault();
    location.hash = link(tab, text.trim() ? { q: text.trim() } : {});
  };
  return html`<form class="search" role="search" onSubmit=${submit}>
    <label for="order-search">Search orders</label>
    <input id="order-search" type="search" maxlength="100" value=${text}
      placeholder="Order number, product, shop or tracking number"
      onInput=${(event) => setText(event.target.value)} />
    <button type="submit">Search</button>
  </form>`;
}

function summary(items) {
  const [first, ...rest] = items;
  if (!first) return "";
  const more = rest.length ? ` and ${rest.length} more` : "";
  return `${first.title} × ${first.quantity}${more}`;
}

export function OrderRow({ order }) {
  return html`<li class="card order-row">
    <a href=${`#/order/${order.id}`}>
      <span class="row-top"><strong>Order ${order.number}</strong>
        <span class="status" data-status=${order.status}>${STATUS_NAMES[order.status]}</span></span>
      <span>${order.shop.name} · ${date(order.placedAt)}</span>
      <span class="muted">${summary(order.items)}</span>
      <span class="amount">${money(order.total)}</span>
    </a>
  </li>`;
}

function Pager({ tab, search, pageInfo }) {
  const base = search ? { q: search } : {};
  return html`<nav class="pager" aria-label="Pages">
    ${pageInfo.hasPreviousPage &&
    html`<a href=${link(tab, { ...base, before: pageInfo.startCursor })}>← Newer orders</a>`}
    ${pageInfo.hasNextPage && html`<a href=${link(tab, { ...base, after: pageInfo.endCursor })}>Older orders →</a>`}
  </nav>`;
}

export function Orders({ tab = "TO_PAY", search = "", after, before }) {
  const first = !search && !after && !before;
  const paging = before ? { last: PAGE, before } : { first: PAGE, after };
  const query = useQuery(
    first ? "Home" : "Orders",
    first ? { tab, first: PAGE } : { tab: search ? null : tab, search: search || null, ...paging },
  );
  useLive(null, query.reload);
  const title = search ? `Orders matching “${search}”` : "My orders";
  const viewer = query.data?.viewer;
  const counts = Object.fromEntries((viewer?.orderTabs ?? []).map((t) => [t.tab, t.count]));
  return html`<${Screen} title=${title}>
    <${Tabs} counts=${counts} current=${search ? null : tab} />
    <${Search} tab=${tab} search=${search} key=${search} />
    ${pending(query, "Loading your orders")}
    <${Problem} error=${viewer && query.error} />
    ${viewer &&
    html`<p class="muted" role="status">${viewer.orders.totalCount} ${viewer.orders.totalCount === 1 ? "order" : "orders"}</p>
      ${viewer.orders.edges.length
        ? html`<ul class="list">${viewer.orders.edges.map(({ node }) => html`<${OrderRow} key=${node.id} order=${node} />`)}</ul>`
        : html`<${Empty}>${search ? "No order matches that search." : `Nothing in “${TAB_NAMES[tab]}” right now.`}<//>`}
      <${Pager} tab=${tab} search=${search} pageInfo=${viewer.orders.pageInfo} />`}
  <//>`;
}
