"""Imports every table module so Base.metadata is complete (Alembic, test fixtures)."""
from erma.admin import models as _admin  # noqa: F401
from erma.calendar import models as _calendar  # noqa: F401
from erma.cases import models as _cases  # noqa: F401
from erma.catalog import models as _catalog  # noqa: F401
from erma.channels.wechat import models as _wechat  # noqa: F401
from erma.conversations import models as _conversations  # noqa: F401
from erma.dashboard import models as _dashboard  # noqa: F401
from erma.deferral import models as _deferral  # noqa: F401
from erma.followup import models as _followup  # noqa: F401
from erma.outbox import models as _outbox  # noqa: F401
from erma.pii_refs import models as _pii_refs  # noqa: F401
from erma.places import models as _places  # noqa: F401
from erma.pushes import models as _pushes  # noqa: F401
from erma.review import models as _review  # noqa: F401
from erma.staff import models as _staff  # noqa: F401
from erma.status import models as _status  # noqa: F401
from erma.db import Base

metadata = Base.metadata
