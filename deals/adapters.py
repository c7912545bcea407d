"""allauth, adapted to Tandem."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter

from .security import client_ip


class AccountAdapter(DefaultAccountAdapter):
    def get_client_ip(self, request) -> str:
        """The address allauth's rate limits (sign-in, sign-up, password reset) count by:
        ours, which believes X-Forwarded-For only from TRUSTED_PROXIES. allauth's own
        reading trusts a number of hops (ALLAUTH_TRUSTED_PROXY_COUNT), not addresses."""
        return client_ip(request) or super().get_client_ip(request)
