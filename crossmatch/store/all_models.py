"""Imports every area's models so Alembic autogenerate sees all tables.

Each area adds one import line here when it adds tables.
"""

from crossmatch.store import models  # noqa: F401
from crossmatch.review import models as review_models  # noqa: F401
from crossmatch.exchange import models as exchange_models  # noqa: F401
from crossmatch.auth import models as auth_models  # noqa: F401
from crossmatch.audit import models as audit_models  # noqa: F401
from crossmatch.actions import models as actions_models  # noqa: F401
from crossmatch.api import submissions as submission_models  # noqa: F401
from crossmatch.outlets import models as outlet_models  # noqa: F401
from crossmatch.flood import models as flood_models  # noqa: F401
from crossmatch.scale import models as scale_models  # noqa: F401
