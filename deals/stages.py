"""allauth's login stages, adapted (deals.adapters.AccountAdapter.get_login_stages names
them). A module of its own: allauth's stages module cannot be imported while allauth is
still loading, which is when deals/apps.py imports the adapter."""

from allauth.account import app_settings as account_settings
from allauth.account.stages import EmailVerificationStage

from .adapters import awaits_verification


class SignUpVerificationStage(EmailVerificationStage):
    """ACCOUNT_EMAIL_VERIFICATION is "mandatory" so that a sign-up answers the same for a
    new address and for one that has an account (allauth prevents enumeration at sign-up
    only then): a new account is usable once its address is verified. Signing in asks for
    verification only from such an account; other accounts sign in as they always did."""

    def handle(self):
        login = self.login
        if not login.signup and login.user is not None and not awaits_verification(login.user):
            login.email_verification = account_settings.EmailVerificationMethod.OPTIONAL
        return super().handle()
