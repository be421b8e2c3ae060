"""casepack: collect, redact and bundle what a software vendor's support needs."""

__version__ = "0.1.0"
