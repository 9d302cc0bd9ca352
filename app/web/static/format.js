// How values read on screen.
export const TABS = ["TO_PAY", "TO_SHIP", "SHIPPED", "DELIVERED", "COMPLETED", "CANCELLED", "TO_REVIEW", "RETURNS"];

export const TAB_NAMES = {
  TO_PAY: "To pay",
  TO_SHIP: "To ship",
  SHIPPED: "Shipped",
  DELIVERED: "Delivered",
  COMPLETED: "Completed",
  CANCELLED: "Cancelled",
  TO_REVIEW: "To review",
  RETURNS: "Returns",
};

export const STATUS_NAMES = {
  UNPAID: "Waiting for payment",
  AWAITING_SHIPMENT: "Waiting to be shipped",
  AWAITING_COLLECTION: "Waiting for the carrier",
  IN_TRANSIT: "On its way",
  DELIVERED: "Delivered",
  COMPLETED: "Completed",
  CANCELLED: "Cancelled",
};

export const SCAN_NAMES = {
  LABEL_CREATED: "Label created",
  PICKED_UP: "Picked up",
  IN_TRANSIT: "In transit",
  OUT_FOR_DELIVERY: "Out for delivery",
  DELIVERY_ATTEMPTED: "Delivery attempted",
  DELAYED: "Delayed",
  DELIVERED: "Delivered",
};

export const CANCEL_REASONS = {
  CUSTOMER: "I changed my mind",
  OUT_OF_STOCK: "It's out of stock",
  OTHER: "Another reason",
};

export const RETURN_STATUS_NAMES = {
  REQUESTED: "Return requested",
  APPROVED: "Return approved: send it back",
  REJECTED: "Return rejected",
  CANCELLED: "Return withdrawn",
  SHIPPED_BACK: "On its way back",
  RECEIVED: "Received by the shop",
  REFUNDED: "Refunded",
};

export const RETURN_REASONS = {
  DAMAGED: "It arrived damaged",
  WRONG_ITEM: "I got the wrong item",
  NOT_AS_DESCRIBED: "It's not as described",
  NO_LONGER_NEEDED: "I no longer need it",
  OTHER: "Another reason",
};

// Which of an order's return actions (Order.availableActions: who may, now) apply to a
// return in each status: domain/returns.py's RETURN_TRANSITIONS, by source status
// (tests/unit/test_web_app_rules.py fails when the two disagree).
export const RETURN_STEPS = {
  REQUESTED: ["APPROVE_RETURN", "REJECT_RETURN", "CANCEL_RETURN"],
  APPROVED: ["CANCEL_RETURN", "SHIP_RETURN"],
  SHIPPED_BACK: ["RECEIVE_RETURN"],
  RECEIVED: ["REFUND_RETURN"],
};

export function money({ amount, currencyCode }) {
  return new Intl.NumberFormat(undefined, { style: "currency", currency: currencyCode }).format(
    Number(amount),
  );
}

export function date(iso) {
  return iso ? new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium" }) : "";
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
}

const BRANDS = { visa: "Visa", mastercard: "Mastercard", amex: "American Express" };

export function card({ brand, last4 }) {
  return `${BRANDS[brand.toLowerCase()] ?? brand} ending in ${last4}`;
}

export function expiry({ expMonth, expYear }) {
  const now = new Date();
  const past = expYear < now.getFullYear() || (expYear === now.getFullYear() && expMonth < now.getMonth() + 1);
  return `${past ? "Expired" : "Expires"} ${String(expMonth).padStart(2, "0")}/${expYear}`;
}
