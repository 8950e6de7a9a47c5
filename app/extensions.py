"""The extension instances, created without an app; `create_app` binds them."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names, so Alembic migrations name (and can drop) every constraint.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Objects stay usable after a commit: a request reads the account, then writes, then answers.
db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
csrf = CSRFProtect()
# Limits and their headers are in app/ratelimits.py (flask-limiter's own headers would put a
# Retry-After on every response, even over a 503's). If Redis fails, counting falls back to
# per-process memory instead of failing the request.
limiter = Limiter(
    key_func=get_remote_address,
    key_prefix="pulse-leads",
    headers_enabled=False,
    in_memory_fallback_enabled=True,
)
