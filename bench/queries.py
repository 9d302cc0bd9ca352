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

# Order detail by number: everything the order screen shows.
ORDER_DETAIL = """
query OrderDetail($number: String!) {
  viewer {
    order(number: $number) {
      id number status tab paymentStatus version cancelReason placedAt updatedAt availableActions
      subtotal { amount currencyCode }
      shippingFee { amount currencyCode }
      tax { amount currencyCode }
      total { amount currencyCode }
      shippingAddress { name line1 line2 city region postalCode countryCode phone }
      shop { id handle name }
      items { id title quantity sourceVideoId unitPrice { amount currencyCode }
              total { amount currencyCode }
              product { id title imageUrl price { amount currencyCode } shop { id name } } }
      payments { id status createdAt amount { amount currencyCode } method { brand last4 } }
      shipment { carrier trackingNumber shippedAt deliveredAt estimatedDelivery
                 events { kind location message happenedAt } }
      timeline { id cursor fromStatus toStatus orderVersion actor note occurredAt }
    }
  }
}
"""

# The activity screens in one document: the selections of the web app's Wallet, Payments,
# Tagged and RecentlyViewed documents (examples/*.graphql), ten of each list.
ACTIVITY = """
query Activity($first: Int = 10) {
  viewer {
    paymentMethods { id brand last4 expMonth expYear isDefault }
    payments(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id status createdAt amount { amount currencyCode } method { brand last4 }
                     order { id number } } }
    }
    taggedItems(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { id taggedAt sourceVideoId
                     product { id title category price { amount currencyCode } shop { name } } } }
    }
    recentlyViewed(first: $first) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { viewedAt
                     product { id title category price { amount currencyCode } shop { name } } } }
    }
  }
}
"""

PLACE_ORDER = """
mutation PlaceOrder($input: PlaceOrderInput!) {
  placeOrder(input: $input) {
    order { id number status total { amount currencyCode } }
    userErrors { field code message }
  }
}
"""

PAY_ORDER = """
mutation PayOrder($input: PayOrderInput!) {
  payOrder(input: $input) {
    order { id status paymentStatus }
    userErrors { field code message }
  }
}
"""
