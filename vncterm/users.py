"""The record of one VeNCrypt Plain user (RFB spec section 7.2.6, the Plain sub-type): a leaf
shared by the configuration, which holds the users table, and the RFB core, which checks it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PlainUser:
    """One line of the ``--plain-users`` file."""

    name: str
    password_hash: str
    view_only: bool = False
