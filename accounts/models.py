from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models


class User(AbstractUser):
    """A person or service account; belongs to tenants through memberships."""


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
    "Use 1-63 lowercase letters, digits and inner hyphens.",
    code="invalid_slug",
)


class ScanPolicy(models.TextChoices):
    BLOCK = "block", "Block flagged files"
    WARN = "warn", "Warn: flagged files stay downloadable"


class PickleAllowlist(models.TextChoices):
    """Named allowlists of pickle globals (scanning.scanners.pickle_policy.NAMED_ALLOWLISTS)."""

    NONE = "", "None: plain data, NumPy, PyTorch and joblib arrays only"
    SKLEARN = "sklearn", "Also scikit-learn, XGBoost and LightGBM model classes"


# New tenants take the operator's defaults at creation time (callables keep the values out of
# migrations, so changing the environment needs no migration).
def default_scan_policy() -> str:
    return settings.DEFAULT_SCAN_POLICY


def default_quota_bytes() -> int:
    return settings.REGISTRY_DEFAULT_QUOTA_BYTES


def default_quota_files() -> int:
    return settings.REGISTRY_DEFAULT_QUOTA_FILES


class Tenant(models.Model):
    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    organization = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    is_default = models.BooleanField(default=False, editable=False)
    scan_policy = models.CharField(
        max_length=8, choices=ScanPolicy.choices, default=default_scan_policy
    )
    scan_pickle_allowlist = models.CharField(
        max_length=16, choices=PickleAllowlist.choices, default=PickleAllowlist.NONE, blank=True,
        help_text="Pickle globals the scanner allows beyond the default: an opt-in for tenants "
        "whose models are pickled estimators. Applies to scans from then on (rescan to apply "
        "it to stored files).",
    )
    allow_anonymous_read = models.BooleanField(
        default=False, help_text="Anonymous callers may read this tenant's public objects."
    )
    quota_bytes = models.BigIntegerField(default=default_quota_bytes)
    quota_files = models.PositiveIntegerField(default=default_quota_files)
    trash_enabled = models.BooleanField(
        default=True, help_text="Deleted versions and files go to the trash, restorable by the "
        "tenant's admins until purged; off: deleted at once.")
    trash_restore_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days a trashed version or file stays restorable before it is purged (1-365).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True),
                name="one_default_tenant",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MAINTAINER = "maintainer", "Maintainer"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_tenant"),
        ]
        indexes = [models.Index(fields=["tenant", "role"])]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"


class TenantGroup(models.Model):
    """A Django auth group that belongs to one tenant; objects are shared with groups."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="groups")
    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE,
                                 related_name="tenant_group")
    name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="group_name_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"


class LoginSession(models.Model):
    """One login: an access token and a refresh token, issued and rotated together.

    Only sha256 hashes of the tokens are stored; `lookup` (also inside both tokens) finds the
    row. `credential_hash` is the user's session auth hash at login: a password change makes
    it differ, and the tokens stop working.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="login_sessions")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    lookup = models.CharField(max_length=16, unique=True)
    access_hash = models.CharField(max_length=64)
    refresh_hash = models.CharField(max_length=64)
    credential_hash = models.CharField(max_length=128)
    access_expires_at = models.DateTimeField()
    refresh_expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} (until {self.refresh_expires_at:%Y-%m-%d %H:%M})"


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"
    ADMIN = "admin", "Everything the user's role allows, including tokens and members"


class ApiToken(models.Model):
    """A long-lived token for CI pipelines and devices, bound to one user in one tenant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    lookup = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "user"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"
