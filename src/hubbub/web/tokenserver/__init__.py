"""The token endpoint: ``POST /login``, ``POST /logout``, ``GET|POST /token``.

``create_app`` puts the bare-ASGI ``TokenServer`` in front of the REST app for those three
paths; ``token_app`` gives it alone, to mount in an existing Starlette or FastAPI app. The
modules: ``settings`` (what ``hubbub serve`` configures), ``minting`` (the service, key and
roles tokens are minted with), ``asgi`` (request and response plumbing),
``server`` (the endpoints) and ``wiring`` (putting it in an app).
"""

from hubbub.web.tokenserver.asgi import REFUSED, get_route_path
from hubbub.web.tokenserver.minting import RoleKeeper, resolve_minting
from hubbub.web.tokenserver.server import PATHS, TokenServer
from hubbub.web.tokenserver.settings import (
    AUTHENTICATORS,
    TokenSettings,
)
from hubbub.web.tokenserver.wiring import FrontedStarlette, token_app

__all__ = [
    "AUTHENTICATORS",
    "PATHS",
    "REFUSED",
    "FrontedStarlette",
    "RoleKeeper",
    "TokenServer",
    "TokenSettings",
    "get_route_path",
    "resolve_minting",
    "token_app",
]
