"""Logging set-up of the association commands (asn_generate, asn_from_list)."""

from __future__ import annotations

import contextlib
import logging
import sys

LOGGER_NAME = "photoncal.associations"
DMS_FORMAT = "%(asctime)s:%(name)s:%(levelname)s:%(message)s"
PLAIN_FORMAT = "%(name)s: %(levelname)s: %(message)s"


@contextlib.contextmanager
def command_logging(level=logging.WARNING, dms=False):
    """Send the association package's log to stderr for the duration of a command."""
    logger = logging.getLogger(LOGGER_NAME)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(DMS_FORMAT if dms else PLAIN_FORMAT))
    previous_level, previous_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)
        logger.propagate = previous_propagate
