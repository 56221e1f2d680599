"""Stage 5: everything the sections read, prepared once.

The audit context, the typed section options, the one place labels are encoded and sensitive
features are resolved, and the count-table path for logs reduced out of core.
"""
