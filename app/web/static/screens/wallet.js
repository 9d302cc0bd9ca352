// Saved cards: add one from the sandbox's test tokens, make one the default, remove one.
import { useState } from "preact/hooks";
import { Empty, Hidden, Notice, Problem, Screen, pending } from "../common.js";
import { card, expiry } from "../format.js";
import { useAction, useQuery } from "../hooks.js";
import { html } from "../html.js";

// The payment sandbox's tokens (ORDERCENTER_PAYMENT_GATEWAY=sandbox): a real app gets one
// from the processor's card form; no card number ever reaches this server.
const TEST_CARDS = {
  tok_visa: "Test Visa (approves)",
  tok_mastercard: "Test Mastercard (approves)",
  tok_amex: "Test American Express (approves)",
  tok_chargeDeclined: "Test card that is declined",
  tok_processingError: "Test card with processing errors",
};

function AddCard({ action }) {
  const [token, setToken] = useState("tok_visa");
  const [makeDefault, setMakeDefault] = useState(false);
  const add = (event) => {
    event.preventDefault();
    action.run("AddPaymentMethod", { processorToken: token, makeDefault }, ({ paymentMethod }) =>
      `Added your ${card(paymentMethod)}.`);
  };
  return html`<form class="action" onSubmit=${add} aria-label="Add a card">
    <label for="new-card">Card</label>
    <select id="new-card" value=${token} onChange=${(e) => setToken(e.target.value)}>
      ${Object.entries(TEST_CARDS).map(([value, words]) => html`<option value=${value}>${words}</option>`)}
    </select>
    <label class="check"><input type="checkbox" checked=${makeDefault}
      onChange=${(e) => setMakeDefault(e.target.checked)} /> Make it my default</label>
    <button type="submit" class="primary" disabled=${action.busy}>Add card</button>
  </form>`;
}

export function Wallet() {
  const query = useQuery("Wallet", {});
  const action = useAction(query.reload);
  const cards = query.data?.viewer.paymentMethods;
  const id = (method) => ({ paymentMethodId: method.id });
  return html`<${Screen} title="Wallet">
    ${pending(query, "Loading your cards")}
    <${Problem} error=${action.error || (cards && query.error)} />
    <${Notice} text=${action.notice} />
    ${cards &&
    (cards.length
      ? html`<ul class="list">
          ${cards.map(
            (method) => html`<li key=${method.id} class="card">
              <strong>${card(method)}</strong>
              <span>${expiry(method)}${method.isDefault ? " · Default" : ""}</span>
              <span class="buttons">
                ${!method.isDefault &&
                html`<button disabled=${action.busy}
                  onClick=${() => action.run("SetDefaultPaymentMethod", id(method), `Your ${card(method)} is now the default.`)}>
                  Make default<${Hidden}>: ${card(method)}<//></button>`}
                <button disabled=${action.busy}
                  onClick=${() => action.run("RemovePaymentMethod", id(method), `Removed your ${card(method)}.`)}>
                  Remove<${Hidden}>: ${card(method)}<//></button>
              </span>
            </li>`,
          )}
        </ul>`
      : html`<${Empty}>No saved cards yet.<//>`)}
    <h2>Add a card</h2>
    <${AddCard} action=${action} />
  <//>`;
}
