// After delivery, on an order's screen: its returns, each with the steps the viewer may
// take on it now (buyer: withdraw, send back; seller: approve, reject, receive and refund),
// a form to ask for a return, and its lines' reviews (with a form while the viewer may post
// one). Anything that happens to the order (the other side's steps too) arrives live and
// reloads it.
import { useCallback, useState } from "preact/hooks";
import { attemptKey } from "../api.js";
import { Notice, Problem, pending } from "../common.js";
import { RETURN_REASONS, RETURN_STATUS_NAMES, RETURN_STEPS, dateTime, money } from "../format.js";
import { useAction, useLive, useQuery } from "../hooks.js";
import { html } from "../html.js";

function Lines({ lines }) {
  return html`<ul class="plain">
    ${lines.map((line) => html`<li key=${line.item.id}>${line.quantity} × ${line.item.title}</li>`)}
  </ul>`;
}

function Reject({ ret, action }) {
  const [reason, setReason] = useState("");
  const reject = (event) => {
    event.preventDefault();
    action.run("RejectReturn", { returnId: ret.id, reason }, "The return is rejected.");
  };
  const id = `reject-${ret.id}`;
  return html`<form class="action" onSubmit=${reject}>
    <label for=${id}>Why not</label>
    <input id=${id} required maxlength="500" value=${reason} onInput=${(e) => setReason(e.target.value)} />
    <button type="submit" disabled=${action.busy}>Reject return</button>
  </form>`;
}

function SendBack({ ret, action }) {
  const [carrier, setCarrier] = useState("");
  const [tracking, setTracking] = useState("");
  const send = (event) => {
    event.preventDefault();
    const variables = { returnId: ret.id, carrier, trackingNumber: tracking };
    action.run("ShipReturn", variables, "Thanks: the shop will refund you when it arrives.");
  };
  return html`<form class="action" onSubmit=${send}>
    <label for=${`back-carrier-${ret.id}`}>Return carrier</label>
    <input id=${`back-carrier-${ret.id}`} required value=${carrier} onInput=${(e) => setCarrier(e.target.value)} />
    <label for=${`back-tracking-${ret.id}`}>Return tracking number</label>
    <input id=${`back-tracking-${ret.id}`} required value=${tracking} onInput=${(e) => setTracking(e.target.value)} />
    <button type="submit" class="primary" disabled=${action.busy}>I sent it back</button>
  </form>`;
}

function Return({ ret, can, action }) {
  // The order's actions say who may do what now; the return's status says which apply here.
  const steps = new Set((RETURN_STEPS[ret.status] ?? []).filter((step) => can.has(step)));
  const id = { returnId: ret.id };
  const button = (name, variables, words, done, primary = false) =>
    html`<button class=${primary ? "primary" : null} disabled=${action.busy}
      onClick=${() => action.run(name, variables, done)}>${words}</button>`;
  return html`<li class="card" data-return=${ret.status}>
    <strong>${RETURN_STATUS_NAMES[ret.status]}</strong>
    <${Lines} lines=${ret.lines} />
    <span>Refund ${money(ret.refundTotal)}${ret.refundedAt ? ` · paid back ${dateTime(ret.refundedAt)}` : ""}</span>
    <span class="muted">${RETURN_REASONS[ret.reason]}${ret.note ? `: “${ret.note}”` : ""} · asked ${dateTime(ret.requestedAt)}</span>
    ${ret.rejectReason && html`<span class="reason">The shop said: ${ret.rejectReason}</span>`}
    ${ret.trackingNumber && html`<span>Sent back with ${ret.carrier}, tracking number <strong>${ret.trackingNumber}</strong></span>`}
    ${ret.refundFailure && html`<span class="reason">The refund failed: ${ret.refundFailure}</span>`}
    <div class="buttons">
      ${steps.has("APPROVE_RETURN") && button("ApproveReturn", id, "Approve return", "The return is approved.", true)}
      ${steps.has("RECEIVE_RETURN") &&
      button("ReceiveReturn", { ...id, idempotencyKey: attemptKey() }, "Received: refund it", "Received and refunded.", true)}
      ${steps.has("REFUND_RETURN") &&
      button("RefundReturn", { ...id, idempotencyKey: attemptKey() }, "Retry the refund", "Refunded.", true)}
      ${steps.has("CANCEL_RETURN") && button("CancelReturn", id, "Withdraw return", "The return is withdrawn.")}
    </div>
    ${steps.has("REJECT_RETURN") && html`<${Reject} ret=${ret} action=${action} />`}
    ${steps.has("SHIP_RETURN") && html`<${SendBack} ret=${ret} action=${action} />`}
  </li>`;
}

