"""Caller authentication in Entra mode: access token validation, the caller of a request, access levels."""
from .authorizer import Access, authorize, is_admin
from .caller import acting_as, current
from .principal import Principal
from .tokens import TokenValidator

__all__ = ["Access", "Principal", "TokenValidator", "acting_as", "authorize", "current", "is_admin"]
