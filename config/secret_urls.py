"""URLs that carry a secret: the one list, and `redact`, which keeps those secrets out of
logs and error reports.

A URL with a secret in it is a password: whoever reads it in a log (ours, the proxy's, a
log shipper's) can open the room, accept the invitation or reset the password. So every
log record goes through `redact` (config/logging.py), error reports too, and the proxy logs
a redacted request line (deploy/nginx.conf mirrors SECRET_PATHS; a test keeps them equal).
Other sites never see these URLs: the Referrer-Policy is `same-origin`
(SECURE_REFERRER_POLICY), and a same-origin Referer is redacted in our logs like the rest.

Adding a URL that carries a secret: add its prefix to SECRET_PATHS (the secret is the path
segment right after it), or its query parameter's name to SECRET_QUERY_PARAMETERS, and
the same prefix to deploy/nginx.conf's map; tests/test_secret_urls.py then checks it.
"""

import re

SECRET_PATHS = [
    "/r/",  # buyers' room links, and their /r/<token>/request/ and /r/<token>/act/… paths
    "/s/",  # one resource shared by link (plans/room_materials.py share_link)
    "/cal/",  # calendar feeds (plans/calendars.py)
    "/invite/",  # invitations to join a workspace
    "/u/",  # unsubscribe and preference links in emails
    "/accounts/password/reset/key/",  # allauth: <uidb36>-<key>, then <uidb36>-set-password
    "/accounts/confirm-email/",  # allauth: email confirmation keys
]

# A query parameter whose name contains one of these words carries a secret (`?token=`,
# `?api_key=`, `?code=`…); its value is redacted wherever it appears.
SECRET_QUERY_PARAMETERS = ["token", "key", "code", "secret", "password", "signature"]

REDACTED = "[redacted]"

# A slash, also percent-encoded: a secret URL travels inside another one (`?next=…`).
_SLASH = r"(?:/|%2[Ff])"
# The secret: one path segment, up to the next (possibly encoded) slash, query or space.
_SEGMENT = r"(?:(?!%2[Ff])[^/?#&\s\"'<>\\])+"
_PATH = re.compile(
    "(?P<prefix>"
    + "|".join(
        _SLASH + _SLASH.join(re.escape(part) for part in prefix.strip("/").split("/")) + _SLASH
        for prefix in SECRET_PATHS
    )
    + ")(?P<secret>"
    + _SEGMENT
    + ")"
)
_QUERY = re.compile(
    r"(?P<prefix>(?:[?&;]|%3[Ff]|%26)[\w.\-\[\]]*(?:"
    + "|".join(re.escape(word) for word in SECRET_QUERY_PARAMETERS)
    + r")[\w.\-\[\]]*(?:=|%3[Dd]))(?P<secret>(?:(?!%26|%23)[^&\s#\"'<>;])+)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every secret of a URL in it replaced by "[redacted]"."""
    text = _PATH.sub(lambda m: m["prefix"] + REDACTED, text)
    return _QUERY.sub(lambda m: m["prefix"] + REDACTED, text)


def secrets_in(text: str) -> list[str]:
    """The secrets that `redact` would remove from `text` (longest first)."""
    found = {m["secret"] for pattern in (_PATH, _QUERY) for m in pattern.finditer(text)}
    return sorted(found - {REDACTED}, key=len, reverse=True)


def has_secret(text: str) -> bool:
    return redact(text) != text
