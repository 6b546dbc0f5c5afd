"""Append-only audit trail of who did what (decisions, bank changes, tokens, sign-ins)."""

from crossmatch.audit.service import AuditLog

__all__ = ["AuditLog"]
