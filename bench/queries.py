"""Operations the benchmarks and the statement-count test share."""

ORDER_CENTER_PAGE = """
query OrderCenter($first: Int!) {
  viewer {
    handle
    displayName
    orderTabs { tab count }
    orders(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        cursor
        node {
          id number status tab paymentStatus version placedAt availableActions
          total { amount currencyCode }
          shop { id name }
          items { id title quantity unitPrice { amount currencyCode }
                  product { id title viewerHasTagged shop { name } } }
          payments { id status amount { amount } method { last4 } }
          shipment { carrier trackingNumber events { kind happenedAt location } }
          timeline { id cursor fromStatus toStatus orderVersion actor occurredAt }
        }
      }
    }
    recommendations(first: 10) {
      edges { node { id score reason product { id title imageUrl price { amount currencyCode } }
                     basedOn { id title } } }
    }
  }
}
"""
