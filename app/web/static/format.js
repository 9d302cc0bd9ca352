// How values read on screen.
export const TABS = ["TO_PAY", "TO_SHIP", "SHIPPED", "DELIVERED", "COMPLETED", "CANCELLED"];

export const TAB_NAMES = {
  TO_PAY: "To pay",
  TO_SHIP: "To ship",
  SHIPPED: "Shipped",
  DELIVERED: "Delivered",
  COMPLETED: "Completed",
  CANCELLED: "Cancelled",
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
