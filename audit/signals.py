"""Logins and refused logins, from Django's own signals: every authentication path sends them."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from audit import services


@receiver(user_logged_in, dispatch_uid="audit-login")
def login_recorded(sender, user, **kwargs) -> None:
    services.record(action="login", user=user, obj=user, object_name=user.username)


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def login_failure_recorded(sender, credentials, **kwargs) -> None:
    # Django has already masked the password in `credentials`.
    services.record(action="login.refused", object_kind="User",
                    object_name=str(credentials.get("username", ""))[:300])
