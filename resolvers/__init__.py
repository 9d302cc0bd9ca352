"""Everything that resolves data: loaders, pagination and the use-cases behind the API.

Returns table rows and raises domain errors; knows nothing of Strawberry types.
"""
