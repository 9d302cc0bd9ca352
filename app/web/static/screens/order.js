// One order: what was bought (and from which video), the money, the delivery and its scans,
// the payments and the timeline, with its available actions as working buttons. A status
// change arriving over the live subscription reloads it in place.
import { useCallback, useState } from "preact/hooks";
import { attemptKey } from "../api.js";
import { Empty, Notice, Problem, Screen, pending } from "../common.js";
import { CANCEL_REASONS, SCAN_NAMES, STATUS_NAMES, card, date, dateTime, money } from "../format.js";
import { NOT_READ, useAction, useLive, useQuery } from "../hooks.js";
import { html } from "../html.js";
import { AfterDelivery } from "./after-delivery.js";

// Returns and reviews exist only once an order arrived.
const AFTER_DELIVERY = new Set(["DELIVERED", "COMPLETED"]);

function Pay({ order, cards, action }) {
  const [chosen, setChosen] = useState((cards.find((c) => c.isDefault) ?? cards[0])?.id);
  if (!cards.length) return html`<p>To pay, first <a href="#/wallet">add a card to your wallet</a>.</p>`;
  const pay = (event) => {
    event.preventDefault();
    const variables = { orderId: order.id, paymentMethodId: chosen, idempotencyKey: attemptKey() };
    action.run("PayOrder", variables, "Paid. The shop will ship your order soon.");
  };
  return html`<form class="action" onSubmit=${pay}>
    <label for="pay-card">Pay with</label>
    <select id="pay-card" value=${chosen} onChange=${(event) => setChosen(event.target.value)}>
      ${cards.map((c) => html`<option value=${c.id}>${card(c)}${c.isDefault ? " (default)" : ""}</option>`)}
    </select>
    <button type="submit" class="primary" disabled=${action.busy}>Pay ${money(order.total)}</button>
  </form>`;
}

function Cancel({ order, action }) {
  const [reason, setReason] = useState("CUSTOMER");
  const cancel = (event) => {
    event.preventDefault();
    action.run("CancelOrder", { orderId: order.id, reason }, "The order is cancelled.");
  };
  return html`<form class="action" onSubmit=${cancel}>
    <label for="cancel-reason">Reason</label>
    <select id="cancel-reason" value=${reason} onChange=${(event) => setReason(event.target.value)}>
      ${Object.entries(CANCEL_REASONS).map(([code, words]) => html`<option value=${code}>${words}</option>`)}
    </select>
    <button type="submit" disabled=${action.busy}>Cancel order</button>
  </form>`;
}

function Ship({ order, action }) {
  const [carrier, setCarrier] = useState("");
  const [tracking, setTracking] = useState("");
  const ship = (event) => {
    event.preventDefault();
    const variables = { orderId: order.id, carrier, trackingNumber: tracking };
    action.run("ShipOrder", variables, "Marked as shipped.");
  };
  return html`<form class="action" onSubmit=${ship}>
    <label for="ship-carrier">Carrier</label>
    <input id="ship-carrier" required value=${carrier} onInput=${(e) => setCarrier(e.target.value)} />
    <label for="ship-tracking">Tracking number</label>
    <input id="ship-tracking" required value=${tracking} onInput=${(e) => setTracking(e.target.value)} />
    <button type="submit" class="primary" disabled=${action.busy}>Mark as shipped</button>
  </form>`;
}

function Actions({ order, cards, action }) {
  const can = new Set(order.availableActions);
  const button = (name, variables, words, done) =>
    html`<button disabled=${action.busy} onClick=${() => action.run(name, variables, done)}>${words}</button>`;
  const id = { orderId: order.id };
  return html`<div class="actions">
    ${can.has("PAY") && html`<${Pay} order=${order} cards=${cards} action=${action} />`}
    ${can.has("CONFIRM_RECEIPT") && button("ConfirmReceipt", id, "I received it", "Thanks for confirming.")}
    ${can.has("SHIP") && html`<${Ship} order=${order} action=${action} />`}
    ${can.has("MARK_IN_TRANSIT") &&
    button("UpdateOrderStatus", { ...id, status: "IN_TRANSIT" }, "Mark as on its way", "Marked as on its way.")}
    ${can.has("MARK_DELIVERED") &&
    button("UpdateOrderStatus", { ...id, status: "DELIVERED" }, "Mark as delivered", "Marked as delivered.")}
    ${can.has("CANCEL") && html`<${Cancel} order=${order} action=${action} />`}
    <${Problem} error=${action.error} />
    <${Notice} text=${action.notice} />
  </div>`;
}

function Items({ items }) {
  return html`<ul class="list">
    ${items.map(
      (item) => html`<li key=${item.id} class="card">
        <strong>${item.title}</strong>
        <span>${item.quantity} × ${money(item.unitPrice)} = ${money(item.total)}</span>
        ${item.sourceVideoId && html`<span class="muted">Bought from video ${item.sourceVideoId}</span>`}
      </li>`,
    )}
  </ul>`;
}

