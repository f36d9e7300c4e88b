"""All settings, read from the environment in this package only, one module per area. Every variable is listed in
docs/configuration.md."""

from .environment import *  # noqa: F403
from .media import *  # noqa: F403
from .security import *  # noqa: F403
from .services import *  # noqa: F403
from .web import *  # noqa: F403
