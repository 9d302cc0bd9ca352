"""Every table of the Order Center, importable from one place.

Tables carry no ORM relationships on purpose: relations are resolved by
per-request batched loaders, so nothing lazy-loads behind a resolver's back.
"""

from sqlmodel import SQLModel

from db.models.activity import ProductView, Recommendation, RecommendationRequest, TaggedItem
from db.models.catalog import Product, Shop, User
from db.models.idempotency import IdempotencyKey
from db.models.orders import Order, OrderEvent, OrderItem, Shipment, ShipmentEvent
from db.models.payments import Payment, PaymentMethod
from db.models.returns import OrderReturn, ReturnLine
from db.models.reviews import Review
from db.models.webhooks import CarrierDelivery

metadata = SQLModel.metadata

__all__ = [
    "CarrierDelivery",
    "IdempotencyKey",
    "Order",
    "OrderEvent",
    "OrderItem",
    "OrderReturn",
    "Payment",
    "PaymentMethod",
    "Product",
    "ProductView",
    "Recommendation",
    "RecommendationRequest",
    "ReturnLine",
    "Review",
    "Shipment",
    "ShipmentEvent",
    "Shop",
    "TaggedItem",
    "User",
    "metadata",
]
