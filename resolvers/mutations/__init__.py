"""The use-cases behind mutations: each one transaction, refusals as typed user errors."""
