"""The GraphQL surface: Strawberry types that turn rows into API objects."""
