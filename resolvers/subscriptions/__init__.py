"""Live order-status changes: one hub per process fans committed events out."""
