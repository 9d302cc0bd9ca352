"""Shipments and carrier scans, derived from the same planned timeline as the order."""

from __future__ import annotations

from datetime import datetime, timedelta
from random import Random

from db.seed.timeline import HOUR, Plan
from db.seed.words import HUBS, City
from db.seed.writer import Row
from domain.order_status import OrderAction

CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
_CARRIER_WEIGHTS = (30, 25, 35, 10)
_UPS_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
_DELAYS = (
    "Delayed by severe weather in the area; new estimate next business day",
    "Delayed: higher than usual package volume",
    "Delayed: transport vehicle had a mechanical issue",
)
_DELIVERED = (
    "Delivered, left at front door",
    "Delivered to mailroom",
    "Delivered, handed to resident",
    "Delivered to parcel locker",
)


class Shipments:
    """Builds shipment and scan rows with sequential ids and unique tracking numbers."""

    def __init__(self, rng: Random) -> None:
        self._rng = rng
        self._tracking: set[str] = set()
        self.next_shipment_id = 1
        self.next_scan_id = 1

    def _tracking_number(self, carrier: str) -> str:
        rng = self._rng
        while True:
            if carrier == "UPS":
                number = "1Z" + "".join(rng.choices(_UPS_ALPHABET, k=6))
                number += f"{rng.randrange(10**10):010d}"
            elif carrier == "FedEx":
                number = f"{rng.randrange(10**12):012d}"
            elif carrier == "USPS":
                number = f"9400{rng.randrange(10**18):018d}"
            else:
                number = f"{rng.randrange(10**10):010d}"
            if number not in self._tracking:
                self._tracking.add(number)
                return number

    def build(
        self,
        *,
        order_id: int,
        plan: Plan,
        placed_at: datetime,
        now: datetime,
        origin: City,
        destination: City,
    ) -> tuple[Row, list[Row]]:
        """The shipment of a shipped order and the scans that happened by ``now``."""
        rng = self._rng
        ship_offset = plan.offset_of(OrderAction.SHIP)
        pickup_offset = plan.offset_of(OrderAction.MARK_IN_TRANSIT)
        delivered_offset = plan.offset_of(OrderAction.MARK_DELIVERED)
        if ship_offset is None or pickup_offset is None or delivered_offset is None:
            raise ValueError("only orders planned to be delivered are shipped")
        shipped = placed_at + timedelta(seconds=ship_offset)
        pickup = placed_at + timedelta(seconds=pickup_offset)
        delivered = placed_at + timedelta(seconds=delivered_offset)
        window = delivered_offset - pickup_offset

        carrier = rng.choices(CARRIERS, _CARRIER_WEIGHTS, k=1)[0]
        hub = rng.choice(HUBS[carrier])

        def at(fraction: float) -> datetime:
            return pickup + timedelta(seconds=int(window * fraction))

        scans: list[tuple[datetime, str, str, str]] = [
            (shipped, "LABEL_CREATED", origin.label, f"Label created; {carrier} awaits the item"),
            (pickup, "PICKED_UP", origin.label, f"Picked up by {carrier}"),
        ]
        route = (
            (f"Departed {carrier} facility", origin.label),
            (f"Arrived at {carrier} hub", hub),
            (f"Departed {carrier} hub", hub),
            ("Arrived at local delivery facility", destination.label),
        )
        # Attempts need a day of the window, so the journey before them is shorter.
        upper = 0.45 if plan.delivery_attempted else 0.65
        legs = sorted(rng.sample(range(len(route)), rng.randint(1, len(route))))
        fractions = sorted(rng.uniform(0.05, upper) for _ in legs)
        for leg, fraction in zip(legs, fractions, strict=True):
            message, location = route[leg]
            scans.append((at(fraction), "IN_TRANSIT", location, message))
        if plan.delayed:
            fraction = rng.uniform(upper + 0.03, upper + 0.1)
            scans.append((at(fraction), "DELAYED", hub, rng.choice(_DELAYS)))
        if plan.delivery_attempted:
            scans.append((at(0.62), "OUT_FOR_DELIVERY", destination.label, "Out for delivery"))
            scans.append(
                (
                    at(0.66),
                    "DELIVERY_ATTEMPTED",
                    destination.label,
                    "Delivery attempted; no secure location. We will try again tomorrow",
                )
            )
        out_for_delivery = delivered - timedelta(seconds=rng.randint(HOUR, 5 * HOUR))
        scans.append((out_for_delivery, "OUT_FOR_DELIVERY", destination.label, "Out for delivery"))
        scans.append((delivered, "DELIVERED", destination.label, rng.choice(_DELIVERED)))

        shipment_id = self.next_shipment_id
        self.next_shipment_id += 1
        scan_rows: list[Row] = []
        for happened_at, kind, location, message in scans:
            # Scans after now have not happened yet; the order's status agrees,
            # since both come from the same plan cut at the same instant.
            if happened_at > now:
                break
            scan_rows.append(
                {
                    "id": self.next_scan_id,
                    "shipment_id": shipment_id,
                    "kind": kind,
                    "location": location,
                    "message": message,
                    "happened_at": happened_at,
                    # As a carrier's webhook on time would have: the seed is
                    # repeatable for a given seed and now.
                    "recorded_at": happened_at,
                }
            )
            self.next_scan_id += 1

        estimate = delivered - timedelta(days=1) if plan.delayed else delivered
        shipment: Row = {
            "id": shipment_id,
            "order_id": order_id,
            "carrier": carrier,
            "tracking_number": self._tracking_number(carrier),
            "shipped_at": shipped,
            "delivered_at": delivered if delivered <= now else None,
            "estimated_delivery": estimate.replace(hour=20, minute=0, second=0, microsecond=0),
        }
        return shipment, scan_rows
