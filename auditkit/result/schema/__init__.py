"""The JSON Schema of audit results (``audit_result.v1.json``), shipped as package data."""
