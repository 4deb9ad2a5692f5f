"""What every command shares: exit codes, the usage error, the process' store and who acts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.errors import FlowbridgeError
from app.services.access import Principal

if TYPE_CHECKING:
    from app.composition import Flowbridge
    from app.store.database import Store
    from nodes.base import NodeTypes

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DRY = "dry run: nothing was written"


class UsageError(FlowbridgeError):
    """The command line asks for something that cannot be (exit 2)."""


def the_root() -> Flowbridge:
    """This command's composition root (app/composition.py): its store and node types. Imported
    late: `flowbridge --help` needs no SQLAlchemy."""
    from app.composition import Flowbridge, Settings

    return Flowbridge(Settings.from_environment())


def the_node_types() -> NodeTypes:
    """The node types this command's flows may use (its root's)."""
    return the_root().node_types


def the_store() -> Store:
    """The store of this command's process, for commands that run no flow."""
    return the_root().store


def admin() -> Principal:
    """The command line acts as this machine's admin (see access.machine_admin)."""
    from app.services.access import machine_admin

    return machine_admin()
