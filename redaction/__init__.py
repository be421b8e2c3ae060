"""Redaction: secrets are removed from every collected byte before it is written."""

from redaction.config import RedactionConfig, RuleError, parse_config
from redaction.engine import RedactionStream, Redactor

__all__ = ["RedactionConfig", "RedactionStream", "Redactor", "RuleError", "parse_config"]