function AskForReturn({ order, action }) {
  const [units, setUnits] = useState({});
  const [reason, setReason] = useState("DAMAGED");
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState(null);
  const ask = (event) => {
    event.preventDefault();
    const lines = Object.entries(units)
      .filter(([, quantity]) => quantity > 0)
      .map(([orderItemId, quantity]) => ({ orderItemId, quantity }));
    if (!lines.length) {
      setProblem({ message: "Choose at least one unit to return." });
      return;
    }
    setProblem(null);
    const variables = { orderId: order.id, lines, reason, note: note.trim() || null, idempotencyKey: attemptKey() };
    action.run("RequestReturn", variables, "Return requested. The shop will answer soon.").then((done) => {
      if (done) setUnits({});
    });
  };
  return html`<form class="return-form" onSubmit=${ask} aria-labelledby="ask-return-title">
    <h3 id="ask-return-title">Ask for a return</h3>
    ${order.items.map(
      (item) => html`<div class="action" key=${item.id}>
        <label for=${`units-${item.id}`}>Units of ${item.title} to return</label>
        <input id=${`units-${item.id}`} type="number" min="0" max=${item.quantity} step="1" inputmode="numeric"
          value=${units[item.id] ?? 0} onInput=${(e) => setUnits({ ...units, [item.id]: Number(e.target.value) })} />
      </div>`,
    )}
    <div class="action">
      <label for="return-reason">Why</label>
      <select id="return-reason" value=${reason} onChange=${(e) => setReason(e.target.value)}>
        ${Object.entries(RETURN_REASONS).map(([code, words]) => html`<option value=${code}>${words}</option>`)}
      </select>
    </div>
    <div class="action">
      <label for="return-note">Anything to add (optional)</label>
      <textarea id="return-note" maxlength="500" value=${note} onInput=${(e) => setNote(e.target.value)}></textarea>
    </div>
    <${Problem} error=${problem} />
    <button type="submit" class="primary" disabled=${action.busy}>Ask for a return</button>
  </form>`;
}

function Stars({ rating }) {
  return html`<span class="stars" aria-label=${`${rating} out of 5 stars`}>${"★".repeat(rating)}${"☆".repeat(5 - rating)}</span>`;
}

function ReviewForm({ item, action, onDone }) {
  const review = item.review;
  const [rating, setRating] = useState(review?.rating ?? 5);
  const [text, setText] = useState(review?.text ?? "");
  const save = (event) => {
    event.preventDefault();
    const [name, variables, done] = review
      ? ["EditReview", { reviewId: review.id, rating, text }, "Your review is updated."]
      : ["ReviewOrderItem", { orderItemId: item.id, rating, text, idempotencyKey: attemptKey() }, "Thanks for your review."];
    action.run(name, variables, done).then((payload) => payload && onDone());
  };
  return html`<form class="review-form" onSubmit=${save}>
    <fieldset>
      <legend>Your rating of ${item.title}</legend>
      ${[1, 2, 3, 4, 5].map(
        (n) => html`<label class="check" key=${n}>
          <input type="radio" name=${`rating-${item.id}`} value=${n} checked=${rating === n} onChange=${() => setRating(n)} />
          ${n} ${n === 1 ? "star" : "stars"}</label>`,
      )}
    </fieldset>
    <label for=${`review-text-${item.id}`}>Your review of ${item.title} (optional)</label>
    <textarea id=${`review-text-${item.id}`} maxlength="2000" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
    <button type="submit" class="primary" disabled=${action.busy}>${review ? "Save review" : "Post review"}</button>
  </form>`;
}

// The order's actions say what the viewer may do now: REVIEW (its buyer, a line left) puts
// the form on each unreviewed line; EDIT_REVIEW (a review of theirs still in its window)
// the Edit button on each of their reviews until its editableUntil. Anyone else reads them.
function editable(review, can) {
  return can.has("EDIT_REVIEW") && Date.now() <= Date.parse(review.editableUntil);
}

function Review({ item, can, action }) {
  const [editing, setEditing] = useState(false);
  const { review } = item;
  if (review ? editing && editable(review, can) : can.has("REVIEW")) {
    return html`<li key=${item.id} class="card"><${ReviewForm} item=${item} action=${action} onDone=${() => setEditing(false)} /></li>`;
  }
  if (!review) {
    return html`<li key=${item.id} class="card"><strong>${item.title}</strong><span class="muted">Not reviewed.</span></li>`;
  }
  return html`<li key=${item.id} class="card">
    <strong>${item.title}</strong>
    <${Stars} rating=${review.rating} />
    ${review.text && html`<span>${review.text}</span>`}
    <span class="muted">${dateTime(review.postedAt)}${review.editedAt ? ` · edited ${dateTime(review.editedAt)}` : ""}</span>
    ${editable(review, can) &&
    html`<button onClick=${() => setEditing(true)}>Edit review<span class="visually-hidden"> of ${item.title}</span></button>`}
  </li>`;
}

// `after`: the cursor of the last event of the order the screen around it has read.
export function AfterDelivery({ orderId, onChange, after }) {
  const query = useQuery("OrderAfterDelivery", { id: orderId });
  const { reload } = query;
  const both = useCallback(() => {
    reload();
    onChange?.();
  }, [reload, onChange]);
  // The other side's steps (the shop approving, the buyer sending it back) show up live.
  useLive(orderId, both, "OrderUpdated", after ?? null);
  const action = useAction(both);
  const waiting = pending(query, "Loading returns and reviews");
  if (waiting) return waiting;
  const order = query.data?.node;
  if (!order?.id) return null;
  const can = new Set(order.availableActions);
  return html`<div class="columns">
    <section aria-labelledby="returns-title">
      <h2 id="returns-title">Returns</h2>
      <${Problem} error=${action.error} />
      <${Notice} text=${action.notice} />
      ${order.returns.length
        ? html`<ul class="list">${order.returns.map((ret) => html`<${Return} key=${ret.id} ret=${ret} can=${can} action=${action} />`)}</ul>`
        : html`<p class="muted">No return.</p>`}
      ${can.has("REQUEST_RETURN") && html`<${AskForReturn} order=${order} action=${action} />`}
    </section>
    ${(can.has("REVIEW") || order.items.some((item) => item.review)) &&
    html`<section aria-labelledby="reviews-title">
      <h2 id="reviews-title">Reviews</h2>
      <ul class="plain">${order.items.map((item) => html`<${Review} key=${item.id} item=${item} can=${can} action=${action} />`)}</ul>
    </section>`}
  </div>`;
}
