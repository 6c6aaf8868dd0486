"""Exceptions of the association package."""

from __future__ import annotations

__all__ = ["AssociationError", "AssociationNotAConstraint", "AssociationNotValidError"]


class AssociationError(Exception):
    """Any problem with associations, pools or rules."""


class AssociationNotAConstraint(AssociationError, KeyError):
    """A named constraint was asked for that the rule does not have.

    Also a `KeyError`, since constraints are looked up by name like dict keys.
    """

    def __str__(self):
        # KeyError would quote the message; show it as written.
        return str(self.args[0]) if self.args else ""


class AssociationNotValidError(AssociationError):
    """A structure is not a valid association (schema or validity tests)."""