function Totals({ order }) {
  const rows = [["Items", order.subtotal], ["Shipping", order.shippingFee], ["Tax", order.tax]];
  return html`<dl class="totals">
    ${rows.map(([label, value]) => html`<dt>${label}</dt><dd>${money(value)}</dd>`)}
    <dt class="total">Total</dt><dd class="total">${money(order.total)}</dd>
  </dl>`;
}

function Delivery({ order }) {
  const { shippingAddress: to, shipment } = order;
  const lines = [to.name, to.line1, to.line2, `${to.postalCode} ${to.city}`, to.region, to.countryCode];
  return html`<address>${lines.filter(Boolean).join(", ")}</address>
    ${shipment
      ? html`<p class="shipment">${shipment.carrier}, tracking number <strong>${shipment.trackingNumber}</strong>
            ${shipment.estimatedDelivery && !shipment.deliveredAt && html`<br />Expected ${date(shipment.estimatedDelivery)}`}
            ${shipment.deliveredAt && html`<br />Delivered ${dateTime(shipment.deliveredAt)}`}</p>
          <ol class="events" aria-label="Tracking">
            ${[...shipment.events].reverse().map(
              (scan) => html`<li><strong>${SCAN_NAMES[scan.kind]}</strong> ${scan.location && `· ${scan.location}`}
                <span class="muted">${dateTime(scan.happenedAt)}${scan.message ? ` · ${scan.message}` : ""}</span></li>`,
            )}
          </ol>`
      : html`<p class="muted">Not shipped yet.</p>`}`;
}

function Payments({ payments }) {
  if (!payments.length) return html`<p class="muted">No payment yet.</p>`;
  return html`<ul class="plain">
    ${payments.map(
      (p) => html`<li key=${p.id}>${money(p.amount)} · ${p.status.toLowerCase()}${p.method ? ` · ${card(p.method)}` : ""}
        <span class="muted"> · ${dateTime(p.createdAt)}</span></li>`,
    )}
  </ul>`;
}

function Timeline({ events }) {
  // The status changes: the steps beside them (scans, payments) leave the status as it
  // was, and are shown where they belong (the shipment's scans, the payments).
  const changes = events.filter((e) => e.fromStatus !== e.toStatus);
  return html`<ol class="events">
    ${changes.reverse().map(
      (e) => html`<li key=${e.id}><strong>${STATUS_NAMES[e.toStatus]}</strong>
        <span class="muted"> · ${dateTime(e.occurredAt)} · by the ${e.actor.toLowerCase()}${e.note ? ` · ${e.note}` : ""}</span></li>`,
    )}
  </ol>`;
}

export function OrderDetail({ id }) {
  const query = useQuery("OrderDetail", { id });
  const { patch, reload } = query;
  // The event says the new status at once; the reload brings what came with it (tracking,
  // the actions now possible, the timeline).
  const onEvent = useCallback(
    (event) => {
      if (event) patch((data) => (data?.node ? { ...data, node: { ...data.node, status: event.toStatus } } : data));
      reload();
    },
    [patch, reload],
  );
  // A link with a mangled id, or another kind of object's, finds no order.
  const order = query.data?.node;
  // The last event read (the timeline has every kind, oldest first): live events resume after it.
  const lastEvent = order?.timeline?.at(-1)?.cursor ?? null;
  useLive(id, onEvent, undefined, query.data ? lastEvent : NOT_READ);
  const action = useAction(query.reload);
  if (query.error?.kind === "input" || (query.data && !order?.id)) {
    return html`<${Screen} title="Order"><${Empty}>We couldn't find this order.<//><//>`;
  }
  const waiting = pending(query, "Loading the order");
  if (waiting) return html`<${Screen} title="Order">${waiting}<//>`;
  return html`<${Screen} title=${`Order ${order.number}`}>
    <p class="status big" data-status=${order.status} aria-live="polite">${STATUS_NAMES[order.status]}</p>
    <p class="muted">${order.shop.name} · placed ${dateTime(order.placedAt)}</p>
    <${Problem} error=${query.error} />
    <${Actions} order=${order} cards=${query.data.viewer.paymentMethods} action=${action} />
    <div class="columns">
      <section aria-labelledby="items-title"><h2 id="items-title">Items</h2><${Items} items=${order.items} /><${Totals} order=${order} /></section>
      <section aria-labelledby="delivery-title"><h2 id="delivery-title">Delivery</h2><${Delivery} order=${order} /></section>
      <section aria-labelledby="payments-title"><h2 id="payments-title">Payments</h2><${Payments} payments=${order.payments} /></section>
      <section aria-labelledby="timeline-title"><h2 id="timeline-title">Timeline</h2><${Timeline} events=${order.timeline} /></section>
    </div>
    ${AFTER_DELIVERY.has(order.status) && html`<${AfterDelivery} orderId=${order.id} onChange=${reload} after=${lastEvent} />`}
  <//>`;
}
